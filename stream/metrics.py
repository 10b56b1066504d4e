"""Every Prometheus metric of tierwatch, declared once against an injected registry.

Edges update them; rule code never does. Names carry the `tierwatch_` prefix and base
units, counters end in `_total`, and no metric has a learner label.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def _version() -> str:
    try:
        return version("tierwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass(frozen=True)
class Metrics:
    """The metrics, bound to one registry (a fresh one per test)."""

    registry: CollectorRegistry
    build_info: Gauge
    ingest_requests: Counter
    events_in: Counter
    rejects: Counter
    unmapped_identities: Counter
    ack_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        reg = registry if registry is not None else CollectorRegistry()
        build_info = Gauge(
            "tierwatch_build_info",
            "tierwatch's version (the value is always 1)",
            ["version"],
            registry=reg,
        )
        build_info.labels(version=_version()).set(1)
        return cls(
            registry=reg,
            build_info=build_info,
            ingest_requests=Counter(
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
            ack_seconds=Histogram(
                "tierwatch_ingest_ack_seconds",
                "time from sending records to the broker's acknowledgement",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=reg,
            ),
        )
