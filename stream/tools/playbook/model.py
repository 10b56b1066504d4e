"""What the playbook says, as plain data: built from the policy and the dispatch
configuration (`build`), written out as HTML or Markdown (`render`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoleRow:
    """One role of the policy and the thresholds that differ by role."""

    name: str
    exposure: str  # its exposure flags, or "none"
    missed: str  # the missed assignments that call for Tier 2
    major_drop: str  # what a major drop in one week calls for
    compliance_overdue: str  # when an overdue compliance module calls for Tier 3
    follow_up: str  # how long after an arrival at Tier 2 the follow-up is due


@dataclass(frozen=True, slots=True)
class Signal:
    """A rule every role shares: its threshold, the tier it calls for, and how a message
    says it (a sentence of `stream.core.reason_text`, with example numbers)."""

    name: str
    threshold: str
    calls_for: str
    example: str


@dataclass(frozen=True, slots=True)
class TierInfo:
    """A tier (or the wellbeing route, or a fall): what brings a learner there, who is told."""

    title: str
    means: tuple[str, ...]
    route: str
    told: tuple[str, ...]  # the recipients, in words
    channels: str  # the configured channels of the route, in words
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Moment:
    """A step of the timeline: when, what tierwatch does, what people do."""

    when: str
    happens: str
    you_do: str


@dataclass(frozen=True, slots=True)
class Script:
    """A message as dispatch would send it, for an example learner."""

    route: str
    recipient: str  # in words: "the manager"
    channels: str  # the channel types this wording is for, in words
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class Node:
    """A step of the decision tree."""

    key: str
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class Edge:
    """A way from one step to another; `back` for a step down."""

    source: str
    target: str
    label: str
    back: bool = False


@dataclass(frozen=True, slots=True)
class Tree:
    """The decision tree: observe → nudge → conversation → support plan → escalate."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    notes: tuple[str, ...]  # what the diagram leaves to words


@dataclass(frozen=True, slots=True)
class Privacy:
    """What the people told can and cannot see (`stream.dispatch.privacy`)."""

    shared: tuple[str, ...]
    never: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Playbook:
    """The whole playbook."""

    policy_file: str | None  # None: the policy shipped in the package
    dispatch_file: str | None
    weeks: str  # how weeks are counted and judged
    major_drop: str  # the policy's major drop, "50%" (a heading of the roles' table)
    roles: tuple[RoleRow, ...]
    signals: tuple[Signal, ...]
    tiers: tuple[TierInfo, ...]
    timeline: tuple[Moment, ...]
    scripts: tuple[Script, ...]
    checklist: tuple[str, ...]
    records: tuple[str, ...]  # what a manager can record from the action link
    tree: Tree
    privacy: Privacy
