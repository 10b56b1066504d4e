"""The action pages on the worker's web server: `GET /act/{token}` shows a learner's tier
and why, with a form per action the link grants; `POST /act/{token}` records one.

GET never changes anything (mail scanners open links). A post must carry the page's form
token (bound to the link, expiring) and come from tierwatch's own page (`Origin`,
`Sec-Fetch-Site`), and is answered with a redirect to the page (303), which says what was
recorded. The intervention goes to the interventions topic with an id made of the link, the
action and the day it names (`stream.actions.forms.intervention_id`): the same form posted
twice records one intervention.

A learner's state lives on the worker that owns its partition: a request for a learner
owned elsewhere is forwarded there (body and headers), as `GET /learners/{id}` is. Links
that expire, were changed, or name a manager the learner no longer reports to get a page
that says so, with a 4xx (never a stack trace).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
import structlog
from faust.web import View
from yarl import URL

from schemas.roster import Intervention
from stream.actions.forms import intervention_id, issue_form, read_form, same_site
from stream.actions.links import keys_of, named
from stream.actions.page import LABELS, SNOOZE_DAYS, page_for, refused, render
from stream.actions.team_page import render_team, team_page
from stream.actions.tokens import ActionKeys, Grant, TokenRefused
from stream.core.state import LearnerState
from stream.worker.agents.teams import team_of
from stream.worker.ops import FORWARD_TIMEOUT_S, FORWARDED, owner_url, same_node
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.actions")
MAX_FORM_BYTES = 8192
PAST_DAYS = 60  # a conversation recorded this long after it happened at most
AHEAD_DAYS = 90  # a follow-up this far ahead at most
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",  # the link's token never leaves for another site
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}


def intervention_of(
    grant: Grant, form: dict[str, str], token: str, now: dt.datetime, today: dt.date
) -> Intervention | str:
    """The intervention a posted form records, or why it cannot (a sentence)."""
    action = form.get("action", "")
    if action not in grant.actions:
        return "This link does not allow that action."
    on: dt.date | None = None
    if action in ("conversation_held", "support_plan", "snoozed"):
        try:
            on = dt.date.fromisoformat(form.get("on", ""))
        except ValueError:
            return "Please give a date."
        past = action == "conversation_held"
        low = today - dt.timedelta(days=PAST_DAYS) if past else today + dt.timedelta(days=1)
        ahead = SNOOZE_DAYS if action == "snoozed" else AHEAD_DAYS
        high = today if past else today + dt.timedelta(days=ahead)
        if not low <= on <= high:
            return f"Please give a date from {low.isoformat()} to {high.isoformat()}."
    return Intervention(  # no free text: a note never reaches a topic (README, privacy)
        id=intervention_id(token, action, on), learner_id=grant.learner_id, kind=action,
        at=now, transition_id=grant.transition_id, on=on,
    )  # fmt: skip


def page(view: Any, status: int, html: str) -> Any:
    """An HTML answer with the pages' security headers."""
    return view.bytes(html.encode(), content_type="text/html", status=status, headers=HEADERS)


def refusal(view: Any, why: str) -> Any:
    """The page that says why a link or a form was refused, with its 4xx."""
    status, html = refused(why)
    return page(view, status, html)


def reports_to(grant: Grant, state: LearnerState) -> bool:
    """Whether the link's manager is still the learner's (HR and wellbeing: any)."""
    if grant.recipient != "manager" or state.profile is None:
        return True
    return state.profile.manager_id == grant.recipient_id


class ActionPages:
    """What `GET` and `POST /act/{token}` do on one worker: the action keys, the
    interventions topic, and the public URL a post must come from."""

    def __init__(self, pipeline: Pipeline, keys: ActionKeys, interventions: Any) -> None:
        self.pipeline = pipeline
        self.app = pipeline.app
        self.policy = pipeline.policy
        self.keys = keys
        self.interventions = interventions
        # the address the links name (`stream.actions.links`): a post comes from there
        self.public = pipeline.settings.public_url or named(str(self.app.conf.canonical_url))

    async def show(self, view: Any, request: Any, token: str) -> Any:
        """The page of a link (GET), or what a posted form records (POST)."""
        grant, answer = await self.grant_and_owner(view, request, token)
        if grant is None:
            return answer
        state = self.pipeline.load(grant.learner_id)
        if state is None:
            return refusal(view, "unknown")
        if not reports_to(grant, state):
            return refusal(view, "other_team")
        if not grant.of_episode(state.episode_from):
            return refusal(view, "earlier_episode")
        now = dt.datetime.now(dt.UTC)
        if request.method != "POST":
            fresh = issue_form(self.keys, token, now)
            done = request.query.get("done")
            return page(view, 200, render(page_for(grant, state, self.policy, now, fresh, done)))
        return await self.record(view, request, token, grant, state, now)

    async def record(
        self, view: Any, request: Any, token: str, grant: Grant, state: LearnerState,
        now: dt.datetime,
    ) -> Any:  # fmt: skip
        """Record a posted form's action, then redirect to the page (303); the page again
        (400) when the form asks for something the link does not allow."""
        headers = request.headers
        if not same_site(headers.get("Origin"), headers.get("Sec-Fetch-Site"), self.public):
            return refusal(view, "form")
        if (request.content_length or 0) > MAX_FORM_BYTES:
            return refusal(view, "form")
        form = {k: str(v) for k, v in (await request.post()).items()}
        try:
            read_form(self.keys, form.get("form", ""), token, now)
        except TokenRefused:
            return refusal(view, "form")
        made = intervention_of(grant, form, token, now, now.astimezone(self.policy.tz).date())
        if isinstance(made, str):  # the page again, saying what to correct
            fresh = issue_form(self.keys, token, now)
            again = page_for(grant, state, self.policy, now, fresh, error=made)
            return page(view, 400, render(again))
        await self.send(made, grant)
        location = f"?done={made.kind}"  # relative: the page's own path, behind any proxy
        return view.bytes(b"", status=303, headers={**HEADERS, "Location": location})

    async def send(self, made: Intervention, grant: Grant) -> None:
        """Put an intervention on the interventions topic, counted and logged."""
        await self.interventions.send(
            key=grant.learner_id.encode(), value=made.model_dump_json(exclude_none=True).encode()
        )
        self.pipeline.metrics.worker.actions_recorded.labels(made.kind, grant.recipient).inc()
        log.info("action_recorded", kind=made.kind, recipient=grant.recipient,
                 learner=self.pipeline.pseudonym(grant.learner_id))  # fmt: skip

    async def grant_and_owner(
        self, view: Any, request: Any, token: str
    ) -> tuple[Grant | None, Any]:
        """The link's grant, or the answer: a refusal, or the owner's (forwarded)."""
        try:
            grant = self.keys.read(token, dt.datetime.now(dt.UTC))
        except TokenRefused as refused_:
            return None, refusal(view, refused_.why)
        if FORWARDED not in request.headers:
            owner = owner_url(self.pipeline, grant.learner_id)
            if owner is None:
                return None, refusal(view, "unavailable")
            if not same_node(owner, URL(str(self.app.conf.canonical_url))):
                return None, await forward(self.app, view, request, owner)
        return grant, None


async def forward(app: Any, view: Any, request: Any, owner: URL) -> Any:
    """The owner's answer to a request for a learner of another worker's partition
    (the body and the headers a post is checked by go along)."""
    headers = {FORWARDED: "1"}
    for name in ("Origin", "Sec-Fetch-Site", "Content-Type"):
        if name in request.headers:
            headers[name] = request.headers[name]
    body = await request.read() if request.method == "POST" else None
    timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
    try:
        async with app.http_client.request(
            request.method, owner.join(request.rel_url), data=body, headers=headers,
            timeout=timeout, allow_redirects=False,
        ) as answer:  # fmt: skip
            out = dict(HEADERS)
            if "Location" in answer.headers:
                out["Location"] = answer.headers["Location"]
            return view.bytes(await answer.read(), content_type=answer.content_type,
                              status=answer.status, headers=out)  # fmt: skip
    except (TimeoutError, aiohttp.ClientError):
        return refusal(view, "unavailable")


class TeamPages:
    """What `GET /team/{token}` shows on one worker: a manager's team view, from the
    teams table (forwarded to the worker that owns the manager's partition)."""

    def __init__(self, pipeline: Pipeline, keys: ActionKeys, teams: Any) -> None:
        self.pipeline = pipeline
        self.keys = keys
        self.teams = teams

    async def show(self, view: Any, request: Any, token: str) -> Any:
        now = dt.datetime.now(dt.UTC)
        try:
            grant = self.keys.read_team(token, now)
        except TokenRefused as refused_:
            return refusal(view, refused_.why)
        pipeline = self.pipeline
        if FORWARDED not in request.headers:
            owner = owner_url(pipeline, grant.manager_id, self.teams)
            if owner is None:
                return refusal(view, "unavailable")
            if not same_node(owner, URL(str(pipeline.app.conf.canonical_url))):
                return await forward(pipeline.app, view, request, owner)
        rows = team_of(self.teams.get(grant.manager_id))
        query = {k: str(v) for k, v in request.query.items()}
        today = now.astimezone(pipeline.policy.tz).date()
        built = team_page(rows, grant.manager_id, query, self.keys, now, today,
                          pipeline.settings.action_link_days)  # fmt: skip
        return page(view, 200, render_team(built))


def register(pipeline: Pipeline, teams: Any = None) -> None:
    """Attach the action pages and the team view (with the teams table) to the worker's
    web server, when action keys are set."""
    keys = keys_of(pipeline.settings)
    if keys is None:
        return
    app = pipeline.app
    interventions = app.topic(
        pipeline.topics.interventions, key_serializer="raw", value_serializer="raw"
    )
    pages = ActionPages(pipeline, keys, interventions)

    class ActionPage(View):
        """GET shows, POST records (see the module)."""

        async def get(self, request: Any, token: str) -> Any:
            return await pages.show(self, request, token)

        async def post(self, request: Any, token: str) -> Any:
            return await pages.show(self, request, token)

    app.page("/act/{token}")(ActionPage)
    if teams is None:
        return
    team_pages = TeamPages(pipeline, keys, teams)

    class TeamView(View):
        """A manager's team view (GET only: filters and sorting are its query)."""

        async def get(self, request: Any, token: str) -> Any:
            return await team_pages.show(self, request, token)

    app.page("/team/{token}")(TeamView)


__all__ = ["LABELS", "intervention_of", "register"]
