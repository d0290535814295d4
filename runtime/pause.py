"""The pause switch: one operator action stops every effect (Ashby writes, Slack messages) while the
evaluator still decides; resuming lets the commands that waited run, once each.

The switch's state is the newest `EffectsPaused` / `EffectsResumed` event on `EVENTS`, read from the
stream itself (the last message on each of the two subjects), not from a read model: a pause takes
effect the moment JetStream acknowledged it, even while projectors lag or are down. Effect consumers
hold each command before its handler runs while paused (`wait_open`, cached for `ttl_s`), and each
Ashby write and Slack message is checked again right before it is sent (`check`, a fresh read).
If the state cannot be read, effects are held: unknown counts as paused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import nats.errors
import orjson
import structlog
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.envelope import Envelope
from contracts.errors import TransientError
from contracts.events import EffectsPaused, EffectsResumed
from contracts.ids import derive_id
from ingest.ashby_client import is_write

log = structlog.get_logger(__name__)

KEY = "effects"
PAUSED, RESUMED = "EffectsPaused", "EffectsResumed"
MAX_TEXT = 500


class EffectsPausedError(TransientError):
    """An effect was about to start while effects are paused (or their state is unknown): nothing
    was sent; the runtime holds the message until resume, without spending a delivery."""

    retry_after = 1.0

    def __init__(self, why: str = "effects are paused") -> None:
        super().__init__(why)


@dataclass(frozen=True, slots=True)
class PauseState:
    paused: bool
    since: str | None = None
    by: str | None = None
    reason: str | None = None
    event_id: str | None = None
    stream_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _subject(event_type: str) -> str:
    return subjects.event_subject("operator", event_type, KEY)


def clean_text(value: Any, default: str) -> str:
    """Operator-typed text for an event: a string, NULs dropped, trimmed, at most MAX_TEXT characters."""
    text = str(value if value is not None else "").replace("\x00", "").strip()
    return text[:MAX_TEXT] or default


class PauseSwitch:
    """Reads and flips the switch for one process; every role process has its own, all agree through
    the stream."""

    def __init__(self, js: Any, publisher: Any, *, ttl_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._js, self._publisher, self.ttl_s, self._clock = js, publisher, ttl_s, clock
        self._cached: PauseState | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def read(self, *, fresh: bool = False) -> PauseState:
        """The switch as the stream says; cached for `ttl_s` unless `fresh`. `TransientError` when
        the stream cannot be read."""
        if not fresh and self._cached is not None and self._clock() - self._read_at < self.ttl_s:
            return self._cached
        async with self._lock:
            if not fresh and self._cached is not None and self._clock() - self._read_at < self.ttl_s:
                return self._cached
            started = self._clock()
            paused, resumed = await self._last(PAUSED), await self._last(RESUMED)
            latest = max((m for m in (paused, resumed) if m is not None), key=lambda m: m[0], default=None)
            state = PauseState(False) if latest is None else _state(*latest)
            self._cached, self._read_at = state, started
            return state

    async def _last(self, event_type: str) -> tuple[int, dict[str, Any]] | None:
        try:
            msg = await self._js.get_last_msg(subjects.EVENTS_STREAM, _subject(event_type))
        except NotFoundError:
            return None
        except (TimeoutError, nats.errors.Error) as exc:
            raise TransientError(f"the pause state could not be read: {type(exc).__name__}") from exc
        return int(msg.seq), orjson.loads(msg.data)

    async def set(self, paused: bool, *, by: str, reason: str) -> tuple[PauseState, bool]:
        """Record a pause or a resume; (the new state, whether anything changed). Pausing what is
        paused (or resuming what runs) records nothing and answers the current state."""
        current = await self.read(fresh=True)
        if current.paused == paused:
            return current, False
        now = datetime.now(UTC)
        event_type = PAUSED if paused else RESUMED
        payload = (EffectsPaused(paused_by=by, reason=reason) if paused
                   else EffectsResumed(resumed_by=by, reason=reason)).model_dump()
        env = Envelope(event_id=derive_id("effects", event_type, now.isoformat()), event_type=event_type, key=KEY,
                       occurred_at=now, recorded_at=now, source="operator", payload=payload)
        seq, _ = await self._publisher.publish_event(env)
        state = _state(seq, orjson.loads(env.to_bytes()))
        self._cached, self._read_at = state, self._clock()
        log.warning("effects_paused" if paused else "effects_resumed", event_id=env.event_id, stream_seq=seq)
        return state, True

    async def check(self) -> None:
        """Right before an effect: raise `EffectsPausedError` unless a fresh read says effects run."""
        try:
            state = await self.read(fresh=True)
        except TransientError as exc:
            raise EffectsPausedError(f"the pause state is unknown ({exc}); holding the effect") from exc
        if state.paused:
            raise EffectsPausedError(f"effects are paused since {state.since} by {state.by}")

    async def wait_open(self) -> None:
        """Return once effects run; while paused (or unknown) wait, re-reading every `ttl_s`."""
        held = False
        while True:
            try:
                if not (await self.read()).paused:
                    if held:
                        log.info("effect_released")
                    return
            except TransientError as exc:
                log.warning("pause_state_unreadable", error=str(exc)[:200])
            if not held:
                held = True
                log.info("effect_held_while_paused")
            await asyncio.sleep(self.ttl_s)  # waiting for an operator: no event to wait on across processes


def _state(seq: int, envelope: dict[str, Any]) -> PauseState:
    p = envelope.get("payload") or {}
    paused = envelope.get("event_type") == PAUSED
    return PauseState(paused, since=envelope.get("occurred_at"), by=p.get("paused_by" if paused else "resumed_by"),
                      reason=p.get("reason") or None, event_id=envelope.get("event_id"), stream_seq=seq)


class GatedAshby:
    """The effect roles' Ashby port: reads pass, every write is checked against the switch first."""

    def __init__(self, api: Any, switch: PauseSwitch) -> None:
        self._api, self._switch = api, switch

    async def call(self, endpoint: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if is_write(endpoint):
            await self._switch.check()
        return await self._api.call(endpoint, body, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


class GatedSlack:
    """The notifier's Slack port: posting, updating and ephemeral messages are checked against the
    switch first; look-ups (users, DMs, auth) pass."""

    def __init__(self, slack: Any, switch: PauseSwitch) -> None:
        self._slack, self._switch = slack, switch

    async def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> Any:
        await self._switch.check()
        return await self._slack.post_message(channel, text, blocks, metadata=metadata)

    async def update_message(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._switch.check()
        await self._slack.update_message(channel, ts, text, blocks)

    async def post_ephemeral(self, channel: str, user_id: str, text: str) -> None:
        await self._switch.check()
        await self._slack.post_ephemeral(channel, user_id, text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._slack, name)
