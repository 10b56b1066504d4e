"""The short chaos suite (`python -m bench.chaos --short`), dispatch on in every run: a worker
SIGKILLed mid-stream and restarted, a second worker joining and leaving the group, and (a
smaller team) the receiver of the webhook, chat and e-mail deliveries down for 15 s; what
streamed must
equal `tierwatch replay` of the same input, transition by transition and state by state,
every expected delivery must arrive exactly once, with no hang. About a minute and a half."""

from __future__ import annotations

import asyncio

import pytest

from bench.chaos import report
from bench.chaos.__main__ import config, parse, run_all, selected

pytestmark = pytest.mark.broker


def test_short_chaos_suite_loses_repeats_and_hangs_nothing(tmp_path):
    args = parse(["--short", "--fail-fast", "--logs", str(tmp_path)])
    cfg = config(args)
    scenarios = selected(cfg, None)
    results = asyncio.run(run_all(cfg, args.seed, scenarios, tmp_path))
    table = report.table(results)
    details = "\n".join(
        d
        for r in results
        for d in r.outcome.details + r.monitor.hang_notes + (r.deliveries or r.outcome).details
    )
    hangs = [note for r in results for note in r.monitor.hang_notes]
    assert not hangs, f"{table}\n{hangs}"  # a hang ends the run (--fail-fast): nothing after
    assert not [r.error for r in results if r.error], table
    kill, scale, outage = results
    assert kill.fleet.kills == 1, table  # the disruptions really happened
    assert kill.fleet.restarts == 1, table
    assert scale.fleet.starts == {"w1": 1, "w2": 1}, table  # 1 -> 2 -> 1
    assert len(scale.fleet.stops) == 2, table  # w2 at two thirds, w1 at the end
    [(down, up)] = outage.outages
    assert 15 <= up - down < 30, table
    assert outage.held > 0, table  # deliveries were due while it was down: tried, refused
    assert outage.retried >= outage.held, table
    for r in results:
        assert r.applied == r.ticks, table  # every tick applied
        assert r.outcome.expected >= (20 if r is outage else 30), table
        assert r.outcome.learners >= (20 if r is outage else 30), table
        assert r.poison_dead_lettered == r.poison_sent > 0, table
        assert r.deliveries is not None, table  # dispatch on: deliveries counted (totals)
        assert r.deliveries.delivered >= r.deliveries.expected > 0, table
    d = outage.deliveries
    assert d is not None, table
    assert d.expected >= 40, table  # of every channel type: see bench/chaos/dispatching.py
    assert d.delivered == d.expected, table
    assert (d.dead_lettered, d.refused) == (0, 0), f"{table}\n{details}"
    assert report.totals(results) == {
        "runs": 3,
        "lost": 0,
        "duplicated": 0,
        "spurious": 0,
        "state_mismatches": 0,
        "hangs": 0,
    }, f"{table}\n{details}"
