"""AES-256-GCM for candidates' personal data: per-candidate data keys, wrapped by the master key.

A sealed value is `v1.<base64url(12-byte nonce | ciphertext | tag)>`, authenticated with the
candidate id as associated data, so a value cannot be moved to another candidate unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1."


def master_key(secret: str) -> bytes:
    """The 256-bit master key from the PII_MASTER_KEY secret (a random string of 32+ characters)."""
    if len(secret) < 32:
        raise ValueError("PII_MASTER_KEY must be a random string of at least 32 characters")
    return hashlib.sha256(b"autoadvance-pii-master-v1\x00" + secret.encode()).digest()


class Keyring:
    """Makes, wraps and unwraps data keys, and seals and opens values with them."""

    def __init__(self, master: bytes) -> None:
        self._master = AESGCM(master)

    def new_wrapped_key(self, candidate_id: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._master.encrypt(nonce, AESGCM.generate_key(bit_length=256), _aad("dek", candidate_id))

    def unwrap(self, candidate_id: str, wrapped: bytes) -> bytes:
        return self._master.decrypt(wrapped[:12], wrapped[12:], _aad("dek", candidate_id))

    @staticmethod
    def seal(key: bytes, candidate_id: str, fields: dict[str, Any]) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, orjson.dumps(fields), _aad("pii", candidate_id))
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    @staticmethod
    def open(key: bytes, candidate_id: str, text: str) -> dict[str, Any] | None:
        """The fields, or None if `text` is not a value sealed with this key for this candidate."""
        if not text.startswith(_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(text[len(_PREFIX):])
            fields = orjson.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _aad("pii", candidate_id)))
        except (ValueError, InvalidTag, orjson.JSONDecodeError):
            return None
        return fields if isinstance(fields, dict) else None


ERASED_SEAL = "erased"
"""Stored in place of the fields of a candidate erased before they arrived: nothing to decrypt."""


def _aad(kind: str, candidate_id: str) -> bytes:
    return f"{kind}\x00{candidate_id}".encode()
