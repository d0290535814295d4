"""The operator CLI's client of a running service's `/api`: its address and admin token in one place."""

from __future__ import annotations

import httpx

from runtime.app import persistent_secret
from runtime.settings import Settings


def service_url(settings: Settings, url: str | None = None) -> str:
    return (url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")


def admin_client(settings: Settings, url: str | None = None) -> httpx.Client:
    """An HTTP client of the service with the admin bearer token (ADMIN_API_TOKEN, else DATA_DIR's)."""
    token = settings.secret("admin_api_token") or persistent_secret(settings.data_dir, "admin_token")
    return httpx.Client(base_url=service_url(settings, url), headers={"Authorization": f"Bearer {token}"},
                        timeout=15, trust_env=False)
