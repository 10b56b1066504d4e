"""The action link of a real email, over HTTP against a real worker (issue 13, item 5).

One worker on the embedded broker streams a history that brings each learner to Tier 2;
its manager-outreach emails reach a real SMTP server, and each test takes its learner's
link out of one. GET shows the page and changes nothing; a same-site POST with the page's
form token records one intervention on the interventions topic, which the worker applies
once however often the form is posted; tampered, expired, other-team and cross-site
requests get a page and a 4xx and record nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator

import orjson
import pytest

from stream.actions.links import action_links
from stream.actions.page import REFUSALS
from stream.actions.tokens import ActionKeys
from stream.core.step import intervention_key
from stream.dispatch.privacy import scan_text
from stream.settings import Settings
from tests.browser_kit import (
    ACTIVITY,
    SLACK_SECRET,
    Learner,
    World,
    form_token,
    http,
    roster,
    running,
    tampered,
    wait_until,
)
from tests.dispatch_receivers import HttpReceiver
from tests.kit import run, weeks

pytestmark = pytest.mark.broker

ADA = Learner("u-ada", "Ada Lovelace", "ada.lovelace@example.com")
BEN = Learner("u-ben", "Ben Okri", "ben.okri@example.com")
CAI = Learner("u-cai", "Cai Lun", "cai.lun@example.com")
DEE = Learner("u-dee", "Dee Dee", "dee.dee@example.com")
EVE = Learner("u-eve", "Eve Arden", "eve.arden@example.com")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
STATUS = {"invalid": 400, "expired": 410, "other_team": 403, "form": 400, "earlier_episode": 410}
TODAY = re.compile(r'id="held-on" name="on" value="(\d{4}-\d\d-\d\d)"')


@pytest.fixture(scope="module")
def world(broker, tmp_path_factory) -> Iterator[World]:
    unique = f"t{uuid.uuid4().hex[:8]}"
    with running(
        broker, unique, tmp_path_factory.mktemp("actions"), [ADA, BEN, CAI, DEE, EVE]
    ) as w:
        yield w


def page_of(world: World, link: str) -> tuple[bytes, str]:
    """An action page (200) and its form token."""
    status, headers, body = http("GET", link)
    assert status == 200, body[:500]
    assert headers["Content-Type"].startswith("text/html")
    return body, form_token(body)


def post(world: World, link: str, form: dict[str, str], origin: str | None = None) -> tuple:
    headers = {"Origin": origin if origin is not None else world.web}
    return http("POST", link, form=form, headers=headers)


def recorded_by_barrier(world: World, learner: str, before: dict[int, int]) -> list:
    """A `not_useful` posted last for `learner`: once it is on the topic, whatever the
    requests before it sent for that learner (same key, same partition) is there too.
    The learner's records after `before`, the barrier's last."""
    _, form = page_of(world, world.links[learner])
    status, _, _ = post(world, world.links[learner], {"form": form, "action": "not_useful"})
    assert status == 303
    mine = [i for i in world.since(before, 1) if i.learner_id == learner]
    assert mine[-1].kind == "not_useful"
    return mine


def test_the_outreach_email_links_to_a_page_with_name_and_tier_and_no_contact(world):
    """The manager's email carries the action link (no learner id or e-mail readable in
    it); the page names the learner as the roster does, shows the tier the transition
    reached, offers the manager's actions, and shows no e-mail address."""
    link = world.links[ADA.id]
    assert "Record what you did" in world.mails[ADA.id]
    assert link.startswith(f"{world.web}/act/")
    assert ADA.id not in link
    assert ADA.email not in link
    body, _ = page_of(world, link)
    html = body.decode()
    assert f"<h1>{ADA.name}" in html
    tier = world.outreach[ADA.id].to_tier
    assert f'Tier <span class="tier">{tier}</span>' in html
    assert 'value="conversation_held"' in html
    assert ADA.email not in html
    assert "mia@example.com" not in html
    assert not EMAIL.search(html)  # no address of anybody


def test_a_post_records_one_intervention_however_often_the_form_is_sent(world):
    """POST conversation_held (form token, same-origin Origin) → 303 to the page saying
    what was recorded; the intervention (without the note) is on the topic, in the learner's
    stored state and counted on time or late; the same form posted again sends the same id,
    and the worker applies it once and counts it once."""
    link = world.links[BEN.id]
    before = world.mark()
    applied = world.applied()
    duplicates = world.metric("tierwatch_duplicates_total")
    body, form = page_of(world, link)
    (today,) = TODAY.findall(body.decode())
    fields = {"form": form, "action": "conversation_held", "on": today, "note": "went well"}
    due = world.outreach[BEN.id].follow_up_due
    assert due is not None
    labels = {"outcome": "on_time" if today <= due.isoformat() else "late", "team": "t1"}
    counted = world.metric("tierwatch_conversations_total", **labels)

    status, headers, _ = post(world, link, fields)
    assert status == 303
    assert headers["Location"] == "?done=conversation_held"  # relative: its own path
    (first,) = world.since(before, 1)
    assert first.learner_id == BEN.id
    assert first.kind == "conversation_held"
    assert first.on is not None
    assert first.on.isoformat() == today
    assert first.transition_id == world.outreach[BEN.id].id
    assert first.id is not None
    assert first.id.startswith("act:")
    assert first.note is None  # free text never reaches a topic
    wait_until(lambda: world.applied() >= applied + 1, "the worker to apply the intervention")
    state = wait_until(
        lambda: (s := world.state(BEN.id)).last_intervention == "conversation_held" and s,
        "the learner's stored state to show the conversation",
    )
    assert state.seen_interventions.count(intervention_key(first)) == 1
    seen = len(state.seen_interventions)
    wait_until(
        lambda: world.metric("tierwatch_conversations_total", **labels) == counted + 1,
        "the conversation to be counted on time or late",
    )
    done, _ = page_of(world, f"{link}?done=conversation_held")
    assert "Recorded: We had the conversation" in done.decode()

    status, _, _ = post(world, link, fields)
    assert status == 303
    again = world.since(before, 2)
    assert [i.id for i in again] == [first.id, first.id]
    wait_until(
        lambda: world.metric("tierwatch_duplicates_total") >= duplicates + 1,
        "the worker to drop the repeat as a duplicate",
    )
    state = world.state(BEN.id)
    assert state.seen_interventions.count(intervention_key(first)) == 1
    assert len(state.seen_interventions) == seen
    assert world.metric("tierwatch_conversations_total", **labels) == counted + 1
    assert world.learner_view(BEN.id)["tier"] == world.outreach[BEN.id].to_tier


def test_get_never_changes_anything(world):
    """Opening the link (as a mail scanner would, again and again, with or without a
    `done` notice) sends nothing: the learner's only record afterwards is the post that
    follows the GETs, and the stored state is the one from before."""
    link = world.links[CAI.id]
    before = world.mark()
    state = world.state(CAI.id)
    for url in (link, link, f"{link}?done=resolved", f"{link}?done=concern_raised"):
        assert http("GET", url)[0] == 200
    assert http("HEAD", link)[0] in (200, 405)
    assert world.mark() == before
    assert world.state(CAI.id) == state
    assert [i.kind for i in recorded_by_barrier(world, CAI.id, before)] == ["not_useful"]


def test_bad_links_and_bad_posts_get_a_page_with_a_4xx_and_record_nothing(world):
    """Tampered 400, expired 410, another manager's 403, a link of an earlier episode (its
    transition before the learner's current episode began) 410; a post from another site, or
    without the form token, or with another link's form token, 400: each an HTML page with
    its heading and no stack trace; none of them sends an intervention."""
    link = world.links[DEE.id]
    before = world.mark()
    _, form = page_of(world, link)
    _, other_form = page_of(world, world.links[ADA.id])
    held = {"action": "conversation_held", "on": "", "note": ""}
    gets = {
        "invalid": tampered(link),
        "expired": world.link(DEE.id, expires=world.outreach[DEE.id].at),
        "other_team": world.link(DEE.id, recipient_id="m2"),
        "earlier_episode": world.link(
            DEE.id, at=world.state(DEE.id).episode_from - dt.timedelta(days=1)
        ),
    }
    answers = {why: http("GET", url) for why, url in gets.items()}
    answers["tampered post"] = post(world, tampered(link), {**held, "form": form})
    answers["cross-site"] = post(world, link, {**held, "form": form}, "https://evil.example")
    answers["fetch-site"] = http(
        "POST", link, form={**held, "form": form}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    answers["no form"] = post(world, link, held)
    answers["other form"] = post(world, link, {**held, "form": other_form})
    expected = {
        "invalid": "invalid", "expired": "expired", "other_team": "other_team",
        "earlier_episode": "earlier_episode",
        "tampered post": "invalid", "cross-site": "form", "fetch-site": "form",
        "no form": "form", "other form": "form",
    }  # fmt: skip
    for case, why in expected.items():
        status, headers, body = answers[case]
        assert (case, status) == (case, STATUS[why])
        assert headers["Content-Type"].startswith("text/html"), case
        html = body.decode()
        assert f"<h1>{REFUSALS[why][1]}</h1>" in html, case
        assert "Traceback" not in html, case
        assert 'name="form"' not in html, case
    assert [i.kind for i in recorded_by_barrier(world, DEE.id, before)] == ["not_useful"]


def test_a_link_stops_working_when_the_learner_moves_to_another_manager(world):
    """The roster moves Eve to another manager: the link her former manager got now
    answers 403 with its page, GET and POST alike, and records nothing."""
    link = world.links[EVE.id]
    _, form = page_of(world, link)
    before = world.mark()
    world.send(roster(EVE, manager="m2"))
    status, _, body = wait_until(
        lambda: (answer := http("GET", link))[0] != 200 and answer, "the move to reach the worker"
    )
    assert status == STATUS["other_team"]
    assert f"<h1>{REFUSALS['other_team'][1]}</h1>" in body.decode()
    status, _, _ = post(world, link, {"form": form, "action": "resolved"})
    assert status == STATUS["other_team"]
    assert world.mark() == before


def test_a_post_as_chromium_sends_it_from_the_page_is_accepted(world):
    """A same-origin form post under the page's no-referrer policy (Origin: null,
    Sec-Fetch-Site: same-origin) is the manager's own, and is recorded."""
    link = world.links[ADA.id]
    _, form = page_of(world, link)
    headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    status, _, body = http("POST", link, {"form": form, "action": "not_useful"}, headers)
    assert status == 303, body[:300]


def test_links_on_the_default_worker_address_pass_the_privacy_scan():
    """A worker left at its defaults (no public URL) sends links that a message may carry."""
    settings = Settings(action_keys=ActionKeys.generate())
    own = f"http://{settings.web_host}:{settings.web_port}"  # Faust's canonical URL
    links = action_links(settings, own)
    assert links is not None
    (outreach, *_) = [t for t in run([roster(ADA), *weeks(ADA.id, ACTIVITY)], 8) if t.to_tier == 2]
    url = links.for_transition(outreach, None, dt.datetime.now(dt.UTC))("manager")["act"]
    assert scan_text(url, outreach.id) == []


def slack_click(token: str, url: str, secret: str = SLACK_SECRET) -> tuple[dict, dict[str, str]]:
    """A button click as Slack posts it: the form body and its v0 signature headers."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "name": "mia"},
        "response_url": url,
        "message": {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]},
        "actions": [{"action_id": "tierwatch.conversation_held",
                     "value": f"conversation_held {token}"}],
    }  # fmt: skip
    form = {"payload": orjson.dumps(payload).decode()}
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:{urllib.parse.urlencode(form)}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return form, {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def test_a_signed_slack_click_on_the_worker_records_once_and_replaces_the_buttons(world):
    """Item 2 against a running worker: Mia clicks "conversation held" on Ada's Slack
    message twice (Slack retries): 200 both times, the same intervention id on the topic,
    and the message replaced (at Slack's response_url) by what was recorded; a click
    signed with another secret is 401 and records nothing."""
    token = world.links[ADA.id].rpartition("/")[2]

    async def clicks() -> tuple[list[int], list]:
        async with HttpReceiver() as slack:
            url = slack.url("/actions/T1/1/x")
            statuses = []
            for secret in (SLACK_SECRET, SLACK_SECRET, "not-the-secret"):
                form, headers = slack_click(token, url, secret)
                status, _, _ = await asyncio.to_thread(
                    http, "POST", f"{world.web}/slack/actions", form, headers
                )
                statuses.append(status)
            for _ in range(100):
                if len(slack.at("/actions/T1/1/x")) >= 2:
                    break
                await asyncio.sleep(0.1)
            return statuses, slack.at("/actions/T1/1/x")

    before = world.mark()
    statuses, replies = asyncio.run(clicks())
    assert statuses == [200, 200, 401]
    assert len(replies) == 2
    reply = orjson.loads(replies[0].body)
    assert "Recorded by mia" in reply["text"]
    assert "actions" not in [b["type"] for b in reply["blocks"]]  # the buttons are gone
    mine = recorded_by_barrier(world, ADA.id, before)
    assert [i.kind for i in mine] == ["conversation_held", "conversation_held", "not_useful"]
    assert mine[0].id == mine[1].id  # one intervention, however often it is clicked
