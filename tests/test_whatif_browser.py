"""The what-if report in a real browser (issue 15, item 6): Debian's chromium driven by
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
from stream.sim.simulate import simulate, write_jsonl
from tests.kit import POLICY
from tests.report_browser import (  # noqa: F401  (the shared tests, collected here)
    page_at,
    test_at_phone_width_the_page_never_scrolls_sideways,
    test_the_report_has_no_serious_accessibility_violation,
    test_the_report_opens_with_no_error_and_every_plot_drawn,
    tools,
)

STRICT = "activity:\n  dip_below: 0.65\ntiers:\n  tier2_dip_weeks: 3\n  tier3_dip_weeks: 4\n"


@pytest.fixture(scope="module")
def report(tools, tmp_path_factory) -> Path:  # noqa: F811
    """A report of two policies over 60 simulated learners and 12 weeks."""
    folder = tmp_path_factory.mktemp("whatif")
    history = folder / "history.jsonl"
    with history.open("w") as out:
        write_jsonl(simulate(60, 12, 7, policy=POLICY), out)
    strict = folder / "strict.yaml"
    strict.write_text(STRICT)
    args = ["whatif", str(history), "--policy", "default", "--policy", str(strict)]
    result = CliRunner().invoke(app, [*args, "--out", str(folder / "report"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return folder / "report" / "index.html"
