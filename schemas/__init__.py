"""Pydantic models of every message that crosses a boundary of tierwatch."""

from schemas.clock import Tick
from schemas.events import EventKind, LearningEvent
from schemas.reminders import FollowUpOverdue
from schemas.roster import Assignment, AssignmentKind, Intervention, LearnerProfile
from schemas.transitions import Factors, Reason, Route, TierTransition

__all__ = [
    "Assignment",
    "AssignmentKind",
    "EventKind",
    "Factors",
    "FollowUpOverdue",
    "Intervention",
    "LearnerProfile",
    "LearningEvent",
    "Reason",
    "Route",
    "Tick",
    "TierTransition",
]
