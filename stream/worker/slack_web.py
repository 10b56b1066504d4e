"""`POST /slack/actions` on the worker's web server: a click on a Slack message's button
(`stream.actions.slack`) records its intervention on the interventions topic and replaces
the message's buttons with what was recorded (posted to Slack's `response_url`). As a
link's page does, it is answered by the worker that owns the learner's partition (the
signed request forwarded there), which records nothing for a learner it no longer knows
(erased) or whose manager is no longer the button's."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import structlog
from faust.web import View
from yarl import URL

from stream.actions.links import keys_of
from stream.actions.slack import SlackRefused, read_click
from stream.worker.actions_web import reports_to
from stream.worker.ops import FORWARD_TIMEOUT_S, FORWARDED, owner_url, same_node
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.slack")
REPLY_TIMEOUT_S = 5.0


def register(pipeline: Pipeline) -> None:
    """Attach the endpoint (when the Slack signing secret and the action keys are set)."""
    settings, app = pipeline.settings, pipeline.app
    keys = keys_of(settings)
    if settings.slack_signing_secret is None or keys is None:
        return
    secret = settings.slack_signing_secret.get_secret_value()
    hosts = {h.strip() for h in settings.slack_response_hosts.split(",") if h.strip()}
    interventions = app.topic(
        pipeline.topics.interventions, key_serializer="raw", value_serializer="raw"
    )
    replies: set[asyncio.Task[None]] = set()

    async def answer(url: str, reply: dict[str, object]) -> None:
        timeout = aiohttp.ClientTimeout(total=REPLY_TIMEOUT_S)
        try:
            async with app.http_client.post(url, json=reply, timeout=timeout) as sent:
                if sent.status >= 300:
                    log.warning("slack_reply_refused", status=sent.status)
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning("slack_reply_failed", error=str(error))

    async def clicked(view: Any, request: Any) -> Any:
        now = dt.datetime.now(dt.UTC)
        body = await request.read()
        try:
            click = read_click(
                body, request.headers.get("X-Slack-Request-Timestamp"),
                request.headers.get("X-Slack-Signature"), secret, keys, hosts, now,
                now.astimezone(pipeline.policy.tz).date(),
            )  # fmt: skip
        except SlackRefused as refused:
            return view.text(str(refused), status=refused.status)
        grant = click.grant
        if click.intervention is not None and grant is not None:
            if FORWARDED not in request.headers:  # the learner's worker checks and records
                owner = owner_url(pipeline, grant.learner_id)
                if owner is not None and not same_node(owner, URL(str(app.conf.canonical_url))):
                    return await forward(view, request, owner, body)
            state = pipeline.load(grant.learner_id)
            if state is None or pipeline.is_erased(grant.learner_id):
                click = click.refused("tierwatch no longer knows this learner.")
            elif not reports_to(grant, state):
                click = click.refused("This learner is no longer in your team.")
            elif not grant.of_episode(state.episode_from):
                click = click.refused(
                    "This button is about an earlier concern: a newer message carries new ones."
                )
        made = click.intervention
        if made is not None:
            value = made.model_dump_json(exclude_none=True).encode()
            await interventions.send(key=made.learner_id.encode(), value=value)
            pipeline.metrics.worker.actions_recorded.labels(made.kind, click.recipient).inc()
            log.info("slack_action_recorded", kind=made.kind,
                     learner=pipeline.pseudonym(made.learner_id))  # fmt: skip
        if click.response_url is not None and click.reply is not None:
            task = asyncio.ensure_future(answer(click.response_url, click.reply))
            replies.add(task)
            task.add_done_callback(replies.discard)
        return view.text("", status=200)

    async def forward(view: Any, request: Any, owner: URL, body: bytes) -> Any:
        """The owner's answer (the same signed request: it checks it again)."""
        headers = {FORWARDED: "1", "Content-Type": request.headers.get("Content-Type", "")}
        for name in ("X-Slack-Request-Timestamp", "X-Slack-Signature"):
            headers[name] = request.headers.get(name, "")
        timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
        try:
            async with app.http_client.post(
                owner.join(request.rel_url), data=body, headers=headers, timeout=timeout
            ) as answer_:
                return view.text(await answer_.text(), status=answer_.status)
        except (TimeoutError, aiohttp.ClientError):
            return view.text("the learner's worker did not answer", status=503)

    class SlackActions(View):
        async def post(self, request: Any) -> Any:
            return await clicked(self, request)

    app.page("/slack/actions")(SlackActions)
