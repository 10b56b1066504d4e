"""The bounds every record that crosses a boundary keeps: instants and free-form sizes.

An instant must be representable in every timezone: its UTC time lies a day inside the
range of Python's datetime (0001-01-01 to 9999-12-31), so converting it to any offset
(real offsets stay under 24 hours; local mean times of old dates included) never
overflows. Which instants are *plausible* for an event is the policy's business
(`stream.core.bounds`); this is only what the pipeline can hold at all.

Free-form maps are checked for their size before their items are validated, with a
message that never repeats an oversized key or value.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, StringConstraints

EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=dt.UTC)

Instant = Annotated[AwareDatetime, Field(ge=EARLIEST, le=LATEST)]


def representable(at: dt.datetime) -> bool:
    """Whether an aware instant is one a record can hold (see the module docstring)."""
    return EARLIEST <= at <= LATEST


def bounded_map(max_keys: int, max_key: int, max_value: int) -> BeforeValidator:
    """A check of a JSON object's size: at most `max_keys` keys of at most `max_key`
    characters, string values of at most `max_value` characters."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the type's own validation says what is wrong
        if len(value) > max_keys:
            raise ValueError(f"at most {max_keys} keys, not {len(value)}")
        for key, item in value.items():
            if isinstance(key, str) and len(key) > max_key:
                raise ValueError(f"a key of {len(key)} characters (at most {max_key})")
            if isinstance(item, str) and len(item) > max_value:
                raise ValueError(
                    f"the value of {key!r} has {len(item)} characters (at most {max_value})"
                )
        return value

    return BeforeValidator(check)


# `source_meta` of an event: how the source said it (a few short labels), never content
MAX_META_KEYS = 16
MAX_META_KEY = 64
MAX_META_VALUE = 256
SourceMeta = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_META_KEY)],
        Annotated[str, StringConstraints(max_length=MAX_META_VALUE)],
    ],
    Field(max_length=MAX_META_KEYS),
    bounded_map(MAX_META_KEYS, MAX_META_KEY, MAX_META_VALUE),
]
