"""Shared by the normalisers' totality tests: arbitrary JSON, and the outcome of normalising
it (a result, or the problems of a NormalizeError, which must name at least one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from stream.normalize.base import Normalized, NormalizeError

LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


def outcome(
    normalize: Callable[[Any], Normalized], payload: Any
) -> Normalized | list[tuple[str, str]]:
    """What normalising `payload` gives; any exception but NormalizeError fails the test."""
    try:
        return normalize(payload)
    except NormalizeError as error:
        found = [(p.pointer, p.detail) for p in error.problems]
    assert found, "a NormalizeError names at least one problem"
    return found
