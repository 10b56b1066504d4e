"""The xAPI statements ingest has stored: their content's fingerprint and whose they are.

A statement id already stored with the same content is accepted again without a second
event; with other content it is refused (409). The registry also says which learner a
statement counted for, so that a learner's erasure forgets their statements, and a
voiding statement retracts from the right learner. It is bounded (least recently stored
forgotten first); what changes in it is kept as records for the registry topic
(`stream.ingest.memory`) until they are written.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any, NamedTuple

import orjson

from schemas.events import Retracted
from stream.normalize.base import Problem, pointer
from stream.normalize.xapi_compare import statement_fingerprint
from stream.normalize.xapi_voiding import Voidable

# statement ids remembered (about 620 bytes each); beyond, the least recently stored go.
# Ingest takes its bound from the settings (`xapi_statements_remembered`).
REMEMBERED = 150_000
KEY_PREFIX = "s:"


class Stored(NamedTuple):
    """A stored statement: its fingerprint, whose it is (None: no one identified, e.g. an
    anonymous Group's), and, when it became an event a voiding may take back, that event's
    time (ISO 8601), the score it added and the object it completed
    (`stream.normalize.xapi_voiding.Voidable`)."""

    fingerprint: str
    learner: str | None = None
    at: str | None = None
    score: float | None = None
    completed: str | None = None

    def value(self) -> bytes:
        """The record value on the registry topic."""
        data: dict[str, Any] = {"f": self.fingerprint, "l": self.learner}
        if self.at is not None:
            data |= {"t": self.at, **({"s": self.score} if self.score is not None else {})}
            data |= {"c": self.completed} if self.completed is not None else {}
        return orjson.dumps(data)

    def voidable(self, sid: str) -> Voidable | None:
        """What a voiding of this statement takes back (None: nothing it could)."""
        if self.learner is None or self.at is None:
            return None
        when = dt.datetime.fromisoformat(self.at)
        retracts = Retracted(
            id=f"xapi:{sid}", occurred_at=when, score=self.score, completed=self.completed
        )
        return Voidable(self.learner, retracts)

    @classmethod
    def of(cls, value: bytes) -> Stored | None:
        """A stored statement read from the registry topic (None if it is not one)."""
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("f"), str):
            return None
        learner, at, score, completed = data.get("l"), data.get("t"), data.get("s"), data.get("c")
        return cls(
            data["f"],
            learner if isinstance(learner, str) else None,
            at if isinstance(at, str) else None,
            float(score) if isinstance(score, int | float) else None,
            completed if isinstance(completed, str) and completed else None,
        )


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

    def voidable(self, sid: str) -> Voidable | None:
        """What a voiding of a stored statement takes back (None: unknown, or nothing)."""
        stored = self._stored.get(sid.lower())
        return stored.voidable(sid.lower()) if stored is not None else None

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

    def remember(
        self,
        statements: list[dict[str, Any]],
        learners: dict[str, str],
        voidable: dict[str, Voidable] | None = None,
    ) -> None:
        """Statements just stored; `learners` names whose they are, `voidable` what a
        voiding of those that became an event takes back (both by lowercased id)."""
        for statement in statements:
            sid = str(statement["id"]).lower()
            event = (voidable or {}).get(sid)
            at = event.retracts.occurred_at.isoformat() if event is not None else None
            score = event.retracts.score if event is not None else None
            completed = event.retracts.completed if event is not None else None
            fingerprint = statement_fingerprint(statement)
            stored = Stored(fingerprint, learners.get(sid), at, score, completed)
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
