"""A replay in several processes, each a share of the learners, equals a replay in one."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.history import to_line
from stream.core.weeks import day_start
from stream.sim.simulate import DEFAULT_START, simulate
from stream.tools.replay import BadLine, replay_file
from tests.kit import POLICY

BAD = [
    b"{not json",
    b'{"type":"mystery","learner_id":"L0001"}',
    b'{"type":"event","id":"x","learner_id":"L0001","occurred_at":"2026-01-05T10:00:00",'
    b'"kind":"session","object_id":"c","source":"s"}',
]
ASTRONAUT = b'{"type":"profile","learner_id":"L0002","role":"astronaut"}'


def history(seed: int, learners: int, weeks: int, extra: list[tuple[int, bytes]]) -> bytes:
    """A simulated history, each line of `extra` inserted at its index (modulo the length);
    every tenth event is sent twice, a duplicate for the replay to count."""
    lines = []
    for n, record in enumerate(simulate(learners, weeks, seed, policy=POLICY)):
        lines.append(orjson.dumps(to_line(record)))
        if n % 10 == 9 and b'"type":"event"' in lines[-1]:
            lines.append(lines[-1])
    for index, line in extra:
        lines.insert(index % len(lines), line)
    return b"\n".join(lines) + b"\n"


def run(path: Path, workers: int, **options: object) -> tuple[bytes, str, list[str]]:
    out = io.BytesIO()
    errors: list[BadLine] = []
    summary = replay_file(path, POLICY, out, errors=errors, workers=workers, **options)  # type: ignore[arg-type]
    summary.skipped = len(errors)
    return out.getvalue(), summary.render(), [str(e) for e in errors]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 1000),
    learners=st.integers(1, 12),
    weeks=st.integers(1, 7),
    workers=st.integers(2, 4),
    extra=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from([*BAD, ASTRONAUT])), max_size=4
    ),
    until_days=st.none() | st.integers(0, 60),
)
def test_shares_give_the_lines_and_summary_of_one_process(
    tmp_path, seed, learners, weeks, workers, extra, until_days
):
    """Transitions in the same order, byte for byte, the same summary (tiers, weeks,
    duplicates, unknown roles, records after --until) and the same bad lines."""
    path = tmp_path / "history.jsonl"
    path.write_bytes(history(seed, learners, weeks, extra))
    until = None
    if until_days is not None:
        until = day_start(DEFAULT_START + dt.timedelta(days=until_days), POLICY.tz)
    single = run(path, 1, until=until)
    assert run(path, workers, until=until) == single


def test_a_team_with_transitions_in_every_tier_replays_alike_in_two_processes(tmp_path):
    """A larger team (ticks with transitions of several learners at once) in 1 and 2."""
    path = tmp_path / "history.jsonl"
    path.write_bytes(history(7, 60, 12, [(500, BAD[0]), (900, ASTRONAUT)]))
    lines, summary, errors = run(path, 2)
    assert (lines, summary, errors) == run(path, 1)
    tiers = {orjson.loads(line)["to_tier"] for line in lines.splitlines()}
    assert tiers == {0, 1, 2, 3}
    assert "skipped 1 bad lines, " in summary
    assert "astronaut (1)" in summary


def test_strict_stops_at_the_first_bad_line_in_any_process(tmp_path):
    """--strict raises the first bad line's report, as one process would."""
    path = tmp_path / "history.jsonl"
    path.write_bytes(history(3, 5, 3, [(40, BAD[2]), (80, BAD[0])]))
    with pytest.raises(BadLine) as single:
        run(path, 1, strict=True)
    with pytest.raises(BadLine) as shared:
        run(path, 2, strict=True)
    assert str(shared.value) == str(single.value)
    assert shared.value.number == single.value.number == 41


def test_every_count_of_the_summary_is_the_same_on_several_processes(tmp_path: Path) -> None:
    """The summary of shares adds up every count its learners gave (overdue follow-ups,
    leavers' later records, voided events...) and takes the counts of the lines read once:
    a history with leavers and conversations gives the same `Summary` on 1 and 3 processes,
    in replay and in whatif."""
    from stream.sim.pilot import World, simulate_world
    from stream.tools.replay import Summary
    from stream.tools.whatif.processes import evaluate_file

    path = tmp_path / "h.jsonl"
    records = simulate_world(240, 12, 5, World(team_size=40, leave_rate=0.02))
    path.write_bytes(b"".join(orjson.dumps(to_line(r)) + b"\n" for r in records))
    summaries: list[Summary] = []
    for workers in (1, 3):
        summary = replay_file(path, POLICY, io.BytesIO(), errors=[], workers=workers)
        summaries.append(summary)
        (result,) = evaluate_file(path, [POLICY], [None], workers=workers)
        summaries.append(result.summary)
    assert summaries[0].follow_ups  # (its leavers send nothing after leaving: 0 of those)
    assert summaries[0] == summaries[1] == summaries[2] == summaries[3]
