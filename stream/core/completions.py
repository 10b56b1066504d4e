"""Completions, and taking one back.

A completion closes the learner's assignment of its object at once (a duty completed long
after its due day would otherwise wait for a tick to prune it), and its object is
remembered as done (`completed_objects`, keys), for an assignment of it that comes later
or again: events and assignments come on different topics, and either may come first.

Each closed assignment is also kept (`LearnerState.completions`: the object, its kind and
due date), whichever came first, the assignment or the completion, so that the state is
the same in either order (the stream reads the two topics in no fixed order, replay in
time order). A voided completion names the object it completed (`Retracted.completed`):
the object is no longer done, and its kept assignment is open again, its overdue days
counted from its due date as if it had never been completed. Kept are the assignments due
latest, a few (an order that does not depend on arrival: the same ones are kept in any
order, as long as no voiding comes between); a milestone's until its counting window has
passed. What a completion closed beyond those is done for good (README, known limits);
an object completed twice is open again when one of its completions is voided: the keys
do not count completions.
"""

from __future__ import annotations

import datetime as dt

from schemas.roster import Assignment, AssignmentKind
from stream.core.keys import event_key
from stream.core.policy import Policy
from stream.core.state import AssignmentState, Completion, LearnerState

MAX_COMPLETED = 256  # completed object keys remembered for assignments that arrive later
# closed assignments kept for a voiding to reopen: voiding is rare, and a learner's stored
# state keeps under about a kibibyte (a row is about 45 bytes)
MAX_REOPENABLE = 3


def complete(state: LearnerState, object_id: str) -> None:
    """A completion of `object_id` came."""
    closed = state.assignments.pop(object_id, None)
    module = event_key(object_id)
    if module not in state.completed_objects:
        state.completed_objects = [*state.completed_objects, module][-MAX_COMPLETED:]
    if closed is not None and not closed.completed:
        _keep(state, object_id, closed.kind, closed.due)


def assigned(state: LearnerState, assignment: Assignment) -> None:
    """An assignment came: open it, unless it is completed or withdrawn."""
    module_id = assignment.module_id
    known = state.assignments.get(module_id)
    if assignment.withdrawn:  # no longer to do, and nothing to reopen
        state.assignments.pop(module_id, None)
        state.completions = [c for c in state.completions if c.object_id != module_id]
    elif known.completed if known else event_key(module_id) in state.completed_objects:
        state.assignments.pop(module_id, None)
        _keep(state, module_id, assignment.kind, assignment.due)
    else:
        state.assignments[module_id] = AssignmentState(kind=assignment.kind, due=assignment.due)


def reopen(state: LearnerState, object_id: str) -> bool:
    """A completion of `object_id` was voided: it is no longer done, and its kept
    assignment is open again; whether anything changed."""
    module = event_key(object_id)
    was_done = module in state.completed_objects
    state.completed_objects = [m for m in state.completed_objects if m != module]
    kept = next((c for c in state.completions if c.object_id == object_id), None)
    if kept is not None:
        state.completions = [c for c in state.completions if c is not kept]
        state.assignments[object_id] = AssignmentState(kind=kept.kind, due=kept.due)
    return was_done or kept is not None


def prune(state: LearnerState, cutoff: dt.date, policy: Policy) -> None:
    """Milestones due before `cutoff` have nothing left to reopen: reopened, they would no
    longer count."""
    until = policy.assignments.until_completed
    stale = [c for c in state.completions if c.due < cutoff and c.kind not in until]
    if stale:
        state.completions = [c for c in state.completions if c not in stale]


def _keep(state: LearnerState, object_id: str, kind: AssignmentKind, due: dt.date) -> None:
    row = Completion(object_id=object_id, kind=kind, due=due)
    rows = [c for c in state.completions if c.object_id != object_id] + [row]
    rows.sort(key=lambda c: (c.due, c.object_id))
    state.completions = rows[-MAX_REOPENABLE:]
