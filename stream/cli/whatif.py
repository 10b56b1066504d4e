"""`tierwatch whatif`: one history through several policies, and a report of the difference."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from stream.cli.progress import history_size, progress_bar, report_bad_lines
from stream.core.policy import Policy, PolicyError
from stream.core.weeks import day_start
from stream.dispatch.config import DispatchConfig
from stream.policyfile import load_dispatch, load_policy
from stream.tools.replay import BadLine

DEFAULT = "default"  # a --policy of this word is the shipped policy


def whatif(
    history: Annotated[Path, typer.Argument(help="history JSONL, as tierwatch replay reads")],
    policy: Annotated[
        list[str],
        typer.Option(
            "--policy",
            help=f"a policy YAML, or '{DEFAULT}' for the shipped policy; give two or more "
            "to compare them (the first is the one the others are compared with)",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="the report's folder (created; files replaced)")
    ] = Path("whatif-report"),
    dispatch: Annotated[
        Path | None,
        typer.Option(help="dispatch YAML: its nudge limit (default: dispatch's default, 7 days)"),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        typer.Option(help="tick until this date (default: a week after the last record)"),
    ] = None,
    strict: Annotated[bool, typer.Option(help="stop at the first bad line")] = False,
    workers: Annotated[
        int,
        typer.Option(min=0, help="processes, each taking a share of the learners; 0: one a CPU"),
    ] = 0,
) -> None:
    """Run one history through each policy (each giving exactly what `tierwatch replay
    --policy` gives) and write an HTML report with plots, CSV and JSON of every number.

    Per policy and ISO week: transitions per tier and role, messages per recipient (the
    worst manager-week), learners flagged, days from the first signal to Tier 2, feedback
    per rule; then the transitions where the policies disagree, with examples."""
    from stream.tools.whatif.aggregates import difference, figures
    from stream.tools.whatif.processes import evaluate_file
    from stream.tools.whatif.report import terminal_summary, write_report

    rules = [_load(name) for name in policy]
    names = _names(policy)
    config = DispatchConfig() if dispatch is None else _load_dispatch(dispatch)
    size = history_size(history)
    ends = [_until(until, r) for r in rules]
    count = workers or min(len(os.sched_getaffinity(0)), 4)
    with progress_bar() as bar:
        task = bar.add_task(f"{len(rules)} policies", total=size * max(count, 1))
        try:
            results = evaluate_file(
                history, rules, ends, strict, count, lambda n: bar.advance(task, n)
            )
        except BadLine as exc:
            typer.echo(f"{history}: {exc}", err=True)
            raise typer.Exit(1) from None
        bar.update(task, description="the report")
        found = [
            figures(name, source, rule, result, config)
            for name, source, rule, result in zip(names, policy, rules, results, strict=True)
        ]
        differences = [difference(found[0], other) for other in found[1:]]
        index = write_report(out, found, differences)
    report_bad_lines(history, results[0].errors)
    for line in terminal_summary(found, differences):
        typer.echo(line)
    typer.echo(f"report: {index}")


def _load(name: str) -> Policy:
    try:
        return load_policy(None if name == DEFAULT else Path(name))
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _load_dispatch(path: Path) -> DispatchConfig:
    try:
        return load_dispatch(path)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _names(sources: list[str]) -> list[str]:
    """A short name a policy: its file's stem ('default' for the shipped one), numbered
    when two are alike."""
    stems = [DEFAULT if s == DEFAULT else Path(s).stem for s in sources]
    return [
        stem if stems.count(stem) == 1 else f"{stem}#{stems[: i + 1].count(stem)}"
        for i, stem in enumerate(stems)
    ]


def _until(until: dt.datetime | None, policy: Policy) -> dt.datetime | None:
    if until is None:
        return None
    return until if until.tzinfo else day_start(until.date(), policy.tz)
