"""The operator CLI's client of a running service's `/api`: its address and admin token in one place."""

from __future__ import annotations

import httpx

from runtime.settings import Settings


def admin_token(settings: Settings) -> tuple[str | None, str]:
    """The service's admin token and where it was read: ADMIN_API_TOKEN first, else DATA_DIR/admin_token
    (read only: a token made up here could never be the running service's)."""
    if token := settings.secret("admin_api_token"):
        return token, "ADMIN_API_TOKEN"
    path = settings.data_dir.resolve() / "admin_token"
    try:
        return path.read_text().strip() or None, str(path)
    except FileNotFoundError:
        return None, str(path)


def service_url(settings: Settings, url: str | None = None) -> str:
    return (url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")


def admin_client(settings: Settings, url: str | None = None) -> httpx.Client:
    """An HTTP client of the service with the admin bearer token (`admin_token`; none when there is none,
    so the service answers 401 and the command says which token it needs)."""
    token, _ = admin_token(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=service_url(settings, url), headers=headers, timeout=15, trust_env=False)
