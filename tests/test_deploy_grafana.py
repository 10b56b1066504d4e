"""The Grafana dashboard and its provisioning: every query names a metric tierwatch exports."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "tierwatch.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources"
PROVIDERS = GRAFANA / "provisioning" / "dashboards"

# Every metric the dashboard queries must be declared in `Metrics.create()`: there is no
# list of names expected later any more (the worker and dispatch metrics have landed).
PENDING: dict[str, str] = {}

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "unknown": ("",),
}

# PromQL words that look like identifiers but are not metric names
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def _series(name: str, kind: str) -> set[str]:
    """The series names Prometheus stores for a metric family of this type."""
    base = name.removesuffix("_total") if kind == "counter" else name
    return {base + suffix for suffix in SUFFIXES[kind]}


def _exported() -> set[str]:
    """Series names of every metric `Metrics.create()` declares, read from its registry."""
    names: set[str] = set()
    for family in Metrics.create().registry.collect():
        names |= _series(family.name, family.type)
        names |= {sample.name for sample in family.samples}
    return names


@functools.cache
def _known() -> frozenset[str]:
    pending: set[str] = set()
    for name, kind in PENDING.items():
        pending |= _series(name, kind)
    return frozenset(_exported() | pending)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels stripped)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)  # string literals
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "", text)  # Grafana variables ($__rate_interval)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text("utf-8"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries() -> list[tuple[str, str]]:
    """(panel title, expr) for every target and every query variable."""
    out = []
    dashboard = _dashboard()
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((panel["title"], target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            out.append((f"${variable['name']}", query))
    return out


def _datasource_uid() -> str:
    (datasource,) = [
        source
        for path in sorted(DATASOURCES.glob("*.y*ml"))
        for source in yaml.safe_load(path.read_text("utf-8"))["datasources"]
        if source["type"] == "prometheus"
    ]
    return datasource["uid"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum by (topic) (rate(tierwatch_a_total[$__rate_interval]))", {"tierwatch_a_total"}),
        (
            'histogram_quantile(0.95, sum by (le) (rate(x_bucket{job="a", le!="1e3"}[5m])))',
            {"x_bucket"},
        ),
        ("sum(rate(a_sum[1m])) / sum(rate(a_count[1m])) > bool 0", {"a_sum", "a_count"}),
        ("a * on (instance) group_left (version) b offset 5m", {"a", "b"}),
        ("max_over_time(a[1h:5m]) or vector(0) unless c", {"a", "c"}),
        ("1e-3 * x", {"x"}),
    ],
)
def test_metric_names_are_extracted_from_promql(expr, names):
    """The extractor keeps metric names and drops functions, keywords, labels and numbers."""
    assert metric_names(expr) == names


def test_known_names_include_the_exported_ones():
    """The registry read finds today's metrics, counters with _total, histograms with _bucket."""
    exported = _exported()
    assert "tierwatch_build_info" in exported
    assert "tierwatch_events_in_total" in exported
    assert "tierwatch_ingest_ack_seconds_bucket" in exported


def test_dashboard_parses_with_uid_and_title():
    """The dashboard is JSON with a uid, a title and panels with queries."""
    dashboard = _dashboard()
    assert dashboard["uid"] == "tierwatch"
    assert dashboard["title"]
    assert _queries()


def test_every_query_names_only_exported_metrics():
    """Each PromQL expression selects at least one metric, and only known ones."""
    known = _known()
    for title, expr in _queries():
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        unknown = names - known
        assert not unknown, f"{title}: {sorted(unknown)} not exported (in {expr!r})"


def test_every_panel_uses_the_provisioned_datasource():
    """Every panel and target references the Prometheus data source by its provisioned uid."""
    uid = _datasource_uid()
    for panel in _panels(_dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel.get("targets", []):
            assert target.get("datasource", panel["datasource"])["uid"] == uid, panel["title"]


@pytest.mark.parametrize(
    "topic",
    ["throughput", "lag", "reject", "tier", "transition", "dispatch", "latency"],
)
def test_dashboard_covers(topic):
    """The dashboard has a panel about each of the issue's subjects."""
    titles = " ".join(p["title"].lower() for p in _panels(_dashboard()["panels"]))
    assert topic in titles


def test_panel_ids_are_unique():
    """Grafana needs a unique id per panel."""
    ids = [panel["id"] for panel in _panels(_dashboard()["panels"])]
    assert len(ids) == len(set(ids))


def test_provisioning_points_at_the_dashboards_folder():
    """The dashboard provider reads the path where compose mounts deploy/grafana/dashboards."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_in_container = mounts["./deploy/grafana/dashboards"]
    providers = [
        provider
        for path in sorted(PROVIDERS.glob("*.y*ml"))
        for provider in yaml.safe_load(path.read_text("utf-8"))["providers"]
    ]
    assert [p["options"]["path"] for p in providers] == [dashboards_in_container]
    assert (GRAFANA / "dashboards").is_dir()
    assert list((GRAFANA / "dashboards").glob("*.json")) == [DASHBOARD]


def test_datasource_points_at_the_compose_prometheus():
    """The provisioned data source is the compose prometheus service, and the default."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    (source,) = yaml.safe_load(next(DATASOURCES.glob("*.y*ml")).read_text("utf-8"))["datasources"]
    assert source["url"].startswith("http://prometheus:9090")
    assert "prometheus" in compose["services"]
    assert source["isDefault"] is True
