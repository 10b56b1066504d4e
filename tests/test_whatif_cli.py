"""`tierwatch whatif` from the command line (typer's CliRunner): the report's files, the
terminal summary, a broken policy file (exit 2 with its problems), bad history lines
(counted and named, or --strict: exit 1), and 'default' for the shipped policy."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stream.cli import app
from stream.sim.simulate import simulate, write_jsonl
from tests.kit import POLICY

STRICT = "activity:\n  dip_below: 0.65\ntiers:\n  tier2_dip_weeks: 3\n  tier3_dip_weeks: 4\n"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "history.jsonl"
    with path.open("w") as out:
        write_jsonl(simulate(40, 10, 3, policy=POLICY), out)
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, ["whatif", *args, "--workers", "1"])


def test_two_policies_give_a_report_with_every_table_as_csv_and_json(history, tmp_path):
    """The folder holds index.html, a CSV a table and whatif.json; stdout summarises."""
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    out = tmp_path / "report"
    result = invoke(str(history), "--policy", "default", "--policy", str(strict), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "default:" in result.stdout
    assert "strict:" in result.stdout
    assert "default vs strict:" in result.stdout
    for line in result.stdout.splitlines()[:2]:  # one line a policy: days to one decimal
        assert re.search(r"(median \d+\.\d days|no episode reached) to tier 2$", line), line
    names = {p.name for p in out.iterdir()}
    assert {"index.html", "whatif.json", "overview.csv", "disagreements.csv"} <= names
    data = orjson.loads((out / "whatif.json").read_bytes())
    assert [row[0] for row in data["overview"]["rows"]] == ["default", "strict"]
    csv_lines = (out / "overview.csv").read_text().splitlines()
    assert len(csv_lines) == 3
    page = (out / "index.html").read_text()
    assert "<svg" in page
    assert "No feedback in the history" in page  # the simulator records no feedback


def test_a_broken_policy_file_exits_2_with_its_problems(history, tmp_path):
    """A policy that does not validate: exit 2, every problem named, nothing written."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("activity:\n  dip_below: 1.5\n")
    out = tmp_path / "report"
    result = invoke(str(history), "--policy", "default", "--policy", str(broken), "--out", str(out))
    assert result.exit_code == 2
    assert "activity.dip_below" in result.stderr
    assert not out.exists()


def test_a_missing_policy_file_exits_2(history, tmp_path):
    """A policy path that does not exist is an error, not the shipped policy."""
    result = invoke(str(history), "--policy", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr


def test_bad_lines_are_counted_and_named_and_strict_stops(history, tmp_path):
    """Bad lines are skipped and reported with their numbers; --strict exits 1 at the first."""
    messy = tmp_path / "messy.jsonl"
    lines = history.read_bytes().splitlines()
    lines.insert(3, b"{not json")
    lines.insert(7, b'{"type":"event","learner_id":"x"}')
    messy.write_bytes(b"\n".join(lines) + b"\n")
    result = invoke(str(messy), "--policy", "default", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "skipped line 4:" in result.stderr
    assert "skipped line 8:" in result.stderr
    assert "2 bad lines skipped" in result.stderr
    strict = invoke(str(messy), "--policy", "default", "--out", str(tmp_path / "s"), "--strict")
    assert strict.exit_code == 1
    assert "line 4" in strict.stderr


def test_a_missing_history_exits_2(tmp_path):
    """A history that cannot be read: exit 2 with the reason."""
    result = invoke(str(tmp_path / "none.jsonl"), "--policy", "default")
    assert result.exit_code == 2
    assert "none.jsonl" in result.stderr
