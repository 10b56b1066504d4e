"""Every Prometheus metric of tierwatch, declared once against an injected registry.

Edges update them; rule code never does. Names carry the `tierwatch_` prefix and base
units, counters end in `_total`, and no metric has a learner label. `topic` labels are
logical names (events, profiles, assignments, interventions, clock), not topic names.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)


def _version() -> str:
    try:
        return version("tierwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass(frozen=True)
class IngestMetrics:
    requests: Counter
    events_in: Counter
    rejects: Counter
    unmapped_identities: Counter
    unused: Counter
    ack_seconds: Histogram

    @classmethod
    def create(cls, reg: CollectorRegistry) -> IngestMetrics:
        return cls(
            requests=Counter(
                "tierwatch_ingest_requests_total",
                "HTTP requests to ingest, by endpoint and status code",
                ["endpoint", "status"],
                registry=reg,
            ),
            events_in=Counter(
                "tierwatch_events_in_total",
                "learning events accepted, by source and kind",
                ["source", "kind"],
                registry=reg,
            ),
            rejects=Counter(
                "tierwatch_rejects_total",
                "refused requests or records, by source and machine-readable reason",
                ["source", "reason"],
                registry=reg,
            ),
            unmapped_identities=Counter(
                "tierwatch_unmapped_identities_total",
                "resolutions of an LMS identity that no profile claims, by source",
                ["source"],
                registry=reg,
            ),
            unused=Counter(
                "tierwatch_ingest_unused_total",
                "input ingest accepted but could not use, or not in full (an entity, an"
                " event type it does not read, a grade without a score), by source and reason",
                ["source", "reason"],
                registry=reg,
            ),
            ack_seconds=Histogram(
                "tierwatch_ingest_ack_seconds",
                "time from sending records to the broker's acknowledgement",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=reg,
            ),
        )


@dataclass(frozen=True)
class WorkerMetrics:
    events_processed: Counter
    states_written: Counter
    duplicates: Counter
    late_events: Counter
    retractions: Counter
    learners_by_tier: Gauge
    transitions: Counter
    transition_latency: Histogram
    tick_seconds: Histogram
    learners_evaluated: Counter
    learners_quiet: Counter
    dead_letters: Counter
    consumer_lag: Gauge
    table_recovery_remaining: Gauge
    erasures: Counter
    commit_repairs: Counter
    actions_recorded: Counter
    conversations: Counter
    follow_ups_overdue: Counter
    dead_letter_failures: Counter
    feedback: Counter
    erased_dropped: Counter
    dispatches: Counter
    dispatch_attempts: Counter
    dispatch_seconds: Histogram

    @classmethod
    def create(cls, reg: CollectorRegistry) -> WorkerMetrics:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"tierwatch_{name}_total", doc, list(labels), registry=reg)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(f"tierwatch_{name}", doc, list(labels), registry=reg)

        return cls(
            events_processed=counter("events_processed", "input records processed", ("topic",)),
            states_written=counter(
                "states_written", "learner states written to the table (changelog records)"
            ),
            duplicates=counter("duplicates", "re-delivered events not counted again"),
            late_events=counter("late_events", "events after their week was evaluated"),
            retractions=counter(
                "retractions",
                "voided events: what they took back (open week, baseline, score) or why"
                " nothing (unknown, late, forgotten, closed)",
                ("result", "detail"),
            ),
            learners_by_tier=gauge(
                "learners_by_tier", "learners on this worker, by tier (last tick)", ("tier",)
            ),
            transitions=counter(
                "transitions", "tier transitions emitted", ("from_tier", "to_tier", "route")
            ),
            transition_latency=Histogram(
                "tierwatch_transition_latency_seconds",
                "from a transition's evaluation time (event time or tick) to its emission",
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
            tick_seconds=Histogram(
                "tierwatch_tick_duration_seconds",
                "time to evaluate one partition's learners on a clock tick",
                buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60),
                registry=reg,
            ),
            learners_evaluated=counter("learners_evaluated", "learner evaluations on ticks"),
            learners_quiet=counter(
                "learners_quiet", "learners a tick left alone: nothing could change before it"
            ),
            dead_letters=counter(
                "dead_letters", "messages sent to the dead-letter topic", ("topic",)
            ),
            consumer_lag=gauge(
                "consumer_lag", "messages behind the end of the assigned partitions", ("topic",)
            ),
            table_recovery_remaining=gauge(
                "table_recovery_remaining",
                "changelog records still to read before the tables are up to date, by replica",
                ("replica",),
            ),
            erasures=counter("erasures", "learners erased (their state and dispatch log deleted)"),
            dead_letter_failures=counter(
                "dead_letter_failures",
                "dead letters that could not be sent after every try (each also logged)",
            ),
            commit_repairs=counter(
                "commit_repairs",
                "partitions whose commits were stuck behind records never delivered, read "
                "again (reread) or, when those offsets do not exist, skipped as a gap (gap)",
                ("action",),
            ),
            actions_recorded=counter(
                "actions_recorded",
                "interventions recorded from action pages, by kind and the link's recipient",
                ("kind", "recipient"),
            ),
            conversations=counter(
                "conversations",
                "Tier 2 arrivals answered by a conversation on time (by the follow-up date), "
                "late, or never (the learner fell below Tier 2 first; left: the learner left "
                "first), by the learner's role and team",
                ("outcome", "role", "team"),
            ),
            follow_ups_overdue=counter(
                "followup_reminders",
                "overdue follow-ups (no conversation recorded after the follow-up date): the "
                "manager reminded (step=reminder), then escalated to HR (step=escalation), by "
                "the learner's role and team",
                ("step", "role", "team"),
            ),
            feedback=counter(
                "feedback",
                "managers' feedback on the current transition, by kind and reason code",
                ("kind", "code"),
            ),
            erased_dropped=counter(
                "erased_dropped", "records and transitions for erased learners, dropped"
            ),
            dispatches=counter(
                "dispatches",
                "messages handled, by channel and outcome (delivered, deferred, retry, "
                "failed, disabled, missing, dead_lettered, skipped)",
                ("channel", "outcome"),
            ),
            dispatch_attempts=counter("dispatch_attempts", "delivery attempts", ("channel",)),
            dispatch_seconds=Histogram(
                "tierwatch_dispatch_duration_seconds",
                "time to deliver one message, attempts and backoff included",
                ["channel"],
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                registry=reg,
            ),
        )


@dataclass(frozen=True)
class Metrics:
    """All metrics, bound to one registry (a fresh one per test)."""

    registry: CollectorRegistry
    build_info: Gauge
    ingest: IngestMetrics
    worker: WorkerMetrics

    @classmethod
    def create(
        cls,
        registry: CollectorRegistry | None = None,
        parts: tuple[str, ...] = ("ingest", "worker"),
    ) -> Metrics:
        """The metrics; only the named `parts` are exposed by `registry` (a process serves
        its own: ingest or worker), the others are kept off it."""
        reg = registry if registry is not None else CollectorRegistry()
        elsewhere = CollectorRegistry()
        build_info = Gauge(
            "tierwatch_build_info",
            "tierwatch's version (the value is always 1)",
            ["version"],
            registry=reg,
        )
        build_info.labels(version=_version()).set(1)
        ingest = IngestMetrics.create(reg if "ingest" in parts else elsewhere)
        worker = WorkerMetrics.create(reg if "worker" in parts else elsewhere)
        return cls(reg, build_info, ingest, worker)
