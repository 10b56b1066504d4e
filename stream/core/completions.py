"""Completions, and taking one back.

A completion closes the learner's assignment of its object at once (a duty completed long
after its due day would otherwise wait for a tick to prune it). What is done is remembered
for an assignment that comes later or again (events and assignments come on different
topics, and either may come first): the last few completions that closed an assignment as
rows with the assignment (`LearnerState.completions`), every other completed object as its
key (`completed_objects`; a row that leaves the rows leaves its key there).

Voiding a completion (`stream.core.retraction`) reopens the assignment its row closed: its
overdue days counted from its due date as if it had never been completed; unless another
completion of the same object is remembered. A completion that closed nothing (its
assignment not known yet), or whose row has left the rows, is not undone (README, known
limits). A withdrawn assignment has nothing left to reopen.
"""

from __future__ import annotations

import datetime as dt

from schemas.roster import Assignment
from stream.core.keys import event_key
from stream.core.policy import Policy
from stream.core.state import AssignmentState, Completion, LearnerState

MAX_COMPLETED = 256  # completed object keys remembered for assignments that arrive later
# completions remembered with the assignment they closed, newest last: voiding is rare and
# reaches back only as far as a correction does, and a learner's stored state keeps under a
# kibibyte (a row is about 60 bytes)
MAX_REOPENABLE = 3


def short_key(key: int) -> int:
    """The part of an event key a completion's row keeps (32 bits: only a voiding of the
    learner's own last few completions is compared with it)."""
    return key & 0xFFFFFFFF


def done(state: LearnerState, object_id: str) -> bool:
    """Whether a completion of `object_id` is remembered."""
    if any(c.object_id == object_id for c in state.completions):
        return True
    return event_key(object_id) in state.completed_objects


def complete(state: LearnerState, key: int, object_id: str) -> None:
    """The event with this key completed `object_id`."""
    closed = state.assignments.pop(object_id, None)
    if closed is None or closed.completed:
        _remember(state, object_id)
        return
    row = Completion(key=short_key(key), object_id=object_id, kind=closed.kind, due=closed.due)
    rows = [*state.completions, row]
    for gone in rows[:-MAX_REOPENABLE]:
        _remember(state, gone.object_id)
    state.completions = rows[-MAX_REOPENABLE:]


def assigned(state: LearnerState, assignment: Assignment) -> None:
    """An assignment came: open it, unless it is completed or withdrawn."""
    module_id = assignment.module_id
    known = state.assignments.get(module_id)
    if assignment.withdrawn:  # no longer to do, and nothing to reopen
        state.assignments.pop(module_id, None)
        state.completions = [c for c in state.completions if c.object_id != module_id]
    elif known.completed if known else done(state, module_id):
        state.assignments.pop(module_id, None)
    else:
        state.assignments[module_id] = AssignmentState(kind=assignment.kind, due=assignment.due)


def reopen(state: LearnerState, key: int) -> bool:
    """Undo the completion with this key if its row is remembered; whether that reopened
    its assignment (not when another completion of the same object is remembered)."""
    short = short_key(key)
    found = next((c for c in state.completions if c.key == short), None)
    if found is None:
        return False
    state.completions = [c for c in state.completions if c is not found]
    if done(state, found.object_id):
        return False
    state.assignments[found.object_id] = AssignmentState(kind=found.kind, due=found.due)
    return True


def prune(state: LearnerState, cutoff: dt.date, policy: Policy) -> None:
    """Rows of milestones due before `cutoff` have nothing left to reopen: reopened, they
    would no longer count; their objects are remembered as keys."""
    until = policy.assignments.until_completed
    stale = [c for c in state.completions if c.due < cutoff and c.kind not in until]
    if stale:
        state.completions = [c for c in state.completions if c not in stale]
        for row in stale:
            _remember(state, row.object_id)


def _remember(state: LearnerState, object_id: str) -> None:
    module = event_key(object_id)
    if module not in state.completed_objects:
        state.completed_objects = [*state.completed_objects, module][-MAX_COMPLETED:]
