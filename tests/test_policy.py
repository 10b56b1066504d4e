"""The policy file: defaults, validation errors with paths, role inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.core.policy import Policy, PolicyError, parse_policy
from stream.policyfile import load_policy


def test_shipped_file_equals_the_built_in_defaults():
    """The YAML that ships and the model's own defaults encode the same numbers."""
    assert load_policy() == Policy()


def test_shipped_defaults_encode_the_framework():
    """The framework's numbers: >50% drop, 4-week baseline, 14 days, follow-up 7 or 3 days."""
    policy = load_policy()
    assert policy.activity.major_drop == 0.5
    assert policy.activity.baseline_weeks == 4
    assert policy.tiers.compliance_overdue_days == 14
    assert (policy.follow_up.days, policy.follow_up.exposed_days) == (7, 3)
    assert policy.role("sales_rep").customer_facing
    assert policy.role("compliance_officer").compliance_sensitive
    assert policy.role("team_lead").leadership_pipeline


def test_roles_inherit_the_default_thresholds():
    """A sales rep's own certification threshold, the default's milestone and compliance ones."""
    role = load_policy().role("sales_rep")
    assert role.missed_thresholds == {"milestone": 2, "certification": 2, "compliance": 1}


def test_unknown_role_resolves_to_default():
    """An unknown role name gives the default role."""
    policy = load_policy()
    assert not policy.knows_role("astronaut")
    assert policy.role("astronaut") == policy.role("default")


def test_a_partial_file_keeps_every_other_default():
    """Only the timezone set: all other settings are the defaults."""
    policy = parse_policy({"timezone": "Europe/Berlin"})
    assert policy.timezone == "Europe/Berlin"
    assert policy.roles == Policy().roles


def test_every_error_is_reported_with_its_path(tmp_path: Path):
    """Several mistakes at once: each one named by its dotted path."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "timezone: Mars/Base\n"
        "activity: {dip_below: 1.5}\n"
        "roles: {sales_rep: {customer_facing: maybe}}\n"
        "unknown_section: 1\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(bad)
    paths = [path for path, _ in info.value.problems]
    assert paths == [
        "timezone",
        "activity.dip_below",
        "roles.sales_rep.customer_facing",
        "unknown_section",
    ]
    assert "Mars/Base" in str(info.value)


def test_inconsistent_numbers_are_refused():
    """Tier 2 needing more dip weeks than Tier 3 is an error, not a silent oddity."""
    with pytest.raises(PolicyError) as info:
        parse_policy({"tiers": {"tier2_dip_weeks": 3, "tier3_dip_weeks": 2}})
    assert info.value.problems[0][0] == "tiers"


def test_yaml_syntax_errors_name_the_line(tmp_path: Path):
    """A broken YAML file is reported with its line and column."""
    bad = tmp_path / "broken.yaml"
    bad.write_text("timezone: UTC\nroles: [\n")
    with pytest.raises(PolicyError) as info:
        load_policy(bad)
    assert info.value.problems[0][0].startswith("line ")


def test_missing_file_is_a_policy_error(tmp_path: Path):
    """A path that does not exist is reported, not a traceback."""
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "nope.yaml")


def test_the_event_time_window_is_a_policy_setting():
    """events.max_skew_minutes (60) and events.max_age_days (400) ship, with their bounds."""
    policy = load_policy()
    assert (policy.events.max_skew_minutes, policy.events.max_age_days) == (60, 400)
    with pytest.raises(PolicyError) as caught:
        parse_policy({"events": {"max_skew_minutes": -1, "max_age_days": 0}})
    assert {path for path, _ in caught.value.problems} == {
        "events.max_skew_minutes",
        "events.max_age_days",
    }
