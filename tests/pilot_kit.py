"""Simulated pilot histories for the pilot report's tests (`stream.sim.pilot`), and one
with manager feedback added: every nudge (Tier 1 rise) whose only reason is a minor dip of
less than 40% marked not useful, as a manager who finds mild dips noise would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from schemas.history import to_line
from stream.sim.pilot import World, simulate_world
from stream.sim.simulate import DEFAULT_START
from stream.tools.whatif.engine import evaluate
from tests.kit import POLICY

PILOT_FROM = DEFAULT_START + dt.timedelta(weeks=4)  # 2026-02-02, a Monday: weeks 4-7
TEAM = "team-01"


def write(path: Path, learners: int, weeks: int, team_size: int, completion: float = 0.0,
          attrition: float = 0.0, leave_rate: float = 0.05, seed: int = 11) -> Path:  # fmt: skip
    """A simulated organisation with a pilot in `TEAM` from `PILOT_FROM` for 4 weeks."""
    world = World(team_size=team_size, pilot_team=TEAM, pilot_from=PILOT_FROM,
                  effect_completion=completion, effect_attrition=attrition,
                  leave_rate=leave_rate)  # fmt: skip
    with path.open("wb") as out:
        for record in simulate_world(learners, weeks, seed, world, policy=POLICY):
            out.write(orjson.dumps(to_line(record)) + b"\n")
    return path


def with_feedback(path: Path, out: Path) -> tuple[Path, int]:
    """The history with feedback appended (see the module); how many pieces."""
    lines = path.read_bytes().splitlines()
    result = evaluate(lines, [POLICY], [None])[0]
    added = []
    for found in result.found:
        t = orjson.loads(found.line)
        codes = {r["code"] for r in t["reasons"]}
        drop = max((r["numbers"].get("drop_pct", 100) for r in t["reasons"]), default=100)
        if t["to_tier"] == 1 > t["from_tier"] and codes == {"minor_dip"} and drop < 40:
            at = dt.datetime.fromisoformat(t["at"]) + dt.timedelta(days=1)
            added.append({"type": "intervention", "learner_id": t["learner_id"],
                          "kind": "not_useful", "at": at.isoformat(), "transition_id": t["id"],
                          "id": f"fb-{t['id']}"})  # fmt: skip
    out.write_bytes(b"\n".join([*lines, *(orjson.dumps(a) for a in added)]) + b"\n")
    return out, len(added)
