"""The Slack port (`SlackApi`), its slack-sdk adapter, and the recruiter directory cache.

Failures are classified for the runtime: 429 / `ratelimited`, 5xx and network errors are
`SlackUnavailable` (a `TransientError` carrying Retry-After); other Slack errors are permanent.
The bot token never appears in an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from contracts.errors import PermanentError, TransientError

_TRANSIENT_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error",
                               "service_unavailable", "request_timeout"})


@dataclass(frozen=True, slots=True)
class PostedMessage:
    channel: str
    ts: str


@dataclass(frozen=True, slots=True)
class BotIdentity:
    team_id: str | None
    user_id: str | None
    bot_id: str | None


class SlackUnavailable(TransientError):
    """Slack cannot take the call now; `retry_after` (seconds) is Slack's hint when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlackRejected(PermanentError):
    """Slack refused the call for a reason retrying cannot fix; `error` is Slack's error code."""

    def __init__(self, message: str, *, error: str) -> None:
        super().__init__(message)
        self.error = error


class SlackApi(Protocol):
    async def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> PostedMessage: ...

    async def history(self, channel: str, *, limit: int) -> list[dict[str, Any]]: ...

    async def update_message(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None: ...

    async def post_ephemeral(self, channel: str, user_id: str, text: str) -> None: ...

    async def lookup_user_by_email(self, email: str) -> str | None: ...

    async def open_dm(self, user_id: str) -> str: ...

    async def auth_test(self) -> BotIdentity: ...


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name in ("Retry-After", "retry-after"):
        raw = headers.get(name)
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        if raw is not None:
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def classify(method: str, exc: Exception) -> Exception:
    """The error to raise for a failed Slack call: transient or permanent, never with the token."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
        data = getattr(response, "data", None)
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, str) and len(error) < 80 else "unexpected_response"
        if status == 429 or error in _TRANSIENT_ERRORS:
            return SlackUnavailable(f"slack {method}: {error} (HTTP {status})",
                                    retry_after=_retry_after(getattr(response, "headers", None)))
        if status >= 500:
            return SlackUnavailable(f"slack {method}: HTTP {status}")
        return SlackRejected(f"slack {method}: {error} (HTTP {status})", error=error)
    if isinstance(exc, (OSError, HTTPException)):  # URLError, timeouts, refused and reset connections
        return SlackUnavailable(f"slack {method}: network error ({type(exc).__name__})")
    if isinstance(exc, SlackClientError):
        return PermanentError(f"slack {method}: client error ({type(exc).__name__})")
    return exc


class SlackWebAdapter:
    """`SlackApi` over slack-sdk's `WebClient`, each call run in a worker thread.

    slack-sdk's `AsyncWebClient` needs aiohttp, which this project does not install; the sync
    client uses only the standard library. Retries are the runtime's job (one place, with
    backoff), so the client's own retry handlers are switched off.
    """

    def __init__(self, token: str, *, base_url: str = "https://slack.com/api/", timeout: float = 10.0) -> None:
        self._client = WebClient(token=token, base_url=base_url, timeout=int(max(1, timeout)),
                                 retry_handlers=[])

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        fn = getattr(self._client, method.replace(".", "_"))
        try:
            response = await asyncio.to_thread(fn, **kwargs)
        except Exception as exc:
            mapped = classify(method, exc)
            if mapped is exc:
                raise
            raise mapped from exc
        return response.data if isinstance(response.data, dict) else {}

    async def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> PostedMessage:
        data = await self._call("chat.postMessage", channel=channel, text=text, blocks=blocks,
                                unfurl_links=False, unfurl_media=False, metadata=metadata)
        return PostedMessage(channel=str(data.get("channel") or channel), ts=str(data["ts"]))

    async def history(self, channel: str, *, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` messages of a channel with their metadata (needs `*:history`)."""
        data = await self._call("conversations.history", channel=channel, limit=limit, include_all_metadata=True)
        messages = data.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    async def update_message(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    async def post_ephemeral(self, channel: str, user_id: str, text: str) -> None:
        await self._call("chat.postEphemeral", channel=channel, user=user_id, text=text)

    async def lookup_user_by_email(self, email: str) -> str | None:
        try:
            data = await self._call("users.lookupByEmail", email=email)
        except SlackRejected as exc:
            if exc.error == "users_not_found":
                return None
            raise
        user = data.get("user") or {}
        return user.get("id")

    async def open_dm(self, user_id: str) -> str:
        data = await self._call("conversations.open", users=user_id)
        return str((data.get("channel") or {})["id"])

    async def auth_test(self) -> BotIdentity:
        data = await self._call("auth.test")
        return BotIdentity(team_id=data.get("team_id"), user_id=data.get("user_id"), bot_id=data.get("bot_id"))


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a recruiter's proposal goes: their DM, or the fallback channel (user_id None)."""

    channel: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class _Cached:
    recipient: Recipient
    expires_at: float


def email_key(email: str) -> str:
    """The cache key for an email: a digest, so the address itself is not kept or logged."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class RecruiterDirectory:
    """Resolves a recruiter's email to a Slack DM, cached in memory for `ttl_s` (time is passed in).

    Not-found answers are cached for the shorter `negative_ttl_s`, so a recruiter who joins Slack
    is picked up soon. Transient Slack failures propagate and are not cached.
    """

    def __init__(self, api: SlackApi, *, fallback_channel: str, ttl_s: float = 3600.0,
                 negative_ttl_s: float = 300.0) -> None:
        self._api = api
        self._fallback = Recipient(channel=fallback_channel, user_id=None)
        self._ttl_s = ttl_s
        self._negative_ttl_s = negative_ttl_s
        self._cache: dict[str, _Cached] = {}

    async def resolve(self, email: str | None, now: float) -> Recipient:
        if not email or "@" not in email:
            return self._fallback
        key = email_key(email)
        hit = self._cache.get(key)
        if hit is not None and hit.expires_at > now:
            return hit.recipient
        user_id = await self._api.lookup_user_by_email(email.strip())
        if user_id is None:
            recipient, ttl = self._fallback, self._negative_ttl_s
        else:
            recipient, ttl = Recipient(channel=await self._api.open_dm(user_id), user_id=user_id), self._ttl_s
        self._cache[key] = _Cached(recipient, now + ttl)
        return recipient

    def forget(self, email: str) -> None:
        self._cache.pop(email_key(email), None)
