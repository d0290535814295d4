"""The message side as AsyncAPI 3.0, from FastStream's own generator (`faststream.specification.AsyncAPI`).

Our consumers are not all FastStream subscribers (the transactional ones are nats-py pull loops), so
the document is built from a documentation-only `NatsBroker` (never connected): one subscriber per
durable of every worker role, as `runtime/workers.py` builds them (the builders run over inert
stand-ins, so a new role or consumer shows up by itself), and one publisher per event type
(`contracts.events.EVENT_SPECS`) and command type (`contracts.commands.COMMAND_SPECS`) with its
envelope and payload schema. Served at `/asyncapi.json`, rendered at `/asyncapi` with FastStream's
page and the AsyncAPI React component served by us (`runtime/asyncapi_static/`, Apache-2.0; no CDN).
`python -m runtime.asyncapi > docs/asyncapi.json` writes the committed copy; a test keeps it equal.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from faststream.nats import JStream, NatsBroker, PullSub
from faststream.specification import AsyncAPI, get_asyncapi_html
from litestar import Response, get
from litestar.static_files import create_static_files_router
from pydantic import create_model

from contracts import subjects
from contracts.commands import COMMAND_SPECS
from contracts.envelope import Envelope
from contracts.events import EVENT_SPECS

STATIC = Path(__file__).parent / "asyncapi_static"
ASSETS = "/asyncapi-assets"
SERVER = "nats://nats:4222"  # a placeholder: the real NATS_URL (which may hold credentials) is never shown


class _Inert:
    """Stands in for every dependency a role builder wires (clients, pool, publisher): only the
    subscriptions it declares are read, nothing is called."""

    def __getattr__(self, name: str) -> Any:
        return _Inert()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Inert()


class _DocServices:
    def __init__(self) -> None:
        from runtime.settings import Settings

        self.settings = Settings()
        self.pool = self.publisher = self.nc = _Inert()
        self.nats_url, self.database_url = SERVER, ""
        self.clock = _Inert()

    def ashby(self) -> Any:
        return _Inert()

    def slack(self) -> Any:
        return _Inert()

    def pause(self) -> Any:
        return _Inert()


def consumers() -> list[tuple[str, Any]]:
    """(role, Subscription) for every durable of every worker role."""
    from runtime.workers import ROLE_BUILDERS

    return [(role, sub) for role, build in ROLE_BUILDERS.items() for sub in build(_DocServices()).subscriptions]  # type: ignore[arg-type]


def _address(prefix_subject: str) -> str:
    """`ev.a.b.x` → `ev.a.b.{key}`: the last token is the entity the message is about."""
    return prefix_subject.rsplit(".", 1)[0] + ".{key}"


def _envelope_model(name: str, event_type: str, payload: type) -> type:
    return create_model(name, __base__=Envelope, event_type=(Literal[event_type], ...),  # type: ignore[arg-type]
                        payload=(payload, ...))


def _receives(sub: Any) -> list[str]:
    """The catalogue's types a subscriber is handed (its filters) and reads (its role among the consumers)."""
    if sub.stream == subjects.COMMANDS_STREAM:
        return sorted(t for t, c in COMMAND_SPECS.items()
                      if any(_match(f, subjects.command_subject(c.target, c.verb, "x")) for f in sub.filters()))
    return sorted(t for t, spec in EVENT_SPECS.items() if any(sub.role in c for c in spec.consumers)
                  and any(_match(f, subjects.event_subject(spec.source, t, "x")) for f in sub.filters()))


def _match(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest (at least one)."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or token not in ("*", have[i]):
            return False
    return len(want) == len(have)


def build_broker() -> NatsBroker:
    broker = NatsBroker(SERVER, logger=None)
    streams = {name: JStream(name, declare=False) for name in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM,
                                                                subjects.DLQ_STREAM)}
    for role, sub in consumers():
        for subject in sub.filters():
            kind = "batches in one transaction" if sub.transactional else "one message at a time (effects)"
            described = ", ".join(_receives(sub)) or "every event"
            handler = broker.subscriber(
                subject, stream=streams[sub.stream], durable=sub.durable, pull_sub=PullSub(batch_size=sub.batch_size),
                title=sub.durable if len(sub.filters()) == 1 else f"{sub.durable} {subject}",
                description=f"Role `{role}`, durable `{sub.durable}` on {sub.stream}, {kind}. Uses: {described}.")

            async def receive(msg: Envelope) -> None:  # documentation only: never run
                return None

            handler(receive)
    for event_type, spec in sorted(EVENT_SPECS.items()):
        source = "{source}" if "/" in spec.producer else spec.source
        address = _address(f"ev.{source}.{subjects.token(event_type)}.x")
        broker.publisher(address, stream=streams[subjects.EVENTS_STREAM], title=f"event {event_type}",
                         schema=_envelope_model(f"{event_type}Event", event_type, spec.model),
                         description=f"{spec.description} Produced by {spec.producer}; read by "
                                     f"{', '.join(spec.consumers)}. Schema version {spec.version}.")
    for command_type, cspec in sorted(COMMAND_SPECS.items()):
        address = _address(subjects.command_subject(cspec.target, cspec.verb, "x"))
        broker.publisher(address, stream=streams[subjects.COMMANDS_STREAM], title=f"command {command_type}",
                         schema=_envelope_model(f"{command_type}Command", command_type, cspec.model),
                         description=f"Written by the evaluator's outbox (alerts: any role); carried out by the "
                                     f"{'executor' if cspec.target == 'ashby' else 'notifier'}.")
    broker.publisher(subjects.dlq_subject("x")[:-1] + "{consumer}", stream=streams[subjects.DLQ_STREAM], title="dead letter",
                     schema=Envelope, description="A message a consumer gave up on, unchanged, with headers "
                     "Dlq-Reason, Dlq-Consumer, Dlq-Subject, Dlq-Stream, Dlq-Stream-Seq (docs/runbooks).")
    return broker


@cache
def specification() -> Any:
    return AsyncAPI(build_broker(), title="auto-advance messages", version="0.1.0", schema_version="3.0.0",
                    description="Events (stream EVENTS, the audit log), commands (COMMANDS) and dead letters "
                                "(DLQ) on NATS JetStream; envelope fields in docs/events.md.").to_specification()


@cache
def document_json() -> str:
    return str(specification().to_json())


@cache
def html() -> str:
    page = get_asyncapi_html(specification(), try_it_out_path=None,
                             asyncapi_js_url=f"{ASSETS}/asyncapi-standalone.js",
                             asyncapi_css_url=f"{ASSETS}/asyncapi.min.css")
    return re.sub(r'<link rel="icon"[^>]*>\s*', "", page).replace("<head>", '<head>\n        <link rel="icon" href="data:,">', 1)


def asyncapi_handlers() -> list[Any]:
    """`GET /asyncapi.json`, `GET /asyncapi` (the rendered page) and its assets."""
    @get("/asyncapi.json", summary="The message side (NATS subjects, envelopes, payloads) as AsyncAPI 3.0",
         tags=["operations"], media_type="application/json")
    async def asyncapi_json() -> Response:
        return Response(document_json(), media_type="application/json")

    @get("/asyncapi", include_in_schema=False, media_type="text/html")
    async def asyncapi_page() -> Response:
        return Response(html(), media_type="text/html; charset=utf-8")

    assets = create_static_files_router(path=ASSETS, directories=[STATIC], include_in_schema=False,
                                        name="asyncapi-assets")
    return [asyncapi_json, asyncapi_page, assets]


if __name__ == "__main__":
    import json

    print(json.dumps(json.loads(document_json()), indent=2, sort_keys=True))
