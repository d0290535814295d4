"""What the executor does when a command ends in the DLQ (retries spent or a permanent error):
the `CommandFailed` event on the application's story, the inbox row marked failed, one
actionable admin alert. Also the Ashby wrapper that remembers what the executor last read."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from contracts.consumers import DeadLetter
from contracts.outcomes import alert_command, outcome_event
from executor import store
from executor.alert_text import ApplicationContext, failed_command_alert

log = structlog.get_logger(__name__)


class RememberingAshby:
    """The executor's Ashby port, remembering the last `application.info` (and stage list) per
    application, so an alert about a failed command can name the candidate even when Ashby is
    what fails. Bounded; lost on restart (the alert then asks Ashby once, or shows ids)."""

    def __init__(self, api: Any, *, size: int = 2048) -> None:
        self._api = api
        self._size = size
        self.infos: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.stages: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    async def call(self, endpoint: str, body: dict[str, Any]) -> Any:
        result = await self._api.call(endpoint, body)
        if endpoint == "application.info" and isinstance(result, dict):
            self._keep(self.infos, str(body.get("applicationId")), result)
        elif endpoint == "interviewStage.list" and isinstance(result, list):
            self._keep(self.stages, str(body.get("interviewPlanId")), result)
        return result

    def _keep(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._size:
            cache.popitem(last=False)

    async def context(self, application_id: str) -> ApplicationContext:
        info = self.infos.get(application_id)
        if info is None:
            try:
                info = await self.call("application.info", {"applicationId": application_id})
            except Exception as exc:  # noqa: BLE001 - the alert goes out with ids instead of names
                log.warning("alert_context_unavailable", key=application_id, error=type(exc).__name__)
                return ApplicationContext()
        plan_id = ((info or {}).get("currentInterviewStage") or {}).get("interviewPlanId")
        stages = self.stages.get(str(plan_id)) if plan_id else None
        if plan_id and stages is None:
            try:
                stages = await self.call("interviewStage.list", {"interviewPlanId": plan_id})
            except Exception:  # noqa: BLE001 - stage ids stand in for titles
                stages = None
        return ApplicationContext.from_info(info or {}, stages if isinstance(stages, list) else None)


def dead_letter_hook(ashby: RememberingAshby, publisher: Any, *,
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                     ) -> Callable[[asyncpg.Pool, DeadLetter], Awaitable[None]]:
    async def on_dead_letter(pool: asyncpg.Pool, dead: DeadLetter) -> None:
        if dead.delivered is None:  # the runtime alerts about unreadable messages itself
            return
        cmd = dead.delivered.envelope
        p = cmd.payload
        app_id = p.get("application_id")
        reason = dead.reason[:500]
        ctx = await ashby.context(str(app_id)) if app_id else ApplicationContext()
        now = clock()
        await publisher.publish_event(outcome_event("CommandFailed", cmd, "executor", now, reason=reason,
                                                    details={"dlq_seq": dead.dlq_seq}))
        text = failed_command_alert(cmd.event_type, p, ctx, reason, dlq_seq=dead.dlq_seq)
        await publisher.publish(*alert_command("command_failed", text, cmd, now, application_id=app_id))
        async with pool.acquire() as conn:
            await store.fail(conn, p["command_id"], reason)
        log.error("command_dead_lettered", command_id=p.get("command_id"), key=app_id, dlq_seq=dead.dlq_seq)

    return on_dead_letter
