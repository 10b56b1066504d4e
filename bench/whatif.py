"""`tierwatch whatif` of three policies against one `tierwatch replay`, on one history (rows
11a-11c of bench/RESULTS.md): wall time and the peak of the resident memory of all the
command's processes together, sampled from /proc every 50 ms.

    python -m bench.whatif [--learners 10000] [--weeks 52] [--seed 7] [--history FILE]
        [--compiled build/compiled]

Also a part of `python -m bench.pipeline` (`--only whatif`), which writes the rows.
The three policies differ in thresholds, not in timezone: the shipped one, a stricter one
(a dip below 80% of the baseline, Tier 3 after 3 weeks as before, a 5-day follow-up) and a
looser one (a dip below 65%, a major drop over 60%, Tier 2 after 3 dip weeks, Tier 3
after 4). With `--compiled DIR` (`make compiled`, what `make bench` passes), 11a and 11b run
the step path compiled with mypyc, as the Docker image ships it, and 11d runs the same
what-if on the pure modules for comparison. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import Row, table
from stream.core.policy import Policy
from stream.policyfile import load_policy
from stream.sim.simulate import simulate, write_jsonl

CHANGES: dict[str, dict[str, dict[str, object]]] = {
    "stricter": {"activity": {"dip_below": 0.8}, "follow_up": {"days": 5}},
    "looser": {
        "activity": {"dip_below": 0.65, "major_drop": 0.6},
        "tiers": {"tier2_dip_weeks": 3, "tier3_dip_weeks": 4},
    },
}


def policy_files(policy: Policy, folder: Path) -> list[str]:
    """The shipped policy ('default') and the two variants as YAML files in `folder`."""
    names = ["default"]
    for name, changes in CHANGES.items():
        data = policy.model_dump(mode="json")
        for section, values in changes.items():
            data[section] = {**data[section], **values}
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        load_policy(path)  # fails here, not in the measured command
        names.append(str(path))
    return names


def tree_rss(root: int) -> int:
    """Resident memory (KiB) of a process and all its descendants, now (from /proc: each
    process's children, then their VmRSS)."""
    total, frontier, seen = 0, [root], set()
    while frontier:
        pid = frontier.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    frontier.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total


def measured(cmd: list[str], cwd: Path | None = None) -> tuple[float, int, float]:
    """Wall seconds, the peak RSS (KiB) of the whole process tree, and the CPU seconds
    (user + system) of the command and its children (run in `cwd`)."""
    before = os.times()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.05)
    took = time.perf_counter() - started
    after = os.times()
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {err[-2000:]}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return took, peak, cpu


def compiled_tree(folder: Path) -> Path:
    """`folder` (`deploy/compile.py`'s copy), checked to run its step path compiled."""
    folder = folder.resolve()
    code = "import stream.core.step as s; print(s.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0 or not done.stdout.strip().endswith(".so"):
        raise SystemExit(f"{folder}: no compiled copy (make compiled): {done.stdout}{done.stderr}")
    return folder


def whatif_rows(
    path: Path, records: int, policy: Policy, tmp: Path, compiled: Path | None = None
) -> list[Row]:
    """Rows 11a (one replay), 11b (whatif of three policies) and 11c (their ratio), compiled
    when `compiled` names the mypyc copy, and then 11d (the what-if on the pure modules)."""
    workers = min(os.cpu_count() or 1, 4)
    build = "step path compiled (mypyc)" if compiled is not None else "pure Python"
    cli = [sys.executable, "-m", "stream.cli"]
    replay = [*cli, "replay", str(path), "--out", os.devnull, "--workers", str(workers)]
    names = policy_files(policy, tmp)
    whatif = [*cli, "whatif", str(path), "--out", str(tmp / "report"), "--workers", str(workers)]
    for name in names:
        whatif += ["--policy", name]
    rows = []
    timings = []
    runs = [
        ("11a", "tierwatch replay, 1 policy", replay, compiled, build),
        ("11b", "tierwatch whatif, 3 policies", whatif, compiled, build),
    ]
    if compiled is not None:
        runs.append(("11d", "tierwatch whatif, 3 policies, pure", whatif, None, "pure Python"))
    for number, label, cmd, cwd, how in runs:
        took, peak, cpu = measured(cmd, cwd)
        timings.append(took)
        note = (
            f"{records:,} records, {workers} processes, {how}: {took:.1f} s wall, {cpu:.0f} s "
            f"CPU (all processes), peak RSS of all processes together {peak / 1024:,.0f} MiB"
        )
        rows.append(Row(number, label, took, "s", note, digits=1))
    about = "wall time of 11b over 11a (3 replays would be 3x)"
    rows.append(Row("11c", "whatif of 3 policies / one replay", timings[1] / timings[0], "x",
                    about, digits=2))  # fmt: skip
    return rows


def history(learners: int, weeks: int, seed: int, policy: Policy, path: Path) -> int:
    with path.open("w") as out:
        return write_jsonl(simulate(learners, weeks, seed, policy=policy), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history", type=Path, help="an existing history instead")
    parser.add_argument("--compiled", type=Path, help="the mypyc copy (make compiled) to run")
    args = parser.parse_args()
    compiled = compiled_tree(args.compiled) if args.compiled is not None else None
    policy = load_policy()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.history or Path(tmp) / "history.jsonl"
        if args.history is None:
            records = history(args.learners, args.weeks, args.seed, policy, path)
        else:
            with path.open("rb") as source:
                records = sum(1 for line in source if line.strip())
        print(table(whatif_rows(path, records, policy, Path(tmp), compiled)))


if __name__ == "__main__":
    main()
