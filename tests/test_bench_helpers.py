"""The benchmark's own logic that its figures rest on (no broker, nothing timed)."""

from __future__ import annotations

from bench.latency import FALL, GOOD, PRIMES, Seen, assessment
from bench.streaming import scale_row
from schemas.transitions import TierTransition
from stream.core.step import step
from stream.policyfile import load_policy


def test_latency_probe_transitions_on_the_probe_and_only_there() -> None:
    """Two good scores give no transition; the probe (a low, failed score) raises 0 -> 1.

    score:   0.9   0.9   0.05 (failed)
    tier:     0     0     1   <- the probe's transition
    """
    policy = load_policy()
    state = None
    for n in range(PRIMES):
        state, outputs = step(state, assessment("P00000", n, GOOD), policy)
        assert outputs == []
    state, outputs = step(state, assessment("P00000", PRIMES, FALL), policy)
    [moved] = outputs
    assert isinstance(moved, TierTransition)
    assert (moved.from_tier, moved.to_tier) == (0, 1)


def test_latency_counts_only_answered_probes_in_order() -> None:
    """Latencies are received minus sent, in ms, sorted; a probe with no answer is left out."""
    seen = Seen(sent={"a": 1.0, "b": 2.0, "c": 3.0}, received={"a": 1.2, "b": 2.05})
    assert [round(x) for x in seen.latencies_ms()] == [50, 200]


def test_scale_out_rate_starts_when_both_workers_process() -> None:
    """The steady rate counts from the first sample where both workers have records."""
    samples = [(0.0, [10.0, 0.0]), (1.0, [100.0, 0.0]), (2.0, [200.0, 50.0]), (4.0, [700.0, 550.0])]
    row = scale_row(samples, [700.0, 550.0], 1250, one=250.0)
    assert row.value == 2.0  # (1250 - 250) / 2 s = 500 records/s, against 250
    assert "processed 700, 550 (0 of them twice)" in row.note
