"""The operator console: server-rendered pages under /ui/ (Jinja2 + vendored htmx) over the same
query modules as the JSON API, with token sign-in, session cookies and CSRF-checked actions."""

from runtime.console.auth import Access
from runtime.console.pages import console_handlers

__all__ = ["Access", "console_handlers"]
