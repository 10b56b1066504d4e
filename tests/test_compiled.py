"""The mypyc build (`deploy/compile.py`, what `make bench` measures and the Docker image
ships) gives what the pure modules give: replay's transitions and overdue follow-ups byte
for byte, the what-if report's files byte for byte, and the demo's stream through the
embedded broker matching replay.

The build needs a C compiler and Python's headers; without them these tests skip, except
in CI (CI=true), where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRICT = "activity:\n  dip_below: 0.8\nfollow_up:\n  days: 5\n"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        if os.environ.get("CI", "").lower() in {"true", "1"}:
            pytest.fail("no C compiler: mypyc cannot build (apt install gcc python3-dev)")
        pytest.skip("no C compiler for mypyc")
    dest = tmp_path_factory.mktemp("compiled") / "tree"
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "compile.py"), str(dest)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return dest


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """A year of 120 learners with leaving, conversations and completions drawn."""
    path = tmp_path_factory.mktemp("history") / "history.jsonl"
    cli(ROOT, "simulate", "--learners", "120", "--weeks", "30", "--seed", "11",
        "--attrition", "--out", str(path))  # fmt: skip
    return path


def cli(tree: Path, *args: str, timeout: float = 600) -> str:
    """`python -m stream.cli ARGS` run from `tree` (which comes first on sys.path)."""
    done = subprocess.run(
        [sys.executable, "-m", "stream.cli", *args],
        cwd=tree, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def module_files(tree: Path, *names: str) -> list[str]:
    code = (
        "import importlib, sys; print(*(importlib.import_module(n).__file__ for n in sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *names], cwd=tree, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_the_step_path_runs_compiled_from_the_copy_and_the_state_stays_pure(compiled):
    """Each listed module imports as a C extension from the copy; the state classes do not."""
    names = ["stream.core.step", "stream.core.timeline", "stream.tools.whatif.engine"]
    files = module_files(compiled, *names, "stream.core.state")
    for name, file in zip(names, files[:-1], strict=True):
        assert file.startswith(str(compiled)), (name, file)
        assert file.endswith(".so"), (name, file)
    assert files[-1] == str(compiled / "stream" / "core" / "state.py")
    assert module_files(ROOT, "stream.core.step")[0].endswith("step.py")  # the dev tree: pure


def test_replay_gives_byte_for_byte_the_pure_transitions_and_follow_ups(
    compiled, history, tmp_path
):
    """`tierwatch replay` of one history: the same transitions and follow-ups, compiled or not."""
    outputs = {}
    for name, tree in (("pure", ROOT), ("compiled", compiled)):
        out, follow = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-follow-ups.jsonl"
        cli(tree, "replay", str(history), "--out", str(out), "--follow-ups", str(follow),
            "--workers", "2")  # fmt: skip
        outputs[name] = (out.read_bytes(), follow.read_bytes())
    assert outputs["pure"][0].count(b"\n") > 50  # the history moves tiers enough to compare
    assert outputs["pure"][1]
    assert outputs["compiled"] == outputs["pure"]


def test_whatif_report_files_are_the_pure_ones(compiled, history, tmp_path):
    """`tierwatch whatif` of two policies: every file of the report is the pure run's."""
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    folders = {}
    for name, tree in (("pure", ROOT), ("compiled", compiled)):
        folders[name] = tmp_path / name
        cli(tree, "whatif", str(history), "--policy", "default", "--policy", str(strict),
            "--out", str(folders[name]), "--workers", "2")  # fmt: skip
    files = sorted(p.name for p in folders["pure"].iterdir())
    assert {"whatif.json", "index.html"} <= set(files)
    assert sorted(p.name for p in folders["compiled"].iterdir()) == files
    for file in files:
        pure = (folders["pure"] / file).read_bytes()
        assert (folders["compiled"] / file).read_bytes() == pure, file


@pytest.mark.broker
def test_the_demo_streams_through_compiled_workers_what_replay_gives(compiled):
    """`tierwatch demo` from the copy: the worker's transitions match replay (exit 0)."""
    env_out = cli(compiled, "demo", "--learners", "16", "--weeks", "6", timeout=900)
    assert "streamed transitions match `tierwatch replay`" in env_out
