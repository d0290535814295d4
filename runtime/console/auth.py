"""Who is asking: a bearer token (scripts) or the console's session cookie, each mapping to a role
(`admin` or `viewer`); signed, expiring sessions and the CSRF token every console form carries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

Role = Literal["admin", "viewer"]
SESSION_COOKIE = "aa_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    session: str | None = None  # the cookie value; None for a bearer token (no CSRF needed)

    @property
    def admin(self) -> bool:
        return self.role == "admin"


class Access:
    """The two tokens and the session key derived from them: changing a token ends every session."""

    def __init__(self, admin_token: str, viewer_token: str | None, session_ttl_s: float) -> None:
        self._tokens: list[tuple[bytes, Role]] = [(admin_token.encode(), "admin")]
        if viewer_token:
            self._tokens.append((viewer_token.encode(), "viewer"))
        self._key = hashlib.sha256(b"autoadvance-console\0" + admin_token.encode() + b"\0"
                                   + (viewer_token or "").encode()).digest()
        self.ttl_s = session_ttl_s

    def role_of_token(self, token: str) -> Role | None:
        given = token.encode()
        role: Role | None = None
        for expected, name in self._tokens:  # compare against every token: timing says nothing about which
            if hmac.compare_digest(given, expected):
                role = name
        return role

    def _sign(self, text: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode().rstrip("=")

    def new_session(self, role: Role, now: float | None = None) -> str:
        body = f"{role}.{int((now if now is not None else time.time()) + self.ttl_s)}"
        return f"{body}.{self._sign(body)}"

    def session_role(self, value: str, now: float | None = None) -> Role | None:
        body, _, signature = value.rpartition(".")
        role, _, expires = body.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(body)) or role not in ("admin", "viewer"):
            return None
        if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
            return None
        return role  # type: ignore[return-value]

    def csrf_token(self, session: str) -> str:
        return self._sign("csrf:" + session)

    def principal(self, connection: ASGIConnection) -> Principal | None:
        header = connection.headers.get("authorization", "")
        if header.startswith("Bearer "):
            role = self.role_of_token(header[len("Bearer "):])
            return Principal(role) if role else None
        cookie = connection.cookies.get(SESSION_COOKIE)
        if cookie:
            role = self.session_role(cookie)
            if role:
                return Principal(role, cookie)
        return None

    def csrf_ok(self, principal: Principal, given: str | None) -> bool:
        """A session must echo its CSRF token on every state change; a bearer token is not ambient
        (a browser never sends it by itself), so it needs none."""
        if principal.session is None:
            return True
        return bool(given) and hmac.compare_digest(str(given), self.csrf_token(principal.session))

    def api_guard(self, admin_guard: Callable[[ASGIConnection, BaseRouteHandler], None]
                  ) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
        """The JSON API's guard: the viewer token reads (GET, HEAD), and is refused with 403 on
        anything else; every other request is the admin guard's to judge."""
        def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
            header = connection.headers.get("authorization", "")
            if header.startswith("Bearer ") and self.role_of_token(header[len("Bearer "):]) == "viewer":
                if connection.scope.get("method") in ("GET", "HEAD"):
                    return
                raise PermissionDeniedException("the viewer token is read-only; this needs ADMIN_API_TOKEN")
            admin_guard(connection, handler)

        return guard


def behind_tls(connection: ASGIConnection) -> bool:
    return connection.url.scheme == "https" or connection.headers.get("x-forwarded-proto", "") == "https"
