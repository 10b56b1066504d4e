"""`tierwatch pilot` from the command line: the report's files, the terminal summary, and
clear refusals (exit 2) for an unknown team and a --from outside the history; bad lines
are skipped and counted as replay counts them."""

from __future__ import annotations

import orjson
import pytest

from tests.pilot_kit import TEAM, write
from tests.test_cli import invoke


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return write(tmp_path_factory.mktemp("cli") / "h.jsonl", 200, 10, 100, 0.2, 0.5)


def test_the_report_and_the_summary(history, tmp_path):
    """index.html, a CSV a table, pilot.json; the summary names each estimate."""
    out = tmp_path / "report"
    result = invoke("pilot", history, "--team", TEAM, "--from", "2026-02-02", "--out", out,
                    "--workers", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"index.html", "pilot.json", "estimates.csv", "cells.csv", "interventions.csv",
            "feedback_by_rule.csv", "suggestions.csv"} <= names  # fmt: skip
    assert "completion on time (percentage points):" in result.stdout
    assert "no feedback in the history" in result.stdout
    data = orjson.loads((out / "pilot.json").read_bytes())
    assert data["pilot"]["compare"] == ["team-02"]
    assert data["pilot"]["learners"] == {"pilot": 100, "comparison": 100}
    html = (out / "index.html").read_text()
    for fetch in ('src="http', 'href="http', "url(http", "<script", "<link"):
        assert fetch not in html  # nothing from the network (SVG namespaces are names only)


def test_an_unknown_team_is_refused_with_the_teams(history, tmp_path):
    """Exit 2, naming the teams the history has."""
    result = invoke("pilot", history, "--team", "team-09", "--from", "2026-02-02",
                    "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 2
    assert "unknown team team-09" in result.stderr
    assert "team-01, team-02" in result.stderr
    compare = invoke("pilot", history, "--team", TEAM, "--compare", "nobody", "--from",
                     "2026-02-02", "--out", tmp_path)  # fmt: skip
    assert compare.exit_code == 2
    assert "unknown team nobody" in compare.stderr


def test_a_start_outside_the_history_is_refused(history, tmp_path):
    """Exit 2, giving the history's first and last days."""
    result = invoke("pilot", history, "--team", TEAM, "--from", "2027-01-04", "--out", tmp_path)
    assert result.exit_code == 2
    assert "outside the history, which runs from 2026-01-05 to" in result.stderr


def test_bad_lines_are_skipped_and_counted(history, tmp_path):
    """A line that is no JSON and an event of year 2040 are skipped, as replay skips them."""
    lines = history.read_bytes().splitlines()
    far = dict(orjson.loads(lines[-1]), id="far", occurred_at="2040-01-01T00:00:00Z")
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\n".join([*lines[:50], b"{not json", *lines[50:], orjson.dumps(far)]))
    result = invoke("pilot", broken, "--team", TEAM, "--from", "2026-02-02",
                    "--out", tmp_path / "r", "--workers", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 bad lines skipped" in result.stderr
    assert "line 51" in result.stderr
    data = orjson.loads((tmp_path / "r" / "pilot.json").read_bytes())
    assert data["pilot"]["bad_lines"] == 2
