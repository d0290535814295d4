"""Prometheus metrics of one process (prometheus_client's default registry), and how they are served.

Counters are moved where the composition root already sees the traffic, so no component imports
this: the ASGI app (HTTP requests, webhooks), the JetStream publisher (events, decisions, commands
issued and their outcomes), the Ashby client's transport, and the Slack port. Gauges about shared
state (consumer backlog, the pause switch) are read when scraped. Every role process serves its own
`/metrics` (docs/deploy.md); `autoadvance http` with `HTTP_WORKERS` > 1 uses prometheus_client's
multiprocess mode so one scrape covers every worker.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = structlog.get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

WEBHOOKS = Counter("autoadvance_webhooks_total", "Ashby webhook deliveries by outcome", ["outcome"])
EVENTS_PUBLISHED = Counter("autoadvance_events_published_total",
                           "Events stored on EVENTS by this process (JetStream duplicates not counted)", ["type"])
DECISIONS = Counter("autoadvance_decisions_total", "Decisions published, by outcome and mode (live, shadow, dry_run)",
                    ["outcome", "mode"])
COMMANDS = Counter("autoadvance_commands_total",
                   "Commands: issued (stored on COMMANDS) and their outcomes (succeeded, skipped, failed)",
                   ["type", "outcome"])
ASHBY_REQUESTS = Counter("autoadvance_ashby_requests_total", "HTTP requests to Ashby's API by endpoint and outcome",
                         ["endpoint", "outcome"])
ASHBY_LATENCY = Histogram("autoadvance_ashby_request_duration_seconds", "Ashby API request latency", ["endpoint"],
                          buckets=_LATENCY)
SLACK_REQUESTS = Counter("autoadvance_slack_requests_total", "Slack Web API calls by method and outcome",
                         ["method", "outcome"])
SLACK_LATENCY = Histogram("autoadvance_slack_request_duration_seconds", "Slack Web API call latency", ["method"],
                          buckets=_LATENCY)
HTTP_LATENCY = Histogram("autoadvance_http_request_duration_seconds", "HTTP requests served, by route and status",
                         ["route", "method", "status"], buckets=_LATENCY)
CONSUMER_PENDING = Gauge("autoadvance_consumer_pending", "Messages a durable consumer has not been handed yet",
                         ["durable"], multiprocess_mode="mostrecent")
CONSUMER_ACK_PENDING = Gauge("autoadvance_consumer_ack_pending", "Messages handed out and not acknowledged yet",
                             ["durable"], multiprocess_mode="mostrecent")
CONSUMER_LAG = Gauge("autoadvance_consumer_lag_seconds", "Age of a durable's oldest unacknowledged message",
                     ["durable"], multiprocess_mode="mostrecent")
EFFECTS_PAUSED = Gauge("autoadvance_effects_paused", "1 while the pause switch holds every effect (unknown: 1)",
                       multiprocess_mode="mostrecent")

_WEBHOOK_STATUS = {400: "malformed", 401: "bad_signature", 413: "too_large", 415: "malformed", 429: "rate_limited",
                   503: "unavailable"}
_OUTCOME_TYPES = {"CommandSucceeded": "succeeded", "CommandSkipped": "skipped", "CommandFailed": "failed"}


def webhook_outcome(status: int, body: bytes) -> str:
    if status == 200:
        for outcome in ("duplicate", "pong", "stored"):
            if f'"status":"{outcome}"'.encode() in body:
                return outcome
        return "stored"
    return _WEBHOOK_STATUS.get(status, f"http_{status}")


def count_published(subject: str, envelope: Any) -> None:
    """One stored message (not a JetStream duplicate): what it means for the families above."""
    event_type = envelope.event_type
    if subject.startswith("cmd."):
        COMMANDS.labels(event_type, "issued").inc()
        return
    EVENTS_PUBLISHED.labels(event_type).inc()
    payload = envelope.payload
    if event_type == "DecisionMade":
        mode = "dry_run" if payload.get("dry_run") else str(payload.get("mode"))
        DECISIONS.labels(str(payload.get("outcome")), mode).inc()
    elif event_type in _OUTCOME_TYPES:
        COMMANDS.labels(str(payload.get("command_type")), _OUTCOME_TYPES[event_type]).inc()


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts and times each HTTP request to Ashby (an attempt: retries count again)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.strip("/")[:60] or "_"
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TimeoutException:
            ASHBY_REQUESTS.labels(endpoint, "timeout").inc()
            raise
        except httpx.TransportError:
            ASHBY_REQUESTS.labels(endpoint, "connection_error").inc()
            raise
        finally:
            ASHBY_LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        status = response.status_code
        outcome = "ok" if status < 300 else "429" if status == 429 else f"{status // 100}xx"
        ASHBY_REQUESTS.labels(endpoint, outcome).inc()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class MeteredSlack:
    """The notifier's Slack port, each call counted and timed by its Slack Web API method."""

    _METHODS = {"post_message": "chat.postMessage", "update_message": "chat.update",
                "post_ephemeral": "chat.postEphemeral", "lookup_user_by_email": "users.lookupByEmail",
                "open_dm": "conversations.open", "auth_test": "auth.test", "history": "conversations.history"}

    def __init__(self, slack: Any) -> None:
        self._slack = slack

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._slack, name)
        method = self._METHODS.get(name)
        if method is None or not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await target(*args, **kwargs)
            except Exception as exc:
                SLACK_REQUESTS.labels(method, _slack_outcome(exc)).inc()
                raise
            finally:
                SLACK_LATENCY.labels(method).observe(time.perf_counter() - started)
            SLACK_REQUESTS.labels(method, "ok").inc()
            return result

        return call


def _slack_outcome(exc: Exception) -> str:
    name = type(exc).__name__
    return {"SlackUnavailable": "unavailable", "SlackRejected": "rejected"}.get(name, "error")


def route_of(scope: dict[str, Any]) -> str:
    """The route template Litestar matched (bounded label values), else `unmatched`."""
    return str(scope.get("path_template") or "unmatched")


async def refresh(services: Any) -> None:
    """The gauges read at scrape time: every durable's backlog, and the pause switch."""
    from runtime.lag import consumer_lag

    if services.nc.is_connected:
        try:
            consumers, _ = await consumer_lag(services.nc.jetstream())
        except Exception as exc:  # noqa: BLE001 - a scrape still answers with the counters
            log.warning("metrics_consumers_unreadable", error=type(exc).__name__)
            consumers = {}
        for name, c in consumers.items():
            CONSUMER_PENDING.labels(name).set(c["pending"])
            CONSUMER_ACK_PENDING.labels(name).set(c["ack_pending"])
            CONSUMER_LAG.labels(name).set(c["lag_s"])
    try:
        EFFECTS_PAUSED.set(1 if (await services.pause().read()).paused else 0)
    except Exception:  # noqa: BLE001 - unknown counts as paused, as for the effects themselves
        EFFECTS_PAUSED.set(1)


def exposition() -> bytes:
    """The text format of this process, or of every worker process in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def scrape(services: Any) -> bytes:
    await refresh(services)
    return await asyncio.to_thread(exposition) if os.environ.get(MULTIPROC_ENV) else exposition()


CONTENT_TYPE = CONTENT_TYPE_LATEST


async def serve_metrics(services: Any, host: str, port: int, stop: asyncio.Event) -> None:
    """A worker role's `/metrics` on its own port (`METRICS_PORT`): a minimal HTTP/1.1 server."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] in ("GET", "HEAD") and parts[1].split("?")[0] == "/metrics":
                body, status, kind = await scrape(services), "200 OK", CONTENT_TYPE
            else:
                body, status, kind = b"only GET /metrics here\n", "404 Not Found", "text/plain"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + (body if parts and parts[0] != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, host, port)
    log.info("metrics_serving", url=f"http://{host}:{port}/metrics")
    async with server:
        await stop.wait()
