"""A fake Slack Web API served over real HTTP, and signed button clicks back to our endpoint.

slack-sdk talks to it through `base_url` (`http://host:port/api/`). Every call, message, update
and ephemeral is kept in plain lists; `fail_next` injects failures. `/_sandbox/*` lets another
process read the messages and trigger clicks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson
from slack_sdk.signature import SignatureVerifier

from sandbox._server import AsgiServer, read_body, send_response

DEFAULT_TOKEN = "xoxb-sandbox-bot-token"
DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"
TEAM_ID, BOT_USER_ID, BOT_ID = "T0SANDBOX", "U0AUTOADV", "B0AUTOADV"
ACTION_IDS = {"archive": "autoadvance_archive", "keep": "autoadvance_keep",
              "undo": "autoadvance_undo_archive"}  # as notifier/message.py

Json = dict[str, Any]


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    times: int


def find_button(message: Json, action: str) -> Json:
    """The button for `action` ("archive" | "keep" | an action id) in a message's blocks, with its block id."""
    action_id = ACTION_IDS.get(action, action)
    for block in message.get("blocks") or []:
        for element in block.get("elements") or [] if block.get("type") == "actions" else []:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise LookupError(f"message {message.get('ts')} has no {action_id} button")


def block_actions_payload(message: Json, action: str, user_id: str, *, user_name: str | None = None,
                          response_url: str | None = None, action_ts: str | None = None) -> Json:
    """The `block_actions` interaction Slack sends when `user_id` presses the button in `message`."""
    button = find_button(message, action)
    action_ts = action_ts or f"{time.time():.6f}"
    return {
        "type": "block_actions", "api_app_id": "A0SANDBOX", "trigger_id": f"{action_ts}.sandbox",
        "team": {"id": TEAM_ID, "domain": "sandbox"},
        "user": {"id": user_id, "username": user_name or user_id, "name": user_name or user_id, "team_id": TEAM_ID},
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"],
                      "is_ephemeral": False},
        "channel": {"id": message["channel"], "name": message["channel"]},
        "message": {"type": "message", "ts": message["ts"], "text": message.get("text", ""),
                    "blocks": message.get("blocks") or [], "bot_id": BOT_ID, "user": BOT_USER_ID},
        "response_url": response_url or "https://hooks.slack.invalid/actions/sandbox",
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": button["block_id"],
                     "text": button.get("text"), "value": button.get("value"), "style": button.get("style"),
                     "action_ts": action_ts}],
    }


def signed_request(payload: Json, signing_secret: str, timestamp: int | str | None = None) -> tuple[bytes, dict[str, str]]:
    """(form body, headers) as Slack signs an interaction: `v0=` HMAC over `v0:<ts>:<body>`."""
    body = urlencode({"payload": orjson.dumps(payload).decode()}).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body) or ""
    return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                  "X-Slack-Signature": signature}


class SandboxSlack:
    """The fake: `start()` serves it on a free port and returns the Web API base URL."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, signing_secret: str = DEFAULT_SIGNING_SECRET) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.root_url = ""
        self.base_url = ""
        self.reset()
        self._server: AsgiServer | None = None

    def reset(self) -> None:
        """Forget every message, call, user and pending failure."""
        self.messages: list[Json] = []
        self.updates: list[Json] = []
        self.ephemerals: list[Json] = []
        self.responses: list[Json] = []
        self.calls: list[Json] = []
        self.users: dict[str, Json] = {}
        self._channels: dict[str, str] = {}
        self._dms: dict[str, str] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._seq = itertools.count(1)
        self._epoch = int(time.time())
        self.history_scopes = True
        """False: `conversations.history` answers `missing_scope` (a bot without `*:history`)."""
        self._late: dict[str, float] = {}
        self.in_flight = 0
        """Calls whose effect is stored while their answer is still held back (`answer_late`)."""

    # --- set-up -----------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str, name: str) -> Json:
        user = {"id": user_id, "team_id": TEAM_ID, "name": name.lower().replace(" ", "."), "real_name": name,
                "deleted": False, "is_bot": False,
                "profile": {"email": email, "real_name": name, "display_name": name}}
        self.users[user_id] = user
        return user

    def fail_next(self, method: str, error: str = "ratelimited", *, status: int | None = None, times: int = 1,
                  retry_after: int | None = 1) -> None:
        """The next `times` calls of `method` fail: `ratelimited` is HTTP 429, other errors HTTP 200."""
        code = status if status is not None else 429 if error == "ratelimited" else 200
        self._failures.setdefault(method, []).append(_Failure(error, code, retry_after, times))

    def answer_late(self, method: str, delay: float) -> None:
        """Every call of `method` takes effect at once and is answered `delay` seconds later (0: on
        time again), so a caller that dies meanwhile cannot know its message exists."""
        if delay > 0:
            self._late[method] = delay
        else:
            self._late.pop(method, None)

    def posts_of(self, command_id: str) -> list[Json]:
        """The messages posted for one command, by the command id in their metadata."""
        return [m for m in self.messages
                if ((m.get("metadata") or {}).get("event_payload") or {}).get("command_id") == command_id]

    def channel_id(self, name: str) -> str:
        """The id of a channel by name (`#name` or `name`), created on first use."""
        return self._channels.setdefault(name.lstrip("#"), f"C{len(self._channels) + 1:08d}")

    def dm_id(self, user_id: str) -> str:
        return self._dms.setdefault(user_id, f"D{len(self._dms) + 1:08d}")

    def current(self, channel: str, ts: str) -> Json | None:
        """A message as it reads now, after any updates."""
        found = next((m for m in self.messages if m["channel"] == channel and m["ts"] == ts), None)
        for update in self.updates:
            if found is not None and update["channel"] == channel and update["ts"] == ts:
                found = {**found, "text": update["text"], "blocks": update["blocks"]}
        return found

    # --- server -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = AsgiServer(self._asgi, "sandbox Slack")
        self.root_url = await self._server.start(host, port)
        self.base_url = f"{self.root_url}/api/"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def simulate_click(self, target_url: str, message: Json | str, action: str, user_id: str, *,
                             signing_secret: str | None = None, timestamp: int | str | None = None,
                             client: httpx.AsyncClient | None = None) -> httpx.Response:
        """POST a signed `block_actions` click on `message`'s button to `target_url`.

        A wrong `signing_secret` gives a bad signature; an old `timestamp` a stale request.
        """
        if isinstance(message, str):
            found = next((m for m in self.messages if m["ts"] == message), None)
            if found is None:
                raise LookupError(f"no message with ts {message}")
            message = found
        user = self.users.get(user_id, {})
        payload = block_actions_payload(message, action, user_id, user_name=user.get("name"),
                                        response_url=f"{self.root_url}/_sandbox/response/{message['ts']}")
        body, headers = signed_request(payload, signing_secret or self.signing_secret, timestamp)
        if client is not None:
            return await client.post(target_url, content=body, headers=headers)
        async with httpx.AsyncClient(timeout=10, trust_env=False) as own:
            return await own.post(target_url, content=body, headers=headers)

    # --- ASGI -------------------------------------------------------------------------------

    async def _asgi(self, scope: Json, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path, headers = scope["path"], {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        extra: dict[str, str] = {}
        if path.startswith("/api/"):
            params = _params(scope.get("query_string", b""), body)
            method = path[len("/api/"):]
            status, doc, extra = self._api(method, params, headers)
            if late := self._late.get(method):
                self.in_flight += 1
                try:
                    await asyncio.sleep(late)
                finally:
                    self.in_flight -= 1
        elif path.startswith("/_sandbox/"):
            status, doc = await self._control(scope["method"], path[len("/_sandbox/"):], body, headers)
        else:
            status, doc = 404, {"ok": False, "error": "unknown_method"}
        await send_response(send, status, doc, extra)

    def _api(self, method: str, params: Json, headers: dict[str, str]) -> tuple[int, Json | str, dict[str, str]]:
        self.calls.append({"method": method, "params": params})
        pending = self._failures.get(method)
        if pending:
            failure = pending[0]
            failure.times -= 1
            if failure.times <= 0:
                pending.pop(0)
            extra = {"Retry-After": str(failure.retry_after)} if failure.status == 429 and failure.retry_after else {}
            if failure.status >= 500:
                return failure.status, "upstream connect error", extra
            return failure.status, {"ok": False, "error": failure.error}, extra
        bearer = headers.get("authorization", "")
        token = bearer[len("Bearer "):] if bearer.startswith("Bearer ") else params.get("token")
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(params), {}

    def _resolve_channel(self, channel: str) -> str | None:
        if not channel.strip("#"):
            return None
        if channel in self.users:
            return self.dm_id(channel)
        if channel in self._dms.values() or channel in self._channels.values():
            return channel
        if channel[:1] in "CDG" and channel[1:].isalnum() and channel.upper() == channel:
            return None  # an id we never issued
        return self.channel_id(channel)

    def _chat_postMessage(self, p: Json) -> Json:
        channel = self._resolve_channel(str(p.get("channel") or ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = f"{self._epoch}.{next(self._seq):06d}"
        message = {"channel": channel, "ts": ts, "text": p.get("text") or "", "blocks": _blocks(p.get("blocks"))}
        if metadata := _metadata(p.get("metadata")):
            message["metadata"] = metadata
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts,
                "message": {**message, "type": "message", "bot_id": BOT_ID, "user": BOT_USER_ID}}

    def _chat_update(self, p: Json) -> Json:
        channel, ts = self._resolve_channel(str(p.get("channel") or "")), str(p.get("ts") or "")
        if not channel or self.current(channel, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        self.updates.append({"channel": channel, "ts": ts, "text": p.get("text") or "",
                             "blocks": _blocks(p.get("blocks"))})
        return {"ok": True, "channel": channel, "ts": ts, "text": p.get("text") or ""}

    def _chat_postEphemeral(self, p: Json) -> Json:
        channel = self._resolve_channel(str(p.get("channel") or ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if p.get("user") not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        ts = f"{self._epoch}.{next(self._seq):06d}"
        self.ephemerals.append({"channel": channel, "user": p["user"], "ts": ts, "text": p.get("text") or "",
                                "blocks": _blocks(p.get("blocks"))})
        return {"ok": True, "message_ts": ts}

    def _conversations_history(self, p: Json) -> Json:
        """Newest first, `limit` (default 100) messages; metadata only with `include_all_metadata`.
        Like Slack, it takes a channel id only (a `#name` is `channel_not_found`)."""
        if not self.history_scopes:
            return {"ok": False, "error": "missing_scope", "needed": "channels:history,groups:history,im:history",
                    "provided": "chat:write,im:write,users:read,users:read.email"}
        channel = str(p.get("channel") or "")
        if channel not in self._dms.values() and channel not in self._channels.values():
            return {"ok": False, "error": "channel_not_found"}
        try:
            limit = max(1, min(999, int(p.get("limit") or 100)))
        except ValueError:
            return {"ok": False, "error": "invalid_limit"}
        with_meta = str(p.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [self.current(m["channel"], m["ts"]) or m for m in reversed(self.messages) if m["channel"] == channel]
        out = [{"type": "message", "ts": m["ts"], "text": m["text"], "blocks": m["blocks"], "bot_id": BOT_ID,
                "user": BOT_USER_ID, **({"metadata": m["metadata"]} if with_meta and m.get("metadata") else {})}
               for m in found[:limit]]
        return {"ok": True, "messages": out, "has_more": len(found) > limit,
                "response_metadata": {"next_cursor": ""}}

    def _users_lookupByEmail(self, p: Json) -> Json:
        email = str(p.get("email") or "").strip().lower()
        user = next((u for u in self.users.values() if u["profile"]["email"].lower() == email), None)
        return {"ok": True, "user": user} if user else {"ok": False, "error": "users_not_found"}

    def _users_list(self, p: Json) -> Json:
        return {"ok": True, "members": list(self.users.values()), "response_metadata": {"next_cursor": ""}}

    def _users_info(self, p: Json) -> Json:
        user = self.users.get(str(p.get("user") or ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _conversations_open(self, p: Json) -> Json:
        users = [u for u in str(p.get("users") or "").split(",") if u]
        if len(users) != 1 or users[0] not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": self.dm_id(users[0]), "is_im": True, "user": users[0]}}

    def _auth_test(self, p: Json) -> Json:
        return {"ok": True, "url": "https://sandbox.slack.invalid/", "team": "Sandbox", "user": "auto-advance",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}

    async def _control(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Json]:
        if path.startswith("response/"):
            self.responses.append({"path": path, "headers": headers, "body": body.decode("utf-8", "replace")})
            return 200, {"ok": True}
        if method == "GET" and path == "messages":
            return 200, {"messages": self.messages, "updates": self.updates, "ephemerals": self.ephemerals,
                         "responses": self.responses}
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return 400, {"ok": False, "error": "body must be JSON"}
        try:
            if method == "POST" and path == "users":
                user = self.add_user(doc["id"], doc["email"], doc.get("name") or doc["id"])
                return 200, {"ok": True, "user": user}
            if method == "POST" and path == "fail":
                self.fail_next(doc["method"], doc.get("error", "ratelimited"), status=doc.get("status"),
                               times=int(doc.get("times", 1)))
                return 200, {"ok": True}
            if method == "POST" and path == "click":
                response = await self.simulate_click(doc["target_url"], doc["ts"], doc.get("action", "archive"),
                                                     doc["user_id"], signing_secret=doc.get("signing_secret"),
                                                     timestamp=doc.get("timestamp"))
                return 200, {"ok": True, "status": response.status_code, "body": response.text}
        except LookupError as exc:  # a missing field, message or button
            return 400, {"ok": False, "error": f"not found: {exc}"}
        except httpx.HTTPError as exc:
            return 502, {"ok": False, "error": f"target unreachable: {type(exc).__name__}"}
        return 404, {"ok": False, "error": "unknown sandbox route"}


def _params(query: bytes, body: bytes) -> Json:
    """Query string and body merged; slack-sdk sends JSON or a form, whatever Content-Type says."""
    params: Json = dict(parse_qsl(query.decode()))
    stripped = body.strip()
    if stripped.startswith(b"{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            params.update(orjson.loads(stripped))
            return params
    params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _metadata(raw: Any) -> Json | None:
    """Message metadata as Slack keeps it: an `event_type` and an object `event_payload`."""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(raw, dict) or not isinstance(raw.get("event_type"), str):
        return None
    payload = raw.get("event_payload")
    return {"event_type": raw["event_type"], "event_payload": payload if isinstance(payload, dict) else {}}


def _blocks(raw: Any) -> list[Json]:
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return []
    return list(raw) if isinstance(raw, list) else []
