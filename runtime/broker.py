"""NATS connection, stream declarations and the JetStream publisher used by every role."""

from __future__ import annotations

from dataclasses import replace

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from contracts import subjects
from contracts.envelope import Envelope
from contracts.errors import TransientError
from runtime.metrics import count_published

log = structlog.get_logger(__name__)


def stream_configs(replicas: int = 1, dedupe_window_s: float = 900.0) -> list[StreamConfig]:
    """EVENTS is the audit trail: file storage, no age limit, no delete or purge."""
    common = StreamConfig(storage=StorageType.FILE, num_replicas=replicas, duplicate_window=dedupe_window_s,
                          retention=RetentionPolicy.LIMITS, deny_delete=True)
    return [
        replace(common, name=subjects.EVENTS_STREAM, subjects=[subjects.EVENTS_ALL], max_age=0, deny_purge=True,
                discard=DiscardPolicy.OLD),
        replace(common, name=subjects.COMMANDS_STREAM, subjects=[subjects.COMMANDS_ALL], deny_purge=True),
        replace(common, name=subjects.DLQ_STREAM, subjects=[subjects.DLQ_ALL]),
    ]


def server_list(url: str) -> list[str]:
    """`NATS_URL` may name every server of a cluster, comma-separated ("nats://a:4222,nats://b:4222");
    nats-py and FastStream want them as a list."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("NATS_URL names no server")
    return servers


async def connect(url: str, *, name: str = "autoadvance", connect_timeout: float = 5.0) -> NatsClient:
    """A connection that keeps reconnecting forever; callers see `is_connected` go false meanwhile.

    With several servers (a cluster) it connects to any of them and fails over to the others."""

    client: list[NatsClient] = []

    async def _error(exc: Exception) -> None:
        log.warning("nats_error", error=type(exc).__name__)

    async def _disconnected() -> None:
        if client and client[0].is_closed:  # our own close/drain at shutdown, not a lost connection
            return
        log.warning("nats_disconnected")

    async def _reconnected() -> None:
        log.info("nats_reconnected")

    nc = await nats.connect(
        server_list(url),
        name=name,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        error_cb=_error,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        pending_size=8 * 1024 * 1024,
    )
    client.append(nc)
    return nc


async def ensure_streams(js: JetStreamContext, replicas: int = 1, dedupe_window_s: float = 900.0) -> None:
    """Declare the streams idempotently: add if missing, otherwise update to our config."""
    for config in stream_configs(replicas, dedupe_window_s):
        assert config.name is not None  # every declared stream is named
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                log.info("stream_created", stream=config.name)
                continue
            except BadRequestError:
                pass  # another process created it meanwhile
        try:
            await js.update_stream(config)
        except BadRequestError as exc:
            log.warning("stream_update_refused", stream=config.name, error=str(exc))


class Publisher:
    """Publishes envelopes with `Nats-Msg-Id`; returns only after JetStream stored the message."""

    def __init__(self, nc: NatsClient, timeout: float = 3.0) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._timeout = timeout

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    async def publish(self, subject: str, envelope: Envelope) -> tuple[int, bool]:
        """(stream sequence, duplicate?) once acknowledged; `TransientError` if it was not stored."""
        if not self._nc.is_connected:
            raise TransientError("NATS is not connected")
        try:
            ack = await self._js.publish(subject, envelope.to_bytes(), headers=envelope.headers(),
                                         timeout=self._timeout)
        except (TimeoutError, nats.errors.Error) as exc:
            raise TransientError(f"JetStream did not acknowledge: {type(exc).__name__}") from exc
        if not ack.duplicate:
            count_published(subject, envelope)
        return ack.seq, bool(ack.duplicate)

    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]:
        return await self.publish(subjects.event_subject(envelope.source, envelope.event_type, envelope.key),
                                  envelope)
