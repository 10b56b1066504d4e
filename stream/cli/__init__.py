"""The `tierwatch` command line."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from stream.cli.playbook import playbook
from stream.cli.simulate import simulate
from stream.core.policy import Policy, PolicyError
from stream.core.weeks import day_start
from stream.logs import configure
from stream.policyfile import load_policy
from stream.settings import Settings

T = TypeVar("T")
app = typer.Typer(help="tierwatch: early warning for learning engagement.", no_args_is_help=True)
policy_app = typer.Typer(help="Work with policy files.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="policy YAML (default: the shipped policy)")
]


def _settings() -> Settings:
    settings = Settings()
    configure(settings.log_level, settings.log_format)
    return settings


def _policy(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@policy_app.command("check")
def policy_check(file: Path) -> None:
    """Validate a policy file; print every problem with its path."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    roles = ", ".join(sorted(policy.roles))
    typer.echo(f"{file}: ok (timezone {policy.timezone}; roles: {roles})")


@app.command()
def replay(
    history: Annotated[Path, typer.Argument(help="history JSONL ('-' for stdin)")],
    policy: PolicyOption = None,
    until: Annotated[
        dt.datetime | None,
        typer.Option(help="tick until this date (default: a week after the last record)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="transitions JSONL (default: stdout)")
    ] = None,
    strict: Annotated[bool, typer.Option(help="stop at the first bad line")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="processes, each replaying a share of the learners (the output is the "
            "same); 0: one per CPU, at most 4; a history on stdin is replayed in one",
        ),
    ] = 0,
    follow_ups: Annotated[
        Path | None,
        typer.Option(
            "--follow-ups",
            help="overdue follow-ups JSONL: each manager reminded, each follow-up escalated "
            "(default: only counted in the summary)",
        ),
    ] = None,
) -> None:
    """Replay a history offline: transitions as JSON lines, a summary on stderr.

    An event dated more than the policy's events.max_age_days (plus the skew) before or
    after the history's newest event so far is skipped as a bad line, as the stream
    dead-letters an event outside its window of event times."""
    from stream.core.bounds import HistoryWindow
    from stream.tools.replay import BadLine, read_history, replay_file
    from stream.tools.replay import replay as run_replay

    _settings()
    rules = _policy(policy)
    end = None
    if until is not None:
        end = until if until.tzinfo else day_start(until.date(), rules.tz)
    errors: list[BadLine] = []
    if str(history) != "-":
        history.open("rb").close()  # an unreadable history fails before --out is created
    sink = out.open("wb") if out else sys.stdout.buffer
    chased = follow_ups.open("wb") if follow_ups else None
    try:
        if str(history) == "-":
            lines = read_history(sys.stdin.buffer, strict, errors, HistoryWindow(rules))
            summary = run_replay(lines, rules, sink, end, chased)
        else:
            count = workers or min(len(os.sched_getaffinity(0)), 4)
            summary = replay_file(
                history, rules, sink, end, strict, errors, count, window=True, follow_ups=chased
            )
    except BadLine as exc:
        typer.echo(f"{history}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        sink.flush()
        if out:
            sink.close()
        if chased is not None:
            chased.close()
    errors.sort(key=lambda bad: bad.number)
    for bad in errors[:20]:
        typer.echo(f"{history}: skipped {bad}", err=True)
    if len(errors) > 20:
        typer.echo(f"{history}: ... and {len(errors) - 20} more bad lines", err=True)
    summary.skipped = len(errors)
    typer.echo(summary.render(), err=True)


app.command()(simulate)


@app.command()
def worker() -> None:
    """Run a stream worker. Configured by TIERWATCH_* variables (see `tierwatch settings`);
    with no TIERWATCH_BROKER it starts the embedded broker."""
    from stream.worker.dirlock import DataDirInUse
    from stream.worker.run import run_worker

    settings = _settings()
    try:
        run_worker(settings, _policy(settings.policy_file))
    except DataDirInUse as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


actions_app = typer.Typer(help="Manager action links.", no_args_is_help=True)
app.add_typer(actions_app, name="actions")


@actions_app.command("new-key")
def actions_new_key() -> None:
    """Print a new key for TIERWATCH_ACTION_KEYS (put it first; keep the old one after it
    until the links it signed have expired)."""
    from stream.actions.tokens import ActionKeys

    typer.echo(ActionKeys.generate())


roster_app = typer.Typer(help="The roster: who learners are.", no_args_is_help=True)
identities_app = typer.Typer(
    help="LMS identities and the learners they belong to.", no_args_is_help=True
)
app.add_typer(roster_app, name="roster")
app.add_typer(identities_app, name="identities")
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="ingest base URL (default: TIERWATCH_INGEST_HOST and _PORT)"),
]


def _ingest_call(method: str, path: str, url: str | None, body: bytes | None = None) -> object:
    """Call a running ingest with the API token (GET and DELETE without a body); print its
    problem details and exit on error. An answer without a body is None."""
    import urllib.error
    import urllib.request

    import orjson

    settings = Settings()
    base = url or f"http://{settings.ingest_host}:{settings.ingest_port}"
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "text/csv")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
            return orjson.loads(answer) if answer else None  # a DELETE may answer no body
    except urllib.error.HTTPError as exc:
        problem = orjson.loads(exc.read() or b"{}")
        typer.echo(f"{exc.code}: {problem.get('detail', exc.reason)}", err=True)
        for error in problem.get("errors", []):
            typer.echo(f"  {error['pointer']}: {error['detail']}", err=True)
        raise typer.Exit(1) from None
    except urllib.error.URLError as exc:
        typer.echo(f"cannot reach ingest at {base}: {exc.reason}", err=True)
        raise typer.Exit(1) from None


@roster_app.command("import")
def roster_import(file: Path, url: UrlOption = None) -> None:
    """Send a roster CSV to a running ingest (needs TIERWATCH_API_TOKEN)."""
    answer = _ingest_call("POST", "/roster", url, file.read_bytes())
    typer.echo(f"{file}: {answer}")


@identities_app.command("unmapped")
def identities_unmapped(url: UrlOption = None) -> None:
    """List the identities no profile claims, as a running ingest has seen them."""
    rows = _ingest_call("GET", "/identities/unmapped", url)
    if not isinstance(rows, list) or not rows:
        typer.echo("every identity seen belongs to a profile")
        return
    for row in rows:
        who = f"{row['source']}:{row['kind']}  {row['value']}"
        typer.echo(f"{row['seen']:>6}  {who}  -> {row['learner_id']}")


@app.command()
def erase(
    learner_id: Annotated[str, typer.Argument(help="the learner to erase")],
    url: UrlOption = None,
) -> None:
    """Erase a learner through a running ingest (DELETE /learners/ID; needs TIERWATCH_API_TOKEN):
    a tombstone on the profiles topic removes their state, delivery log and pending messages."""
    from urllib.parse import quote

    answer = _ingest_call("DELETE", f"/learners/{quote(learner_id, safe='')}", url)
    if isinstance(answer, dict) and answer.get("erased") == learner_id:
        typer.echo(f"{learner_id}: erasure accepted (a tombstone is on its way to the workers)")
    else:
        typer.echo(f"{learner_id}: {answer}")


dlq_app = typer.Typer(
    help="Dead letters: what was refused or could not be delivered (needs TIERWATCH_BROKER).",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="only dead letters with this reason")
]


def _broker_settings() -> tuple[Settings, str]:
    """The settings and the broker; exit 2 with a sentence when TIERWATCH_BROKER is unset."""
    from stream.errors import ConfigError
    from stream.tools.dlq import bootstrap_of

    settings = _settings()
    try:
        return settings, bootstrap_of(settings)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _run_on_broker(work: Coroutine[Any, Any, T]) -> T:
    from stream.errors import BrokerError

    try:
        return asyncio.run(work)
    except BrokerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, help="show the latest N")] = 50,
    reason: ReasonOption = None,
) -> None:
    """List dead letters (when, source topic, reason, detail) and count them by reason."""
    from stream.tools.dlq import decode, list_lines, read_topic
    from stream.topics import Topics

    settings, bootstrap = _broker_settings()
    topic = Topics.named(settings.topic_prefix).deadletter
    messages = _run_on_broker(read_topic(bootstrap, topic))
    for line in list_lines(decode(messages), limit, reason):
        typer.echo(line)


@dlq_app.command("redrive")
def dlq_redrive(
    reason: ReasonOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what, send nothing")] = False,
) -> None:
    """Send dispatch's dead letters back to the retry topic, each at most once across runs.

    The consumer group <app_id>-dlq-redrive remembers how far redrive got; input dead letters
    cannot be redriven (they were invalid when they arrived)."""
    from stream.tools.dlq import plan_lines, redrive
    from stream.topics import Topics

    settings, _ = _broker_settings()
    topics = Topics.named(settings.topic_prefix)
    plan = _run_on_broker(redrive(settings, topics.retry, topics.deadletter, reason, dry_run))
    for line in plan_lines(plan, topics.retry, dry_run):
        typer.echo(line)


@app.command()
def feedback() -> None:
    """Manager feedback per reason code (not_useful, incorrectly_flagged) beside how many
    transitions carried that code: which rules to tune (needs TIERWATCH_BROKER)."""
    from stream.tools.feedback import read_tally, render
    from stream.topics import Topics

    settings, bootstrap = _broker_settings()
    result = _run_on_broker(read_tally(bootstrap, Topics.named(settings.topic_prefix)))
    for line in render(result):
        typer.echo(line)


@app.command()
def ingest() -> None:
    """Run the HTTP ingest service (xAPI, Caliper, Canvas, Moodle, canonical records).
    Configured by TIERWATCH_* variables (see `tierwatch settings`); with no
    TIERWATCH_BROKER it starts the embedded broker."""
    from stream.broker import broker_for
    from stream.ingest.server import serve
    from stream.topics import Topics, create_topics

    settings = _settings()
    _policy(settings.policy_file)  # its window of event times: a broken file exits 2 first
    with broker_for(settings) as (bootstrap, effective):
        topics = Topics.named(effective.topic_prefix)
        asyncio.run(create_topics(effective, topics, bootstrap))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(effective, bootstrap))


@app.command()
def demo(
    learners: Annotated[int, typer.Option(min=1)] = 40,
    weeks: Annotated[int, typer.Option(min=1)] = 8,
    seed: Annotated[int, typer.Option()] = 7,
    hold: Annotated[
        bool, typer.Option(help="keep the worker serving action pages after the stream")
    ] = False,
) -> None:
    """Stream a simulated team through the embedded broker and a worker; print transitions."""
    from stream.sim.demo import run_demo

    settings = Settings()
    configure("warning", settings.log_format)
    rules = _policy(settings.policy_file)
    try:
        code = asyncio.run(run_demo(settings, rules, learners, weeks, seed, sys.stdout, hold))
    except KeyboardInterrupt:
        code = 0 if hold else 130
    raise typer.Exit(code)


app.command("playbook")(playbook)


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (secrets masked) and their environment variables."""
    settings = Settings()
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        typer.echo(f"TIERWATCH_{name.upper():<24} {value!s:<28} {field.description or ''}")


from stream.cli import pilot, whatif  # noqa: E402  (their own modules: a report's many options)

app.command("whatif")(whatif.whatif)
app.command("pilot")(pilot.pilot)


def main() -> None:
    app()
