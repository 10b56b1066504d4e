"""The team playbook (issue 15, item 3): generated from the policy and the dispatch
configuration, so that a threshold changed in the policy is a playbook changed, at the right
role's row, in both formats; the scripts shown are the ones dispatch sends; the Markdown is
well formed."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markupsafe import escape

from stream.actions.page import CHECKLIST
from stream.core.policy import Policy, parse_policy
from stream.dispatch.config import DispatchConfig, parse_dispatch
from stream.dispatch.plan import plan
from stream.dispatch.privacy import NEVER_SENT, SHARED, outbound, scan_text
from stream.dispatch.templates import Templates
from stream.policyfile import load_policy
from stream.tools.playbook import build, render
from stream.tools.playbook.diagram import mermaid, sentences, svg
from stream.tools.playbook.examples import PROFILE, examples, links_for

SHIPPED = Path(__file__).parent.parent / "stream" / "default_policy.yaml"
ROLE_COLUMNS = 6  # role, exposure, missed, major drop, compliance overdue, follow-up
HOOK = {"type": "webhook", "url": "https://notify.example.com/hook",
        "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}  # fmt: skip
ROUTES = ("learner_nudge", "manager_outreach", "hr_escalation", "wellbeing", "resolved")


def esc(text: str) -> str:
    """Text as the HTML page has it (Jinja2's escaping)."""
    return str(escape(text))


def policy_with(**changes: Any) -> Policy:
    """The shipped policy with `changes` (a section or `roles`) merged over it."""
    import yaml

    data = yaml.safe_load(SHIPPED.read_text())
    for section, values in changes.items():
        if isinstance(values, dict) and section != "roles":
            data[section] = {**data.get(section, {}), **values}
        elif section == "roles":
            for name, role in values.items():
                data["roles"][name] = {**data["roles"].get(name, {}), **role}
        else:
            data[section] = values
    return parse_policy(data)


def both(policy: Policy, config: DispatchConfig | None = None) -> tuple[str, str]:
    playbook = build(policy, config)
    return render(playbook, "html"), render(playbook, "md")


def md_tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown text as rows of cell texts (the header row first), as a
    CommonMark parser with GFM tables reads it."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in tokens:
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close" and row is not None:
            tables[-1].append(row)
            row = None
    return tables


def md_role_rows(text: str) -> dict[str, list[str]]:
    (roles, *_) = md_tables(text)
    return {re.sub(r"\\(.)", r"\1", cells[0]): cells for cells in roles[1:]}


def html_role_row(text: str, role: str) -> str:
    found = re.search(rf'<tr id="role-{re.escape(role)}">(.*?)</tr>', text, re.S)
    assert found, f"no row for {role}"
    return html.unescape(re.sub(r"<[^>]+>", "|", found.group(1)))


def test_every_role_of_the_policy_has_a_row_in_both_formats():
    """Each role of the policy, the shipped ones and one added, has its row in the HTML
    and in the Markdown table, and no other row is there."""
    policy = policy_with(roles={"field_engineer": {"customer_facing": True}})
    page, md = both(policy)
    assert set(md_role_rows(md)) == set(policy.roles)
    for role in policy.roles:
        assert role in html_role_row(page, role)
    assert len(re.findall(r'<tr id="role-', page)) == len(policy.roles)


@pytest.mark.parametrize(
    ("change", "role", "before", "after"),
    [
        ({"roles": {"sales_rep": {"missed_thresholds": {"certification": 3}}}},
         "sales_rep", "2 certifications", "3 certifications"),
        ({"roles": {"back_office": {"customer_facing": True}}},
         "back_office", "Tier 1, then by the weeks in a row", "Tier 2 at once"),
        ({"roles": {"team_lead": {"compliance_sensitive": True}}},
         "team_lead", "Tier 3 when more than 14 days overdue", "Tier 3 from its first day overdue"),
    ],
)  # fmt: skip
def test_a_role_threshold_changed_changes_that_roles_row_only(change, role, before, after):
    """One role's threshold changed in the policy: that role's row says the new value in
    both formats, and every other role's row is as it was."""
    old_html, old_md = both(load_policy(SHIPPED))
    new_html, new_md = both(policy_with(**change))
    old_rows, new_rows = md_role_rows(old_md), md_role_rows(new_md)
    assert before in " ".join(old_rows[role])
    assert after not in " ".join(old_rows[role])
    assert after in " ".join(new_rows[role])
    assert after in html_role_row(new_html, role)
    assert after not in html_role_row(old_html, role)
    for other in old_rows:
        if other != role:
            assert new_rows[other] == old_rows[other]
            assert html_role_row(new_html, other) == html_role_row(old_html, other)


def test_a_shared_threshold_changed_shows_wherever_it_applies():
    """The major drop (50% -> 60%) and the exposed follow-up (3 -> 5 days): the roles'
    table heading, the exposed roles' rows, the rules table and the timeline follow."""
    policy = policy_with(activity={"major_drop": 0.6}, follow_up={"exposed_days": 5})
    page, md = both(policy)
    rows = md_role_rows(md)
    (header, *_), *_ = md_tables(md)
    assert "A drop of more than 60% in one week" in header
    assert rows["sales_rep"][5] == "5 days"
    assert rows["default"][5] == "7 days"
    assert "a drop of more than 60% in one week" in md
    assert "(5 days in a customer-facing" in md
    for text in (page, md):
        assert "more than 50%" not in text
    assert esc("A drop of more than 60% in one week") in page


def test_persistence_and_overdue_thresholds_reach_the_rules_timeline_and_tree():
    """Weeks in a row for Tier 3 (3 -> 4) and days overdue (14 -> 10) show in the rules,
    the timeline, the tiers and the diagram's labels."""
    policy = policy_with(tiers={"tier3_dip_weeks": 4, "compliance_overdue_days": 10})
    playbook = build(policy)
    page, md = both(policy)
    assert "dips 4 weeks in a row" in svg(playbook.tree)
    assert "Week 4 of dips in a row" in md
    assert "dips in 4 consecutive weeks" in md
    assert "more than 10 days overdue" in page
    assert "14 days" not in md


def test_the_examples_use_the_reasons_own_sentences():
    """The rules table says each signal in the words a message would (reason_text), written
    from numbers just past the policy's threshold."""
    playbook = build(policy_with(activity={"dip_below": 0.6}))
    by_name = {s.name: s for s in playbook.signals}
    dip = by_name["Activity dip"]
    assert dip.example.startswith("Weekly learning activity down 50% against the baseline (5 vs")
    assert "a drop of more than 40%" in dip.threshold
    assert by_name["Compliance overdue"].example == (
        "A compliance module is 15 days overdue (more than 14)."
    )


def _sent(policy: Policy, config: DispatchConfig, templates: Templates) -> list[tuple[str, str]]:
    """Subject and text of every message dispatch plans for the playbook's examples."""
    sent = []
    for route, example in examples(policy).items():
        result = plan(
            example.transition, PROFILE, config, templates, told=set(example.roles),
            last_nudge=None, now=dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC), tz=policy.tz,
            links_for=lambda role: {"act": links_for(role, config)["act"]} if role != "learner"
            else {},
        )  # fmt: skip
        assert result.missing == [], route
        sent.extend((m.message.subject, m.message.text) for m in result.messages)
    return sent


def test_the_scripts_shown_are_the_messages_dispatch_sends():
    """Every message dispatch's own planner makes of the examples (every route, every
    recipient) is in the playbook word for word: in the model, the Markdown and the HTML."""
    policy = load_policy(SHIPPED)
    config = parse_dispatch({"channels": {"hook": HOOK}, "routes": {r: ["hook"] for r in ROUTES},
                             "links": {"portal": "https://learning.example.com/"}})  # fmt: skip
    sent = _sent(policy, config, Templates())
    playbook = build(policy, config)
    page, md = render(playbook, "html"), render(playbook, "md")
    assert sorted((s.subject, s.text) for s in playbook.scripts) == sorted(sent)
    assert len(sent) == 10  # 1 + 1 + 2 + 2 + 4 recipients
    for subject, text in sent:
        assert f"```text\n{text}\n```" in md
        assert f"<pre>{esc(text)}</pre>" in page
        assert esc(subject) in page
    assert "Pick up where you left off: https://learning.example.com/" in md


def test_the_scripts_follow_the_configured_templates(tmp_path):
    """A templates folder in the dispatch configuration overrides the outreach script, and a
    template for e-mail only words it once more: the playbook shows what dispatch would send,
    both wordings, each with its channels."""
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "manager_outreach.manager.j2").write_text(
        "{% block subject %}Time for a chat{% endblock %}"
        "{% block text %}Please talk with {{ learner.name }} by {{ follow_up_due }}.{% endblock %}"
    )
    (tmp_path / "en" / "manager_outreach.manager.email.j2").write_text(
        "{% block subject %}By mail{% endblock %}{% block text %}Mail {{ learner.name }}."
        "{% endblock %}"
    )
    mail = {"type": "email", "host": "smtp.example.com", "sender": "tw@example.com"}
    config = parse_dispatch({"channels": {"hook": HOOK, "mail": mail}, "templates_dir": tmp_path,
                             "routes": {"manager_outreach": ["hook", "mail"]}})  # fmt: skip
    scripts = [s for s in build(load_policy(SHIPPED), config).scripts
               if s.route == "manager_outreach"]  # fmt: skip
    assert [(s.channels, s.text) for s in scripts] == [
        ("webhook", "Please talk with Sam by 2026-03-09."),
        ("email", "Mail Sam."),
    ]


def test_the_checklist_is_the_action_pages():
    """The checklist is the one the manager's action page shows, in both formats."""
    page, md = both(load_policy(SHIPPED))
    for item in CHECKLIST:
        assert f"- {item}" in md
        assert f"<li>{esc(item)}</li>" in page


def test_who_is_told_comes_from_the_dispatch_configuration():
    """Channels per route by name and type; a route with none says nothing is sent; HR's
    teams are named but no address is printed."""
    config = parse_dispatch({
        "channels": {"hook": HOOK, "chat": {"type": "slack", "url": "https://hooks.example.com/x"}},
        "routes": {"manager_outreach": ["chat", "hook"]},
        "hr": {"default": "hr@example.com", "teams": {"emea": "hr-emea@example.com"}},
    })  # fmt: skip
    tiers = {t.route: t for t in build(load_policy(SHIPPED), config).tiers}
    assert tiers["manager_outreach"].channels == "chat (slack), hook (webhook)"
    assert tiers["manager_outreach"].told == ("the manager",)
    assert tiers["hr_escalation"].told == ("HR", "the manager, informed")
    assert tiers["learner_nudge"].channels == "none configured: these messages are not sent"
    assert "its own for 1 team(s): emea" in " ".join(tiers["hr_escalation"].notes)
    page, md = both(load_policy(SHIPPED), config)
    for text in (page, md):
        assert "@example.com" not in text
        assert "whsec_" not in text


def test_the_privacy_section_covers_what_dispatch_sends_and_refuses():
    """Every field `outbound` puts in a message is described, and every problem the scan
    refuses is listed as never sent, in both formats."""
    policy = load_policy(SHIPPED)
    for example in examples(policy).values():
        assert set(outbound(example.transition, PROFILE, {})) == set(SHARED)
    leaky = ("at 2026-03-02T09:15 from 10.0.0.1, statement 0b6f8f0e-3c1d-4c2a-9a7e-"
             "1f2e3d4c5b6a, mail x@example.com")  # fmt: skip
    assert set(scan_text(leaky, "own-id")) == set(NEVER_SENT)
    page, md = both(policy)
    for sentence in (*SHARED.values(), *NEVER_SENT.values()):
        assert f"- {sentence}" in md
        assert f"<li>{esc(sentence)}</li>" in page


def test_markdown_tables_are_well_formed():
    """Three tables (roles, rules, timeline), each row with as many cells as its header,
    even for a role whose name has a pipe and markup characters in it."""
    policy = policy_with(roles={"night|ops_*lead*": {"leadership_pipeline": True}})
    md = render(build(policy), "md")
    tables = md_tables(md)
    assert [len(t[0]) for t in tables] == [ROLE_COLUMNS, 4, 3]
    for table in tables:
        assert all(len(row) == len(table[0]) for row in table)
    assert len(tables[0]) == 1 + len(policy.roles)
    assert "night|ops_*lead*" in md_role_rows(md)


def test_the_mermaid_block_names_each_step_once_and_every_edge_between_them():
    """A flowchart: one node per step of the decision tree, edges only between them, every
    label quoted with no quote inside."""
    tree = build(load_policy(SHIPPED)).tree
    lines = mermaid(tree).splitlines()
    assert lines[0] == "flowchart TD"
    nodes = [m.group(1) for line in lines if (m := re.fullmatch(r'\s+(\w+)\["[^"]*"\]', line))]
    assert nodes == ["observe", "nudge", "conversation", "support_plan", "escalate"]
    edges = [re.fullmatch(r'\s+(\w+) (-->|-\.->)\|"[^"]*"\| (\w+)', line) for line in lines[6:]]
    assert all(edges)
    assert len(edges) == len(tree.edges)
    assert {e.group(1) for e in edges if e} | {e.group(3) for e in edges if e} <= set(nodes)
    md = render(build(load_policy(SHIPPED)), "md")
    assert f"```mermaid\n{mermaid(tree)}\n```" in md


def test_the_diagram_has_a_title_a_description_and_a_text_equivalent():
    """The SVG is an image with a title and a description (the steps in words); both
    formats list the same sentences."""
    playbook = build(load_policy(SHIPPED))
    drawn = svg(playbook.tree)
    assert drawn.startswith("<svg")
    assert 'role="img"' in drawn
    assert '<title id="tree-title">' in drawn
    assert '<desc id="tree-desc">' in drawn
    words = sentences(playbook.tree)
    assert len(words) == len(playbook.tree.nodes) + 1 + len(playbook.tree.notes)
    page, md = both(load_policy(SHIPPED))
    for i, line in enumerate(words, 1):
        assert f"{i}. {line}" in md
        assert f"<li>{esc(line)}</li>" in page
    assert "<script" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_the_same_policy_gives_the_same_playbook():
    """No clock and no randomness: generating twice gives the same bytes."""
    assert both(load_policy(SHIPPED)) == both(load_policy(SHIPPED))
