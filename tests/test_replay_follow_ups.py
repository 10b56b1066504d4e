"""`tierwatch replay` and overdue follow-ups: counted in the summary, written as JSON lines
with `--follow-ups FILE` only, the transitions output as before; the same in one process
or several."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from schemas.reminders import FollowUpOverdue
from stream.core.timeline import run_history
from stream.sim.simulate import simulate
from stream.tools.replay import replay, replay_file
from tests.kit import POLICY
from tests.test_cli import invoke, transitions
from tests.test_replay_parallel import history

SIMULATED = (40, 8, 3)  # learners, weeks, seed: some arrivals wait past their date


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.jsonl"
    path.write_bytes(history(SIMULATED[2], SIMULATED[0], SIMULATED[1], []))
    return path


def expected() -> list[FollowUpOverdue]:
    records = simulate(*SIMULATED, policy=POLICY)
    return [o for o in run_history(records, POLICY) if isinstance(o, FollowUpOverdue)]


def test_the_summary_counts_them_and_follow_ups_writes_them(tmp_path, written):
    """Without --follow-ups stdout holds transitions only; with it, the file holds every
    overdue follow-up the core gives, and stdout is byte for byte the same."""
    want = expected()
    steps = [o.step for o in want]
    assert steps.count("reminder") >= 1
    assert steps.count("escalation") >= 1
    plain = invoke("replay", written)
    assert plain.exit_code == 0, plain.output
    assert transitions(plain.stdout)  # every line a transition
    line = (
        f"overdue follow-ups: {steps.count('reminder')} managers reminded, "
        f"{steps.count('escalation')} escalated to HR"
    )
    assert line in plain.stderr
    out = tmp_path / "follow-ups.jsonl"
    chased = invoke("replay", written, "--follow-ups", out)
    assert chased.exit_code == 0, chased.output
    assert chased.stdout == plain.stdout
    got = [FollowUpOverdue.model_validate_json(x) for x in out.read_bytes().splitlines()]
    assert got == want


@pytest.mark.parametrize("workers", [2, 3])
def test_several_processes_write_the_same_follow_ups(written, workers):
    one, many = (io.BytesIO(), io.BytesIO()), (io.BytesIO(), io.BytesIO())
    first = replay_file(written, POLICY, one[0], follow_ups=one[1])
    second = replay_file(written, POLICY, many[0], workers=workers, follow_ups=many[1])
    assert many[0].getvalue() == one[0].getvalue()
    assert many[1].getvalue() == one[1].getvalue()
    assert second.follow_ups == first.follow_ups
    assert sum(first.follow_ups.values()) == len(one[1].getvalue().splitlines()) > 0


def test_replay_without_a_follow_ups_sink_writes_transitions_only():
    out = io.BytesIO()
    summary = replay(simulate(*SIMULATED, policy=POLICY), POLICY, out)
    assert summary.follow_ups["reminder"] > 0
    assert b'"step"' not in out.getvalue()
