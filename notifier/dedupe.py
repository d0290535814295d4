"""Posting a command's Slack message once, as far as Slack lets us know (docs/decisions/0006).

Every message carries Slack message `metadata` naming its command (`event_type`
`autoadvance_command`, `event_payload` {command_id, command_type}: ids only, no personal data).
When an earlier attempt of the same command may have posted already (the inbox shows it `started`
with no recorded ts, the delivery is a redelivery, or an operator re-sent it from the DLQ), the
target channel's recent history is read once (`conversations.history`, `HISTORY_LIMIT` messages,
`include_all_metadata`) and an earlier message of this command is adopted instead of posting again.

Reading history needs `im:history` (DMs), `channels:history` / `groups:history` (public / private
channels) and a channel id (a `#name` is resolved only once this process has posted there). Without
them Slack refuses the read: we then post as before (a rare duplicate), and say so once per reason.
A read that fails for a passing reason (429, 5xx, network) also posts as before, logged each time:
the check may cost a duplicate, never a proposal.
"""

from __future__ import annotations

from typing import Any

import structlog

from notifier.slack import PostedMessage, SlackApi, SlackRejected, SlackUnavailable

log = structlog.get_logger(__name__)

EVENT_TYPE = "autoadvance_command"
HISTORY_LIMIT = 20
"""Messages read back: a redelivery comes one ack wait (30 s) after the lost post, so the earlier
message is among the channel's last few; in a channel busier than this it is missed (a duplicate)."""


def command_metadata(command_id: str, command_type: str) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"command_id": command_id, "command_type": command_type}}


def _looks_like_id(channel: str) -> bool:
    """Slack's channel ids (C…, D… for a DM, G…): the only form `conversations.history` takes."""
    return channel[:1] in ("C", "D", "G") and channel.isalnum() and channel.upper() == channel


def _command_of(message: dict[str, Any]) -> str | None:
    meta = message.get("metadata") or {}
    if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
        return None
    payload = meta.get("event_payload") or {}
    return str(payload.get("command_id")) if isinstance(payload, dict) and payload.get("command_id") else None


class OncePoster:
    """Posts with the command's metadata; looks for an earlier copy first when asked to."""

    def __init__(self, slack: SlackApi) -> None:
        self._slack = slack
        self._ids: dict[str, str] = {}  # channel as configured ("#name") → the id Slack answered with
        self._refused: set[str] = set()  # reasons already logged: a missing scope is said once

    async def post(self, channel: str, text: str, blocks: list[dict[str, Any]], *, command_id: str,
                   command_type: str, look_first: bool) -> PostedMessage:
        if look_first:
            earlier = await self._earlier(channel, command_id)
            if earlier is not None:
                log.warning("slack_earlier_message_adopted", command_id=command_id, channel=earlier.channel)
                return earlier
        posted = await self._slack.post_message(channel, text, blocks,
                                                metadata=command_metadata(command_id, command_type))
        self._ids[channel] = posted.channel
        return posted

    async def _earlier(self, channel: str, command_id: str) -> PostedMessage | None:
        channel_id = self._ids.get(channel, channel)
        if not _looks_like_id(channel_id):
            self._fall_back("channel_name_not_resolved", channel)
            return None
        try:
            messages = await self._slack.history(channel_id, limit=HISTORY_LIMIT)
        except SlackRejected as exc:  # missing_scope, not_in_channel, channel_not_found…
            self._fall_back(exc.error, channel_id)
            return None
        except SlackUnavailable as exc:  # retrying could dead-letter the proposal: post instead
            log.warning("slack_dedupe_read_failed", command_id=command_id, channel=channel_id, error=str(exc)[:200])
            return None
        for message in messages:
            if _command_of(message) == command_id and message.get("ts"):
                return PostedMessage(channel=channel_id, ts=str(message["ts"]))
        return None

    def _fall_back(self, reason: str, channel: str) -> None:
        if reason in self._refused:
            return
        self._refused.add(reason)
        log.warning("slack_dedupe_unavailable", reason=reason, channel=channel,
                    consequence="a message whose earlier post may have gone through is posted again")
