"""SQL of the executor's inbox: one row per command id, holding its lease and its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

DONE = ("succeeded", "skipped", "failed")


@dataclass(frozen=True, slots=True)
class Lease:
    kind: Literal["acquired", "busy", "done"]
    status: str
    attempt: int = 0
    reconcile_first: str | None = None  # acquired: why this attempt must read before any write
    remaining_s: float = 0.0  # busy: until the other holder's lease expires


async def acquire(conn: asyncpg.Connection, command_id: str, command_type: str, application_id: str,
                  holder: str, ttl_s: float, takeover_s: float) -> Lease:
    """Take the command's lease unless it is done or someone else holds a live one. A lease found
    `started` and expired `takeover_s` ago means its holder died mid-attempt (a write it had in flight
    has had time to land); `unknown` means a write's answer was lost: either way this attempt
    reconciles first."""
    row = await conn.fetchrow(
        """INSERT INTO executor_inbox (command_id, command_type, application_id, status, attempts,
                                       lease_holder, lease_expires_at)
           VALUES ($1, $2, $3, 'started', 1, $4, now() + make_interval(secs => $5))
           ON CONFLICT (command_id) DO UPDATE
           SET attempts = executor_inbox.attempts + 1, status = 'started', lease_holder = EXCLUDED.lease_holder,
               lease_expires_at = EXCLUDED.lease_expires_at, updated_at = now(),
               reconcile = CASE WHEN executor_inbox.status = 'started' THEN 'holder_lost'
                                WHEN executor_inbox.status = 'unknown' THEN 'outcome_unknown'
                                ELSE NULL END
           WHERE executor_inbox.status NOT IN ('succeeded', 'skipped', 'failed')
             AND (executor_inbox.lease_expires_at IS NULL
                  OR executor_inbox.lease_expires_at + make_interval(secs => CASE WHEN executor_inbox.status = 'started'
                                                                  THEN $6::float8 ELSE 0 END) <= now())
           RETURNING attempts, reconcile""", command_id, command_type, application_id, holder, ttl_s, takeover_s)
    if row is not None:
        return Lease("acquired", "started", row["attempts"], row["reconcile"])
    row = await conn.fetchrow(
        """SELECT status, attempts,
                  greatest(0, extract(epoch FROM lease_expires_at - now())
                              + CASE WHEN status = 'started' THEN $2::float8 ELSE 0 END)::float8 AS remaining
           FROM executor_inbox WHERE command_id = $1""", command_id, takeover_s)
    if row["status"] in DONE:
        return Lease("done", row["status"], row["attempts"])
    return Lease("busy", row["status"], row["attempts"], remaining_s=row["remaining"] or 0.0)


async def renew(conn: asyncpg.Connection, command_id: str, holder: str, ttl_s: float) -> bool:
    """Extend this holder's live lease by `ttl_s` from now; False if it is not ours any more (taken
    over, ended, or expired: an expired lease is never revived, its takeover may be under way)."""
    done = await conn.execute(
        """UPDATE executor_inbox SET lease_expires_at = now() + make_interval(secs => $3)
           WHERE command_id = $1 AND lease_holder = $2 AND status = 'started' AND lease_expires_at > now()""",
        command_id, holder, ttl_s)
    return done.endswith(" 1")


async def release(conn: asyncpg.Connection, command_id: str, holder: str, status: str, reason: str | None,
                  *, hold_s: float = 0.0) -> bool:
    """End this holder's attempt: `pending` (nothing in flight), `unknown` (a write may have landed:
    the lease is kept `hold_s` more so nobody reads before it could land), or a final status.
    Fenced by the holder, so a holder whose lease was taken over changes nothing."""
    done = await conn.execute(
        """UPDATE executor_inbox SET status = $3, reason = $4, updated_at = now(),
                  lease_holder = CASE WHEN $5 > 0 THEN lease_holder END,
                  lease_expires_at = CASE WHEN $5 > 0 THEN now() + make_interval(secs => $5) END
           WHERE command_id = $1 AND lease_holder = $2""", command_id, holder, status, reason, hold_s)
    return done.endswith(" 1")
