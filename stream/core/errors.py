"""The root of every error tierwatch raises on purpose, here so that the pure core (and
everything above it) can derive from it; `stream.errors` re-exports it."""

from __future__ import annotations


class TierwatchError(Exception):
    """Base of every error tierwatch raises on purpose."""
