"""The step path compiled with mypyc: a copy of `stream/` and `schemas/` in which the core's
modules (and the what-if engine around them) are C extensions.

    python deploy/compile.py DEST            # a compiled copy of the source tree in DEST
    python deploy/compile.py --in-place DIR  # compile the installed package in DIR (Dockerfile)

Run a command against the copy from inside it (`cd DEST && python -m stream.cli ...`): the
working directory comes first on `sys.path`. `make bench` measures it and the Docker image
ships it; a development install stays pure Python, so what you edit is what runs.

The same source, type-checked by mypy, compiled: tests/test_compiled.py checks that replay
and the what-if report are byte for byte the pure modules' and that the demo's compiled
workers stream what replay gives. The state
classes (`stream.core.state`) stay pure: pydantic reads their field types to load and store
them, and a compiled class does not keep them. bench/RESULTS.md (row 11) has what it buys.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Every module a record's step runs through, and the what-if engine's loop.
MODULES = (
    *(
        f"stream/core/{name}.py"
        for name in (
            "bounds", "completions", "due", "keys", "leaving", "reminders", "retraction",
            "rules", "signals", "step", "tiers", "timeline", "timeliness", "today",
            "transitions", "wakeups", "weeks",
        )
    ),
    "stream/tools/whatif/engine.py",
)  # fmt: skip

MARK = ".compiled"  # written last: the list of modules compiled, the copy is complete


def copy_tree(dest: Path) -> None:
    """A fresh copy of the packages (and the mypy settings) in `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    for package in ("stream", "schemas"):
        shutil.copytree(ROOT / package, dest / package, ignore=skip)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def compile_in(folder: Path, extra: list[str] | None = None) -> None:
    """Compile `MODULES` in `folder`, next to their sources (the log in `mypyc.log`)."""
    log = folder / "mypyc.log"
    started = time.monotonic()
    print(f"mypyc: compiling {len(MODULES)} modules in {folder} (about 30 s)", flush=True)
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "mypyc", *(extra or []), *MODULES],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise SystemExit(f"mypyc failed (exit {done.returncode}), the end of {log}:\n" +
                         "\n".join(tail))  # fmt: skip
    for scratch in ("build", ".mypy_cache"):  # the generated C and mypy's cache: not run
        shutil.rmtree(folder / scratch, ignore_errors=True)
    (folder / MARK).write_text("\n".join(MODULES) + "\n")
    print(f"mypyc: done in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="where the compiled copy goes")
    parser.add_argument(
        "--in-place", action="store_true",
        help="compile the packages already in DEST (a site-packages folder) instead of a copy",
    )  # fmt: skip
    args = parser.parse_args()
    dest = args.dest.resolve()
    if args.in_place:  # checked as the source tree is, and against the packages installed there
        compile_in(dest, ["--config-file", str(ROOT / "pyproject.toml")])
    else:
        copy_tree(dest)
        compile_in(dest)


if __name__ == "__main__":
    main()
