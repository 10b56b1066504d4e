"""The xAPI statements ingest has stored: their content's fingerprint and whose they are.

A statement id already stored with the same content is accepted again without a second
event; with other content it is refused (409). The registry also says which learner a
statement counted for, so that a learner's erasure forgets their statements, and a
voiding statement retracts from the right learner. It is bounded (least recently stored
forgotten first); what changes in it is kept as records for the registry topic
(`stream.ingest.memory`) until they are written.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

import orjson

from stream.normalize.base import Problem, pointer
from stream.normalize.xapi_compare import statement_fingerprint

REMEMBERED = 1_000_000  # statement ids remembered; beyond, the least recently stored go
KEY_PREFIX = "s:"


class Stored(NamedTuple):
    """A stored statement: its fingerprint and the learner it counted for (None: it became
    no event, e.g. a voiding or an anonymous Group's statement)."""

    fingerprint: str
    learner: str | None = None

    def value(self) -> bytes:
        """The record value on the registry topic."""
        return orjson.dumps({"f": self.fingerprint, "l": self.learner})

    @classmethod
    def of(cls, value: bytes) -> Stored | None:
        """A stored statement read from the registry topic (None if it is not one)."""
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("f"), str):
            return None
        learner = data.get("l")
        return cls(data["f"], learner if isinstance(learner, str) else None)


class StatementRegistry:
    """Statement ids already stored (lowercased), LRU-bounded, indexed by learner."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._stored: OrderedDict[str, Stored] = OrderedDict()
        self._of_learner: dict[str, set[str]] = {}
        self.changes: dict[str, bytes | None] = {}  # registry records not yet written

    def __len__(self) -> int:
        return len(self._stored)

    def get(self, sid: str) -> Stored | None:
        return self._stored.get(sid.lower())

    def conflicts(self, statements: list[dict[str, Any]]) -> tuple[list[Problem], set[str]]:
        """Problems for ids stored with other content; the ids stored with the same content."""
        problems, same = [], set()
        for index, statement in enumerate(statements):
            sid = str(statement.get("id", "")).lower()
            known = self._stored.get(sid)
            if known is None:
                continue
            if known.fingerprint == statement_fingerprint(statement):
                same.add(sid)
            else:
                problems.append(
                    Problem(pointer(index, "id"), "a different statement with this id is stored")
                )
        return problems, same

    def remember(self, statements: list[dict[str, Any]], learners: dict[str, str]) -> None:
        """Statements just stored; `learners` names the learner of those that became an
        event (by lowercased statement id)."""
        for statement in statements:
            sid = str(statement["id"]).lower()
            stored = Stored(statement_fingerprint(statement), learners.get(sid))
            self.restore(sid, stored)
            self.changes[KEY_PREFIX + sid] = stored.value()

    def restore(self, sid: str, stored: Stored) -> None:
        """A stored statement, as remembered (read back from the registry topic)."""
        self._drop(sid)
        self._stored[sid] = stored
        if stored.learner is not None:
            self._of_learner.setdefault(stored.learner, set()).add(sid)
        while len(self._stored) > self.size:
            oldest = next(iter(self._stored))
            self._drop(oldest)
            self.changes[KEY_PREFIX + oldest] = None

    def drop(self, sid: str) -> None:
        """Forget a statement (a tombstone read back from the registry topic)."""
        self._drop(sid)

    def forget(self, learner: str) -> None:
        """Forget every statement of an erased learner (and tombstone it on the topic)."""
        for sid in self._of_learner.get(learner, set()).copy():
            self._drop(sid)
            self.changes[KEY_PREFIX + sid] = None

    def _drop(self, sid: str) -> None:
        stored = self._stored.pop(sid, None)
        if stored is None or stored.learner is None:
            return
        sids = self._of_learner.get(stored.learner)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._of_learner[stored.learner]
