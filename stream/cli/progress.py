"""What the long offline commands (`tierwatch whatif`, `tierwatch pilot`) share: the
history's size checked before any work, a progress bar on standard error, and the bad
lines they skipped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

# two redraws a second: the bar's process shares the cores with the workers it waits on,
# and rich's default (ten) took about 2 s of CPU over an 80 s what-if (py-spy, measured)
REFRESH_PER_SECOND = 2


def history_size(history: Path) -> int:
    """The history's size in bytes (the bar's unit), or exit 2 when it cannot be read."""
    try:
        size = history.stat().st_size
        history.open("rb").close()
    except OSError as exc:
        typer.echo(f"{history}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    return size


def progress_bar() -> Progress:
    """A bar with its description, percentage and time taken, on standard error, gone
    when done (the command's summary follows)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        refresh_per_second=REFRESH_PER_SECOND,
    )  # fmt: skip


def report_bad_lines(history: Path, errors: Sequence[object]) -> None:
    """The first 20 skipped lines, each named, then how many in all."""
    for bad in errors[:20]:
        typer.echo(f"{history}: skipped {bad}", err=True)
    if len(errors) > 20:
        typer.echo(f"{history}: ... and {len(errors) - 20} more bad lines", err=True)
    if errors:
        typer.echo(f"{history}: {len(errors)} bad lines skipped", err=True)
