"""The same history gives the same transitions in separate processes, whatever the hash seed."""

from __future__ import annotations

import os
import subprocess
import sys


def replay_in_process(history: str, hash_seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    cmd = [sys.executable, "-m", "stream.cli", "replay", history]
    return subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=120).stdout


def test_replay_is_identical_across_processes_and_hash_seeds(tmp_path):
    """Two processes with different PYTHONHASHSEED replay a simulated team byte for byte
    alike (no set order, dict order or wall clock leaks into the transitions)."""
    history = tmp_path / "team.jsonl"
    cmd = [sys.executable, "-m", "stream.cli", "simulate", "--learners", "40", "--weeks", "8"]
    subprocess.run([*cmd, "--seed", "11", "--out", str(history)], check=True, timeout=120)
    first = replay_in_process(str(history), "1")
    second = replay_in_process(str(history), "4242")
    assert first == second
    assert first.count(b"\n") > 20
