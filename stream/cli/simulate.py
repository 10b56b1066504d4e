"""`tierwatch simulate`: a simulated history, and the organisation and pilot knobs."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from stream.core.policy import PolicyError
from stream.policyfile import load_policy

_WORLD = "Organisation and pilot (any of these: leaving, conversations, drawn completions)"


def simulate(
    learners: Annotated[int, typer.Option(min=1, help="how many learners")] = 40,
    weeks: Annotated[int, typer.Option(min=1, help="how many weeks")] = 8,
    seed: Annotated[int, typer.Option(help="random seed: the same seed, the same history")] = 1,
    out: Annotated[
        Path | None, typer.Option("--out", help="history JSONL (default: stdout)")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="policy YAML (default: the shipped policy)")
    ] = None,
    attrition: Annotated[
        bool,
        typer.Option(
            "--attrition",
            help="leaving records, managers' conversations and drawn completions, no pilot",
            rich_help_panel=_WORLD,
        ),
    ] = False,
    team_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="learners a team (default 8; a multiple of 20: teams alike)",
            rich_help_panel=_WORLD,
        ),
    ] = None,
    pilot_team: Annotated[
        str | None, typer.Option(help="the pilot team, e.g. team-01", rich_help_panel=_WORLD)
    ] = None,
    pilot_from: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="the pilot's first day, a Monday", rich_help_panel=_WORLD
        ),
    ] = None,
    pilot_weeks: Annotated[
        int, typer.Option(min=1, help="the pilot's length in weeks", rich_help_panel=_WORLD)
    ] = 4,
    effect_completion: Annotated[
        float,
        typer.Option(
            help="added to P(an assignment due within the pilot is done on time), pilot team",
            rich_help_panel=_WORLD,
        ),
    ] = 0.0,
    effect_attrition: Annotated[
        float,
        typer.Option(
            help="the share taken off the weekly voluntary leaving hazard within the "
            "pilot, pilot team",
            rich_help_panel=_WORLD,
        ),
    ] = 0.0,
    leave_rate: Annotated[
        float | None,
        typer.Option(
            help="weekly voluntary leaving hazard of an engaged learner (0.003)",
            rich_help_panel=_WORLD,
        ),
    ] = None,
    involuntary_rate: Annotated[
        float | None,
        typer.Option(
            help="weekly involuntary leaving hazard of an engaged learner (0.001)",
            rich_help_panel=_WORLD,
        ),
    ] = None,
) -> None:
    """Write a realistic simulated history (mixed roles and personas) as JSON lines; with
    the organisation knobs, learners also leave, managers record conversations, and a pilot
    team's pilot changes completion and leaving by the effects given (stream/sim/pilot.py)."""
    from stream.sim.pilot import World, simulate_world
    from stream.sim.simulate import simulate as generate
    from stream.sim.simulate import write_jsonl

    try:
        rules = load_policy(policy)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    knobs: dict[str, object] = {
        "team_size": team_size, "leave_rate": leave_rate, "involuntary_rate": involuntary_rate,
    }  # fmt: skip
    chosen = {name: value for name, value in knobs.items() if value is not None}
    pilot = pilot_team is not None or pilot_from is not None
    if pilot or attrition or effect_completion or effect_attrition or len(chosen) > 0:
        try:
            world = World(
                **chosen,  # type: ignore[arg-type]
                pilot_team=pilot_team,
                pilot_from=pilot_from.date() if pilot_from else None,
                pilot_weeks=pilot_weeks,
                effect_completion=effect_completion,
                effect_attrition=effect_attrition,
            )
        except ValueError as exc:
            typer.echo(f"simulate: {exc}", err=True)
            raise typer.Exit(2) from None
        records = simulate_world(learners, weeks, seed, world, policy=rules)
    else:
        records = generate(learners, weeks, seed, policy=rules)
    sink = out.open("w") if out else sys.stdout
    try:
        count = write_jsonl(records, sink)
    finally:
        if out:
            sink.close()
    typer.echo(f"wrote {count} records ({learners} learners, {weeks} weeks, seed {seed})", err=True)
