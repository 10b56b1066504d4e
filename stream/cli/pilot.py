"""`tierwatch pilot`: a pilot team measured against comparison teams, before and during."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from stream.cli.progress import history_size, progress_bar, report_bad_lines
from stream.core.policy import Policy, PolicyError
from stream.errors import BadInput
from stream.policyfile import load_policy


def pilot(
    history: Annotated[Path, typer.Argument(help="history JSONL, as tierwatch replay reads")],
    team: Annotated[str, typer.Option("--team", help="the pilot team, as the profiles name it")],
    start: Annotated[
        dt.datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="the pilot's first day (YYYY-MM-DD)"),
    ],
    weeks: Annotated[int, typer.Option(min=1, max=52, help="the pilot's length in weeks")] = 4,
    compare: Annotated[
        list[str] | None,
        typer.Option("--compare", help="a comparison team (repeat; default: every other team)"),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="policy YAML (default: the shipped policy)")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="the report's folder (created; files replaced)")
    ] = Path("pilot-report"),
    workers: Annotated[
        int,
        typer.Option(min=0, help="processes, each taking a share of the learners; 0: one a CPU"),
    ] = 0,
) -> None:
    """Measure a pilot: completion on time, voluntary attrition and on-time interventions
    of the pilot team before and during the pilot, against the comparison teams over the
    same weeks (difference in differences, 95% bootstrap intervals, "not enough data" when
    the groups are too small), escalations, and threshold suggestions from the feedback,
    each checked by running the changed policy over the history. Writes an HTML report,
    CSV and JSON of every number."""
    from stream.tools.pilot.report import terminal_summary, write_report
    from stream.tools.pilot.run import measure

    rules = _load(policy)
    size = history_size(history)
    count = workers or min(len(os.sched_getaffinity(0)), 4)
    with progress_bar() as bar:
        task = bar.add_task("the pilot", total=size * (1 + 2 * max(count, 1)))
        try:
            found = measure(
                history, rules, team, start.date(), weeks, list(compare or []), count,
                lambda n: bar.advance(task, n), lambda text: bar.update(task, description=text),
            )  # fmt: skip
        except BadInput as exc:
            typer.echo(f"{history}: {exc}", err=True)
            raise typer.Exit(2) from None
        bar.update(task, description="the report")
        index = write_report(out, found)
    report_bad_lines(history, found.bad_lines)
    for line in terminal_summary(found):
        typer.echo(line)
    typer.echo(f"report: {index}")


def _load(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
