"""The vault: seals candidates' personal data in an event before it is published, opens it for
display, and erases a candidate by destroying their key. One instance per process (built in runtime).

Nothing is cached: a key destroyed by one process cannot be used to read by another a moment later.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import structlog
from cryptography.exceptions import InvalidTag

from contracts.envelope import Envelope
from contracts.errors import TransientError
from contracts.pii import ERASED, open_tree, personal_candidates, seal_tree
from privacy import store
from privacy.crypto import ERASED_SEAL, Keyring

log = structlog.get_logger(__name__)
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class Vault:
    def __init__(self, pool: asyncpg.Pool, keyring: Keyring) -> None:
        self.pool = pool
        self.keyring = keyring

    async def check_master_key(self) -> None:
        """Refuse to run with a master key other than the one the stored keys were wrapped with: every
        seal and every name lookup would fail, and new keys would be wrapped with the wrong one."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT candidate_id, wrapped_key FROM pii_keys LIMIT 1")
        if row is None:
            return
        try:
            self.keyring.unwrap(row["candidate_id"], row["wrapped_key"])
        except InvalidTag as exc:
            raise RuntimeError("PII_MASTER_KEY is not the key the stored candidate keys were wrapped with; "
                               "set the deployment's PII_MASTER_KEY (every process needs the same one)") from exc

    async def seal(self, envelope: Envelope) -> Envelope:
        """The envelope with its candidates' personal fields sealed (the same envelope when it holds none).

        A candidate erased already gets no key again: their fields are dropped (`"sealed": "erased"`).
        Raises `TransientError` when Postgres cannot be reached, so nothing is published unsealed."""
        ids = personal_candidates(envelope.event_type, envelope.payload)
        if not ids:
            return envelope
        try:
            keys = await self._keys_for_sealing(sorted(ids))
            profiles: dict[str, str] = {}

            def seal(candidate_id: str, fields: dict[str, Any]) -> str:
                key = keys.get(candidate_id)
                if key is None:
                    return ERASED_SEAL
                profile = _profile(fields)
                if profile:
                    profiles[candidate_id] = Keyring.seal(key, candidate_id, profile)
                return Keyring.seal(key, candidate_id, fields)

            payload = seal_tree(envelope.payload, seal)
            if profiles:
                async with self.pool.acquire() as conn:
                    for candidate_id, sealed in profiles.items():
                        await store.save_profile(conn, candidate_id, sealed)
        except _DB_ERRORS as exc:
            raise TransientError(f"personal data could not be sealed: {type(exc).__name__}") from exc
        return envelope.model_copy(update={"payload": payload})

    async def _keys_for_sealing(self, candidate_ids: list[str]) -> dict[str, bytes | None]:
        keys: dict[str, bytes | None] = {}
        async with self.pool.acquire() as conn:
            for candidate_id in candidate_ids:
                async with conn.transaction():
                    wrapped = await store.key_for_sealing(conn, candidate_id,
                                                          self.keyring.new_wrapped_key(candidate_id))
                keys[candidate_id] = self.keyring.unwrap(candidate_id, wrapped) if wrapped else None
        return keys

    async def names(self, candidate_ids: Iterable[str | None]) -> dict[str, str]:
        """The one way to a candidate's name for people to read: the name, `ERASED` after erasure;
        absent for a candidate whose name never passed through here."""
        wanted = sorted({c for c in candidate_ids if c})
        if not wanted:
            return {}
        async with self.pool.acquire() as conn:
            rows = await store.profiles(conn, wanted)
        out: dict[str, str] = {}
        for r in rows:
            if r["erased_at"] is not None:
                out[r["candidate_id"]] = ERASED
            elif r["profile"] and r["wrapped_key"]:
                key = self.keyring.unwrap(r["candidate_id"], r["wrapped_key"])
                profile = Keyring.open(key, r["candidate_id"], r["profile"]) or {}
                if isinstance(profile.get("name"), str) and profile["name"]:
                    out[r["candidate_id"]] = profile["name"]
        return out

    async def name(self, candidate_id: str | None) -> str | None:
        return (await self.names([candidate_id])).get(candidate_id or "")

    async def open_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`payload` with its sealed parts opened where the key still exists (for an operator's view)."""
        ids: set[str] = set()

        def note(candidate_id: str, _text: str) -> None:
            ids.add(candidate_id)

        open_tree(payload, note)
        async with self.pool.acquire() as conn:
            wrapped = await store.keys(conn, sorted(ids))
        keys = {cid: self.keyring.unwrap(cid, w) for cid, w in wrapped.items()}

        def open_(candidate_id: str, text: str) -> dict[str, Any] | None:
            key = keys.get(candidate_id)
            return Keyring.open(key, candidate_id, text) if key else None

        return open_tree(payload, open_)

    async def erase(self, candidate_id: str, *, by: str, reason: str) -> tuple[bool, datetime]:
        """Destroy the candidate's key: every sealed copy of their data, wherever it is, becomes
        unreadable. (erased just now?, when) — erasing twice changes nothing."""
        async with self.pool.acquire() as conn:
            newly, erased_at = await store.erase(conn, candidate_id, by, reason)
        log.info("candidate_erased", candidate_id=candidate_id, reason=reason, already=not newly)
        return newly, erased_at

    async def due_for_retention(self, days: float, *, limit: int = 500) -> list[str]:
        async with self.pool.acquire() as conn:
            return await store.due_for_retention(conn, days, limit)

    async def status(self, candidate_id: str) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn:
            row = await store.status(conn, candidate_id)
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()} if row else None


def _profile(fields: dict[str, Any]) -> dict[str, Any] | None:
    """Name and primary email of a candidate object's personal fields, kept (sealed) for display."""
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        return None
    email = fields.get("primaryEmailAddress")
    return {"name": name, "email": email.get("value") if isinstance(email, dict) else None}


class Inner(Protocol):
    @property
    def connected(self) -> bool: ...
    async def publish(self, subject: str, envelope: Envelope) -> tuple[int, bool]: ...
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


class SealingPublisher:
    """The process's publisher: every envelope passes the vault before JetStream, so no candidate's
    personal data is ever stored unsealed, whichever component published it."""

    def __init__(self, inner: Inner, vault: Vault) -> None:
        self.inner = inner
        self.vault = vault

    @property
    def connected(self) -> bool:
        return self.inner.connected

    async def publish(self, subject: str, envelope: Envelope) -> tuple[int, bool]:
        return await self.inner.publish(subject, await self.vault.seal(envelope))

    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]:
        return await self.inner.publish_event(await self.vault.seal(envelope))
