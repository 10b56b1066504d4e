"""xAPI voiding: a statement that voids another becomes a `voided` event for the learner of
the statement it voids, naming that statement's event, its time and its score
(`schemas.events.Retracted`); the core takes back what that event gave
(`stream.core.retraction`).

The statement voided must be known: in the same request, or to the caller's `Lookup`
(ingest's registry of stored statements). One voiding an unknown statement, or one that
became no event (a voiding cannot be voided), is valid xAPI and taken, but counted as
unused (`void_unknown`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.events import LearningEvent, Retracted


@dataclass(frozen=True, slots=True)
class Voidable:
    """What a voiding needs of the statement it voids: whose it was, and its event."""

    learner_id: str
    retracts: Retracted


Lookup = Callable[[str], Voidable | None]  # a lowercased statement id -> what it was


def unknown(statement_id: str) -> Voidable | None:
    """A lookup that knows no statement."""
    return None


def voidable(event: LearningEvent) -> Voidable | None:
    """What a voiding of the statement that made `event` takes back (None for a voiding:
    it cannot be voided). Only an assessment's score entered the learner's scores, only a
    completion completed its object."""
    if event.kind == "voided":
        return None
    score = event.score if event.kind == "assessment" else None
    completed = event.object_id if event.kind == "completion" else None
    retracts = Retracted(
        id=event.id, occurred_at=event.occurred_at, score=score, completed=completed
    )
    return Voidable(event.learner_id, retracts)
