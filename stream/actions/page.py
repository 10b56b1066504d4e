"""The page an action link opens: who, which tier and why, what to do, and the forms.

Built from the learner's state (aggregates only, as `GET /learners/{id}` shows them: the
reasons with their numbers, never events, scores of single assessments, assignment names
or contacts) and the grant of the link (which actions its recipient may record). Rendered
on the server with Jinja2 (autoescaped); the page works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from stream.actions.tokens import Action, Grant
from stream.core.policy import Policy
from stream.core.reason_view import reason_view
from stream.core.state import LearnerState
from stream.core.weeks import local_date

TEMPLATES = Path(__file__).parent / "templates"
SNOOZE_DAYS = 30  # a snooze this far ahead at most
STEPS = ("observe", "nudge", "conversation", "support plan", "escalate")
LABELS: dict[Action, str] = {
    "conversation_held": "We had the conversation",
    "support_plan": "We agreed a support plan",
    "concern_raised": "I have a concern (involve HR or wellbeing)",
    "resolved": "Resolved: no further support needed",
    "snoozed": "Snooze my prompts about this learner",
    "not_useful": "This prompt was not useful",
    "incorrectly_flagged": "This learner was flagged incorrectly",
}
SCRIPT = (
    'Open with what you noticed, as an observation: "I noticed a change in your learning '
    'lately and wanted to check in with you."',
    'Ask an open question: "How are things going at the moment? Is anything making '
    'learning harder to fit in?"',
    "Listen first, then offer options that fit what you hear: coaching or pairing, "
    "protected learning time or a later deadline, wellbeing support.",
    "Agree one small next step, and a date to follow up.",
)
CHECKLIST = (
    "Held in private, at a time that suits them",
    "Framed as support, not performance management",
    "One next step agreed, with a follow-up date",
    "Wellbeing support offered if something personal came up",
)
REFUSALS: dict[str, tuple[int, str, str]] = {
    "expired": (410, "This link has expired", "Links in tierwatch messages work for a limited "
                "time. The next message about this learner will carry a new one."),
    "invalid": (400, "This link is not valid", "The link may have been cut short or changed "
                "when it was copied. Open it again from the message."),
    "other_team": (403, "This learner is no longer in your team", "The link was sent to their "
                   "manager at the time. Their current manager gets the next message."),
    "form": (400, "This form has expired", "Open the link from the message again and submit "
             "the form once more."),
    "earlier_episode": (410, "This link is about an earlier concern", "Things have moved on "
                        "since this message: a newer message about this learner carries a "
                        "link that records what you did now."),
    "unavailable": (503, "Please try again in a moment", "tierwatch is moving this learner's "
                    "data between its workers. Reload the page in a few seconds."),
    "unknown": (404, "Nothing to show for this learner", "tierwatch has no record of this "
                "learner any more (their data may have been erased)."),
}  # fmt: skip


@dataclass(frozen=True)
class ActionPage:
    """What the page shows."""

    name: str
    team: str | None
    tier: int
    since: str | None
    reasons: list[dict[str, Any]]
    follow_up_due: str | None
    step: str
    actions: list[tuple[str, str]]
    form: str
    today: str
    recorded: str | None = None
    error: str | None = None
    steps: tuple[str, ...] = STEPS
    snooze_days: int = SNOOZE_DAYS
    script: tuple[str, ...] = SCRIPT
    checklist: tuple[str, ...] = CHECKLIST
    extra: dict[str, Any] = field(default_factory=dict)


def step_of(state: LearnerState) -> str:
    """Where the learner is on the decision tree."""
    if state.tier >= 3:
        return "escalate"
    if state.tier == 2:
        return "support plan" if state.last_intervention == "support_plan" else "conversation"
    return "nudge" if state.tier == 1 else "observe"


def page_for(
    grant: Grant, state: LearnerState, policy: Policy, now: dt.datetime, form: str,
    recorded: str | None = None, error: str | None = None,
) -> ActionPage:  # fmt: skip
    profile = state.profile
    since = local_date(state.tier_since, policy.tz) if state.tier_since is not None else None
    return ActionPage(
        name=(profile.name if profile and profile.name else "this learner"),
        team=profile.team if profile else None,
        tier=state.tier,
        since=since.isoformat() if since else None,
        reasons=[reason_view(r) for r in state.reasons],
        follow_up_due=state.follow_up_due.isoformat() if state.follow_up_due else None,
        step=step_of(state),
        actions=[(a, LABELS[a]) for a in grant.actions],
        form=form,
        today=local_date(now, policy.tz).isoformat(),
        recorded=LABELS.get(recorded) if recorded in LABELS else None,
        error=error,
    )


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def environment() -> jinja2.Environment:
    """The pages' templates (autoescaped HTML, undefined names refused)."""
    return _env


def render(page: ActionPage) -> str:
    return _env.get_template("action.html.j2").render(page=page)


def refused(why: str) -> tuple[int, str]:
    """The status and page of a link or form that grants nothing."""
    status, title, text = REFUSALS.get(why, REFUSALS["invalid"])
    return status, _env.get_template("refused.html.j2").render(title=title, text=text)
