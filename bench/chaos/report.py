"""The suite's table (one row per run), `bench/CHAOS.md`, and the closing line."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import textwrap
from collections.abc import Sequence
from pathlib import Path

from bench.chaos.dispatching import described as dispatch_described
from bench.chaos.play import RunResult

HEADER = [
    "run", "scenario", "learners", "ticks", "kills/self", "restarts", "lost", "dup",
    "spurious", "resent", "state", "hangs", "resume s", "stop s", "barrier t/o",
    "poison dlq", "deliveries", "dlv lost/dup/spur", "retried", "ingest ack/lost/503",
    "wall s",
]  # fmt: skip
RIGHT = set(range(2, len(HEADER)))


def seconds(values: Sequence[float]) -> str:
    """max (median) of some durations, or '-'."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{max(values):.1f} ({statistics.median(values):.1f})"


def cells(r: RunResult) -> list[str]:
    o, f, m = r.outcome, r.fleet, r.monitor
    ticks = f"{r.applied}/{r.ticks}" + (" CAP" if r.capped else " ABORT" if r.aborted else "")
    ticks = "ERROR" if r.error else ticks
    resume = seconds(m.resumes) + (f" +{m.never_resumed} cut" if m.never_resumed else "")
    poison = f"{r.poison_dead_lettered}/{r.poison_sent}"
    if r.poison_refused:
        poison += f" ({len(r.poison_refused)} refused)"
    d = r.deliveries
    sent = f"{d.expected}/{d.delivered}/{d.dead_lettered}" if d else "-"
    wrong = f"{d.lost}/{d.duplicated}/{d.spurious}" if d else "-"
    wrong += f" +{d.resent} resent" if d and d.resent else ""
    return [
        r.label, r.scenario, str(r.learners), ticks, f"{f.kills}/{f.self_kills}",
        str(f.restarts), str(o.lost), str(o.duplicated), str(o.spurious), str(o.resent),
        str(o.state_mismatches), str(m.hangs), resume, seconds(f.stops),
        str(r.barrier_timeouts), poison, sent, wrong, f"{r.held} ({r.retried})" if d else "-",
        f"{r.ingest.acked}/{r.ingest.lost}/{r.ingest.unavailable}" if r.ingest else "-",
        f"{r.seconds:.0f}",
    ]  # fmt: skip


def table(results: Sequence[RunResult]) -> str:
    rows = [cells(r) for r in results]
    widths = [max(len(h), *(len(c[i]) for c in rows)) for i, h in enumerate(HEADER)]

    def fmt(cs: list[str]) -> str:
        pairs = enumerate(zip(cs, widths, strict=True))
        parts = [c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in pairs]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(HEADER), rule, *(fmt(c) for c in rows)])


def totals(results: Sequence[RunResult]) -> dict[str, int]:
    """The closing line's counts: lost, duplicated and spurious add up transitions and
    deliveries (a delivery the receiver refused counts as spurious); lost also counts the
    events ingest acknowledged that never reached its topic."""
    ds = [r.deliveries for r in results if r.deliveries is not None]
    ingested = [r.ingest for r in results if r.ingest is not None]
    return {
        "runs": len(results),
        "lost": sum(r.outcome.lost for r in results)
        + sum(d.lost for d in ds)
        + sum(i.lost for i in ingested),
        "duplicated": sum(r.outcome.duplicated for r in results)
        + sum(d.duplicated for d in ds)
        + sum(i.duplicated for i in ingested),
        "spurious": sum(r.outcome.spurious for r in results)
        + sum(d.spurious + d.refused for d in ds),
        "state_mismatches": sum(r.outcome.state_mismatches for r in results),
        "hangs": sum(r.monitor.hangs + r.capped for r in results),
    }


def closing_line(results: Sequence[RunResult]) -> str:
    return "chaos: " + " ".join(f"{k}={v}" for k, v in totals(results).items())


def failed(results: Sequence[RunResult]) -> bool:
    """A run failed, a count is not 0, or ingest answered something it must not (another
    status than 2xx and 503, or a 503 without Retry-After)."""
    errors = any(r.error for r in results)
    errors |= any(r.ingest and (r.ingest.other or r.ingest.no_retry_after) for r in results)
    return errors or any(v for k, v in totals(results).items() if k != "runs")


def outage_notes(r: RunResult) -> list[str]:
    """When the receiver was down, and how long the deliveries took to settle."""
    d = r.deliveries

    def clock(t: float) -> str:
        return f"{dt.datetime.fromtimestamp(t, dt.UTC):%H:%M:%S}"

    spans = ", ".join(f"{clock(a)}-{clock(b)} ({b - a:.0f} s)" for a, b in r.outages)
    reasons = ", ".join(f"{k} {v}" for k, v in d.reasons.items()) if d else ""
    return [
        f"receiver down {spans or 'never'}; {r.retried} attempts to retry, holding up "
        f"{r.held} messages; deliveries "
        f"settled {r.settle_s:.0f} s after the stream and the outage"
        + (f"; dead letters: {reasons}" if reasons else "")
    ]


def ingest_notes(r: RunResult) -> list[str]:
    """What the ingest client saw while the broker was disrupted."""
    i = r.ingest
    if i is None:
        return []
    after = ", ".join(sorted(i.retry_after)) or "-"
    return [
        f"ingest: {i.acked} events acknowledged, {i.lost} of them not on the topic, "
        f"{i.resent} of batches sent again and {i.duplicated} of batches sent once written "
        f"twice; {i.posted} requests, {i.unavailable} answered "
        f"503 (Retry-After {after}; {i.no_retry_after} without), {i.errors} unanswered, "
        f"other answers {i.other or 'none'}; the longest batch took {i.longest_s:.1f} s "
        "from first try to acknowledgement",
        *i.details,
    ]


def machine() -> str:
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; {platform.system()} {platform.release()}, nproc {os.cpu_count()}, "
        f"{memory:.1f} GiB RAM, Python {platform.python_version()}; git commit {commit}"
    )


LEGEND = """\
Columns: **kills/self** SIGKILLs sent by the suite / worker exits it did not cause
(`TIERWATCH_FAULT_KILL_AFTER_STORE`: killed after a batch's states were stored and flushed,
before its offsets were committed); **lost** transitions replay has and the alerts topic
has not; **dup** ids streamed with different contents; **spurious** transitions replay
does not have; **resent** identical copies of one id (at-least-once, not a failure);
**state** learners whose last changelog state differs from replay's (or an erased learner
whose state is still there); **hangs** input pending and no commit by the group for 60 s
while a worker was alive (the workers are then killed and restarted; CAP: the run hit its
time cap); **resume s** from a restart (or the broker's SIGCONT) to the group's next
commit on the clock topic, max (median); "+N cut": restarts disrupted again (or the run
ended) before that commit; **stop s** SIGTERM to exit, max (median), including the stop
at the end of each run; **barrier t/o** `tick_barrier_timeout` lines in the workers' logs
(a tick evaluated without waiting for its inputs); **poison dlq** poison records with a
dead letter / sent.

Deliveries (runs with dispatch on: a receiver process for a signed webhook, a Slack-style
chat webhook and SMTP; `bench/chaos/dispatching.py` has the routes and the retry schedule):
**deliveries** expected / delivered / dead-lettered, a delivery being one message to one
role over one channel, (transition id, role, channel); expected is dispatch's own planning
(`stream.dispatch.plan`) of replay's transitions, learner by learner (an erased learner's
deliveries may or may not arrive: they are not counted here); **dlv lost/dup/spur**
expected deliveries neither delivered nor dead-lettered / arrivals after a delivery's first
(or delivered and dead-lettered too) / deliveries not expected, or refused by the receiver;
"+N resent": arrivals again after a worker started since the one before (a worker killed
after sending, before storing its delivery log, sends once more: at-least-once, not a
failure);
**retried** messages (transition, channel) held up by a failed attempt (the receiver was
down), and (in brackets) the failed attempts the workers logged. The closing line's lost,
duplicated and spurious add transitions and deliveries.

Ingest (the broker pauses: a `tierwatch ingest` process on topics of its own, and a client
posting 10 events every 0.25 s throughout, sending a batch again after a 503's
`Retry-After` or no answer; `bench/chaos/ingesting.py`): **ingest ack/lost/503** events
acknowledged / of those, not on the ingest events topic at the end (counted in the closing
line's lost) / requests answered 503. An event of a batch sent once found twice on the topic
counts in the closing line's duplicated; any answer other than 2xx or 503, or a 503
without Retry-After, fails the suite.

Expected answer: `stream.tools.replay.replay` of the records sent (the driver sends the same
records and midnight ticks in simulated time, `TIERWATCH_CLOCK=external`). Replay has no
notion of erasure: an erased learner is expected to have replay's transitions up to the
erasure, none after, and no state. Poison records are not part of the expected answer:
they must change nothing."""


def write(
    path: Path, results: Sequence[RunResult], command: str, history: str, took: float
) -> None:
    details = []
    for r in results:
        notes = [*r.outcome.details, *r.monitor.hang_notes, *r.poison_refused]
        notes += [f"the run failed: {r.error}"] if r.error else []
        if r.deliveries is not None:
            notes += [*r.deliveries.details, *outage_notes(r)]
        notes += ingest_notes(r)
        duplicates, late = r.reread
        if notes and (duplicates or late):
            notes.append(f"workers logged {duplicates} duplicate and {late} late_event notices")
        if notes:
            details.append(f"- **{r.label}** ({r.scenario}); logs {r.logs}")
            details += [f"  - {n}" for n in notes[:14]]
    text = "\n".join(
        [
            "# tierwatch chaos suite",
            "",
            f"`{command}`: {history}; {took / 60:.1f} min.",
            "",
            f"Machine: {machine()}.",
            "",
            table(results),
            "",
            LEGEND,
            "",
            textwrap.fill(dispatch_described(), 92, break_on_hyphens=False),
            "",
            "## Details (first differences of each run)",
            "",
            *(details or ["none"]),
            "",
            "```",
            closing_line(results),
            "```",
            "",
        ]
    )
    path.write_text(text)
