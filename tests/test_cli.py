"""The `tierwatch` command line, driven in-process: policy check, simulate, replay, settings.

Click 8.2+ keeps stdout and stderr apart in `CliRunner` results (`result.stdout`,
`result.stderr`; `result.output` interleaves both), so no `mix_stderr` is needed.

The --until tests use one learner with a steady baseline and a sharp dip in week 4:

    week        0    1    2    3    4    5
    events      6    6    6    6    2    6
    evaluated                      Tue 2026-02-10 00:00  -> tier 0 -> 1 (major dip)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog
from typer.testing import CliRunner

from schemas.history import HISTORY_LINE, Record, to_line
from schemas.transitions import TierTransition
from stream.cli import app
from stream.core.timeline import run_history
from stream.policyfile import load_policy
from stream.settings import Settings
from tests.kit import evaluated, ordered, profile, weeks

SHIPPED_POLICY = Path(__file__).parent.parent / "stream" / "default_policy.yaml"
BROKEN_POLICY = """\
timezone: Mars/Olympus
activity:
  dip_below: 1.5
  bogus: 3
tiers:
  tier2_dip_weeks: -1
roles:
  sales_rep:
    missed_thresholds: {certification: "two"}
"""
BROKEN_PATHS = [
    "timezone",
    "activity.dip_below",
    "activity.bogus",
    "tiers.tier2_dip_weeks",
    "roles.sales_rep.missed_thresholds.certification",
]
SIMULATED = ["--learners", "10", "--weeks", "6", "--seed", "2"]  # gives a dozen transitions
DIP_EVALUATED = evaluated(4).date()  # 2026-02-10
BEFORE_DIP_EVALUATED = "2026-02-09"


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """The CLI configures structlog onto the runner's stderr; put the old set-up back after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def invoke(*args: str | Path, stdin: bytes | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin, env=env)


def write_history(path: Path, records: list[Record]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(to_line(r)) + b"\n" for r in records))
    return path


def transitions(text: str) -> list[TierTransition]:
    return [TierTransition.model_validate_json(line) for line in text.splitlines()]


def dip_history(path: Path, counts: list[int]) -> Path:
    return write_history(path, ordered([profile("a"), *weeks("a", counts)]))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated history of 10 learners over 6 weeks, written by `tierwatch simulate`."""
    path = tmp_path_factory.mktemp("history") / "history.jsonl"
    result = invoke("simulate", *SIMULATED, "--out", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def replayed(simulated: Path) -> str:
    """The stdout of `tierwatch replay` on the simulated history."""
    result = invoke("replay", simulated)
    assert result.exit_code == 0, result.output
    return result.stdout


# policy check


def test_policy_check_accepts_the_shipped_policy():
    """`policy check` on the shipped policy exits 0 and says ok, with timezone and roles."""
    result = invoke("policy", "check", SHIPPED_POLICY)
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout
    assert "timezone UTC" in result.stdout
    assert "sales_rep" in result.stdout


def test_policy_check_lists_every_problem_with_its_dotted_path(tmp_path):
    """A broken policy exits 1 and names each problem by its dotted path, on stderr."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    result = invoke("policy", "check", policy)
    assert result.exit_code == 1
    assert f"{len(BROKEN_PATHS)} problem(s)" in result.stderr
    problem_lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert [line.split(": ", 1)[0] for line in problem_lines] == BROKEN_PATHS
    assert "ok" not in result.stdout


def test_policy_check_of_a_missing_file_exits_1(tmp_path):
    """A policy file that does not exist is a problem, not a traceback."""
    result = invoke("policy", "check", tmp_path / "absent.yaml")
    assert result.exit_code == 1
    assert "(file)" in result.stderr


def test_replay_with_a_broken_policy_exits_2(tmp_path, simulated):
    """A command given an invalid --policy stops with exit code 2 and the problems."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    result = invoke("replay", simulated, "--policy", policy)
    assert result.exit_code == 2
    assert "activity.dip_below" in result.stderr
    assert result.stdout == ""


def test_ingest_with_a_broken_policy_file_exits_2_before_starting(tmp_path):
    """Ingest judges event times by the policy: a broken TIERWATCH_POLICY_FILE stops it
    with exit code 2 and the problems, before any broker is started."""
    policy = tmp_path / "broken.yaml"
    policy.write_text(BROKEN_POLICY)
    result = invoke("ingest", env={"TIERWATCH_POLICY_FILE": str(policy)})
    assert result.exit_code == 2
    assert "activity.dip_below" in result.stderr


# simulate


def test_simulate_writes_valid_history_lines_and_says_how_many(tmp_path):
    """Every line written by `simulate --out` is a history line; stderr counts them."""
    out = tmp_path / "history.jsonl"
    result = invoke("simulate", "--learners", "5", "--weeks", "3", "--seed", "2", "--out", out)
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().splitlines()
    assert lines
    for line in lines:
        HISTORY_LINE.validate_json(line)
    assert f"wrote {len(lines)} records" in result.stderr
    assert "5 learners, 3 weeks, seed 2" in result.stderr
    assert result.stdout == ""


def test_simulate_is_deterministic_per_seed(tmp_path):
    """The same seed twice gives byte-identical files; another seed gives another file."""

    def simulate(seed: int, name: str) -> bytes:
        out = tmp_path / name
        result = invoke("simulate", "--learners", "5", "--weeks", "3", "--seed", seed, "--out", out)
        assert result.exit_code == 0, result.output
        return out.read_bytes()

    assert simulate(2, "a.jsonl") == simulate(2, "b.jsonl")
    assert simulate(2, "a.jsonl") != simulate(3, "c.jsonl")


def test_simulate_writes_to_stdout_without_out(tmp_path):
    """Without --out the history goes to stdout, the same bytes as with --out."""
    out = tmp_path / "history.jsonl"
    invoke("simulate", "--learners", "3", "--weeks", "2", "--out", out)
    result = invoke("simulate", "--learners", "3", "--weeks", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == out.read_text()


# replay


def test_replay_writes_transitions_as_json_lines(replayed):
    """stdout of `replay` is one TierTransition JSON document per line, and there are some."""
    assert len(transitions(replayed)) > 0


def test_replay_summarises_on_stderr(simulated):
    """The summary on stderr counts records, learners per tier and transitions."""
    result = invoke("replay", simulated)
    records = len(simulated.read_bytes().splitlines())
    found = transitions(result.stdout)
    assert f"replayed {records} records, skipped 0 bad lines" in result.stderr
    by_tier = re.search(r"learners by tier: (.*)", result.stderr)
    assert by_tier is not None
    counts = [int(n) for n in re.findall(r"tier \d: (\d+)", by_tier.group(1))]
    assert len(counts) == 4
    assert sum(counts) == 10  # every simulated learner is somewhere
    assert f"transitions: {len(found)}" in result.stderr
    assert "week       to tier 0  1  2  3" in result.stderr


def test_replay_out_writes_the_same_lines_to_a_file(tmp_path, simulated, replayed):
    """With --out the transitions go to the file, byte for byte what stdout would get."""
    out = tmp_path / "transitions.jsonl"
    result = invoke("replay", simulated, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_text() == replayed
    assert result.stdout == ""
    assert "transitions:" in result.stderr


def test_replaying_the_same_file_twice_gives_the_same_output(simulated, replayed):
    """Replay is deterministic: same history, same transitions (ids included), same summary."""
    first, second = invoke("replay", simulated), invoke("replay", simulated)
    assert first.stdout == second.stdout == replayed
    assert first.stderr == second.stderr


def test_replay_gives_what_the_core_gives_for_the_same_records(simulated, replayed):
    """The CLI's transitions are run_history's transitions for the file's records, in order."""
    records = [HISTORY_LINE.validate_json(line) for line in simulated.read_bytes().splitlines()]
    expected = [t for t in run_history(records, load_policy()) if isinstance(t, TierTransition)]
    assert [t.id for t in transitions(replayed)] == [t.id for t in expected]
    assert transitions(replayed) == expected


def test_replay_reads_stdin_for_dash(simulated, replayed):
    """`replay -` reads the history from stdin."""
    result = invoke("replay", "-", stdin=simulated.read_bytes())
    assert result.exit_code == 0, result.output
    assert result.stdout == replayed


def with_bad_lines(simulated: Path, target: Path) -> tuple[Path, dict[int, str]]:
    """The simulated history with a blank line and five bad lines after its profiles.

    Returns the file and, for each bad line's number, what its report must mention.
    """
    lines = simulated.read_text().splitlines()
    first_event = next(i for i, line in enumerate(lines) if '"type":"event"' in line)
    event = orjson.loads(lines[first_event])
    missing = {k: v for k, v in event.items() if k != "occurred_at"} | {"id": "x4"}
    bad = [
        ("{not json", "Invalid JSON"),
        (orjson.dumps({**event, "type": "mystery", "id": "x1"}).decode(), "'type'"),
        (orjson.dumps({**event, "kind": "nap", "id": "x2"}).decode(), "event.kind"),
        (
            orjson.dumps({**event, "occurred_at": "2026-01-05T10:00:00", "id": "x3"}).decode(),
            "event.occurred_at",
        ),
        (orjson.dumps(missing).decode(), "event.occurred_at"),
    ]
    out = [*lines[:first_event], "", *(text for text, _ in bad), *lines[first_event:]]
    target.write_text("\n".join(out) + "\n")
    first_bad = first_event + 2  # 1-based, after the blank line
    return target, {first_bad + i: mention for i, (_, mention) in enumerate(bad)}


def test_replay_skips_bad_lines_and_reports_each(tmp_path, simulated, replayed):
    """Bad lines are reported with line number and field; the good ones replay as if alone."""
    history, expected = with_bad_lines(simulated, tmp_path / "bad.jsonl")
    result = invoke("replay", history)
    assert result.exit_code == 0, result.output
    assert result.stdout == replayed
    reports = [line for line in result.stderr.splitlines() if " skipped line " in line]
    assert len(reports) == len(expected)
    for report, (number, mention) in zip(reports, expected.items(), strict=True):
        assert f"skipped line {number}: " in report
        assert mention in report
    assert f"skipped {len(expected)} bad lines" in result.stderr


def test_replay_strict_stops_at_the_first_bad_line(tmp_path, simulated):
    """With --strict the first bad line ends the replay: non-zero exit, its line number."""
    history, expected = with_bad_lines(simulated, tmp_path / "bad.jsonl")
    first, *rest = expected
    result = invoke("replay", "--strict", history)
    assert result.exit_code != 0
    assert f"line {first}: " in result.stderr
    assert not any(f"line {number}: " in result.stderr for number in rest)
    assert "replayed" not in result.stderr


def test_replay_skips_events_outside_the_window_of_event_times(tmp_path, simulated, replayed):
    """Events in years 1, 1900 and 9999 (the first event line among them) are skipped as
    bad lines naming occurred_at, as the stream dead-letters them: the rest replays as if
    alone, with one process, with two, and from stdin."""
    lines = simulated.read_text().splitlines()
    first_event = next(i for i, line in enumerate(lines) if '"type":"event"' in line)
    event = orjson.loads(lines[first_event])
    middle = (first_event + len(lines)) // 2
    far = {
        "0001-01-02T10:00:00+00:00": first_event,
        "9999-12-30T10:00:00-05:00": middle,
        "1900-01-01T00:00:00Z": middle + 1,
    }
    for n, (when, at) in enumerate(sorted(far.items(), key=lambda item: -item[1])):
        lines.insert(at, orjson.dumps({**event, "id": f"far-{n}", "occurred_at": when}).decode())
    history = tmp_path / "far.jsonl"
    history.write_text("\n".join(lines) + "\n")
    for args, stdin in (((history, "--workers", "1"), None), ((history, "--workers", "2"), None),
                        (("-",), history.read_bytes())):  # fmt: skip
        result = invoke("replay", *args, stdin=stdin)
        assert result.exit_code == 0, result.output
        assert result.stdout == replayed
        reports = [line for line in result.stderr.splitlines() if " skipped line " in line]
        assert len(reports) == 3
        assert all(": occurred_at: occurred_at is " in report for report in reports)
        assert "skipped 3 bad lines" in result.stderr


def test_replay_until_before_the_dip_is_evaluated_gives_no_transition(tmp_path):
    """A history ending in the dip week, --until the day before it is evaluated: nothing."""
    history = dip_history(tmp_path / "dip.jsonl", [6, 6, 6, 6, 2])
    result = invoke("replay", history, "--until", BEFORE_DIP_EVALUATED)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "transitions: 0" in result.stderr


def test_replay_until_the_dip_is_evaluated_gives_the_transition(tmp_path):
    """The same history --until the evaluation day gives the 0 -> 1 transition at midnight."""
    history = dip_history(tmp_path / "dip.jsonl", [6, 6, 6, 6, 2])
    result = invoke("replay", history, "--until", DIP_EVALUATED.isoformat())
    assert result.exit_code == 0, result.output
    (transition,) = transitions(result.stdout)
    assert (transition.learner_id, transition.from_tier, transition.to_tier) == ("a", 0, 1)
    assert transition.at == evaluated(4)


def test_replay_until_stops_ticking_even_when_records_go_on(tmp_path):
    """Records after --until (week 5) do not tick past it: no transition before evaluation."""
    history = dip_history(tmp_path / "dip.jsonl", [6, 6, 6, 6, 2, 6])
    result = invoke("replay", history, "--until", BEFORE_DIP_EVALUATED)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


# settings


def test_settings_lists_every_variable_and_masks_the_pseudonym_key():
    """`settings` shows each TIERWATCH_ variable with its value; the pseudonym key is masked."""
    secret = "s3cret-pseudonym-key-do-not-print"
    env = {"TIERWATCH_PSEUDONYM_KEY": secret, "TIERWATCH_APP_ID": "tierwatch-test"}
    result = invoke("settings", env=env)
    assert result.exit_code == 0, result.output
    names = {line.split()[0] for line in result.stdout.splitlines()}
    assert names == {f"TIERWATCH_{name.upper()}" for name in Settings.model_fields}
    assert secret not in result.output
    key_line = next(line for line in result.stdout.splitlines() if "PSEUDONYM_KEY" in line)
    assert "**********" in key_line
    app_line = next(line for line in result.stdout.splitlines() if "TIERWATCH_APP_ID" in line)
    assert "tierwatch-test" in app_line
