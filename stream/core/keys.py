"""Short, stable keys of ids, for de-duplication (stored in states: they must never change)."""

from __future__ import annotations

import hashlib
import struct

_BLAKE2B_8 = hashlib.blake2b(digest_size=8)
_BIG_ENDIAN_U64 = struct.Struct(">Q").unpack


def event_key(event_id: str) -> int:
    """A short, stable hash of an event id, for de-duplication: the 8-byte BLAKE2b digest
    as a big-endian integer (stored in states: it must never change)."""
    hasher = _BLAKE2B_8.copy()  # a copy is quicker than a new hasher with its parameters
    hasher.update(event_id.encode())
    key: int = _BIG_ENDIAN_U64(hasher.digest())[0]
    return key
