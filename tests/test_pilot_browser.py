"""The pilot report in a real browser (issue 15, item 6): Debian's chromium driven by
Playwright opens the generated file: no console error, every plot drawn, readable at
phone width (the page never scrolls sideways; a wide table scrolls in its own box), and
axe-core finds no serious or critical violation.

Needs what `tests/test_actions_browser.py` needs (chromium, playwright, axe-core); without
them these tests skip, except in CI, where they fail. No broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stream.cli import app
from tests.pilot_kit import TEAM, with_feedback, write
from tests.report_browser import (  # noqa: F401  (the shared tests, collected here)
    page_at,
    test_at_phone_width_the_page_never_scrolls_sideways,
    test_the_report_has_no_serious_accessibility_violation,
    test_the_report_opens_with_no_error_and_every_plot_drawn,
    tools,
)


@pytest.fixture(scope="module")
def report(tools, tmp_path_factory) -> Path:  # noqa: F811
    """A pilot report with feedback (suggestions checked) over 400 simulated learners."""
    folder = tmp_path_factory.mktemp("pilot")
    plain = write(folder / "history.jsonl", 400, 10, 100, 0.2, 0.5)
    history, _ = with_feedback(plain, folder / "with_feedback.jsonl")
    args = ["pilot", str(history), "--team", TEAM, "--from", "2026-02-02"]
    result = CliRunner().invoke(app, [*args, "--out", str(folder / "report"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "suggest:" in result.output
    return folder / "report" / "index.html"
