"""Every message to a manager, HR or the wellbeing service carries a signed action link
granting its recipient their role's actions on that transition; the learner's do not."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from pydantic import SecretStr

from stream.actions.links import ACTIONS, action_links
from stream.dispatch.plan import plan
from stream.settings import Settings
from tests.test_dispatch_plan import ANA, CONFIG, TEMPLATES, transitions_for

KEY = "G4oTcI3VWcU9KpK86iup0T0iUadi_qZmxD028HB40QQ="
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def links():
    settings = Settings(action_keys=SecretStr(KEY), public_url="https://tw.example.com/")
    made = action_links(settings, "http://127.0.0.1:6066")
    assert made is not None
    return made


def test_no_keys_no_links():
    assert action_links(Settings(), "http://127.0.0.1:6066") is None


def test_each_role_but_the_learner_gets_a_link_with_its_actions():
    *_, escalation = transitions_for([6, 6, 6, 6, 0, 0, 0])
    made = links()
    result = plan(
        escalation, ANA, CONFIG, TEMPLATES, told=set(), last_nudge=None, now=NOW,
        tz=dt.UTC, links_for=made.for_transition(escalation, ANA, NOW),
    )  # fmt: skip
    assert {p.role for p in result.messages} - {"learner"}
    for planned in result.messages:
        text = planned.message.text
        if planned.role == "learner":
            assert "/act/" not in text
            continue
        url = next(w for w in text.split() if "/act/" in w)
        assert url.startswith("https://tw.example.com/act/")
        grant = made.keys.read(urlparse(url).path.rsplit("/", 1)[1], NOW)
        assert (grant.transition_id, grant.learner_id) == (escalation.id, escalation.learner_id)
        assert grant.recipient == planned.role
        assert grant.actions == ACTIONS[planned.role]
        assert grant.expires == NOW + dt.timedelta(days=14)
        assert grant.recipient_id == (ANA.manager_id if planned.role == "manager" else None)
