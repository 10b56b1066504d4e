"""`tierwatch playbook`: write the team playbook (HTML and Markdown) from a policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

Choice = Literal["all", "html", "md"]


def playbook(
    policy: Annotated[
        Path | None, typer.Option("--policy", help="policy YAML (default: the shipped policy)")
    ] = None,
    dispatch: Annotated[
        Path | None,
        typer.Option(
            "--dispatch",
            help="dispatch YAML: channels, HR and wellbeing, quiet hours, templates "
            "(default: none, so the shipped templates and no channel)",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="folder for playbook.html and playbook.md")
    ] = Path("playbook"),
    kind: Annotated[Choice, typer.Option("--format", help="which files to write")] = "all",
) -> None:
    """Write the team playbook, generated from the policy: thresholds by role, the tiers and
    who is told, when to talk and follow up, the scripts and checklist, the decision tree
    and what managers can and cannot see. A policy or dispatch file that is not valid
    exits 2 with every problem."""
    from stream.core.policy import PolicyError
    from stream.policyfile import load_dispatch, load_policy
    from stream.tools.playbook import FORMATS, write

    try:
        rules = load_policy(policy)
        config = load_dispatch(dispatch) if dispatch is not None else None
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    formats = FORMATS if kind == "all" else (kind,)
    try:
        written = write(
            rules, out, config, formats,
            policy_file=str(policy) if policy is not None else None,
            dispatch_file=str(dispatch) if dispatch is not None else None,
        )  # fmt: skip
    except OSError as exc:
        typer.echo(f"cannot write the playbook into {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    for path in written:
        typer.echo(f"wrote {path}")
