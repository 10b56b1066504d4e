"""The xAPI statements resource: POST (one statement or an array) and PUT ?statementId=.

Versions 1.0.x and 2.0.x; the request must say which in X-Experience-API-Version, and every
answer says it too. Statement ids are generated for statements without one. A statement id
already stored with the same content is accepted again without a second event; with other
content the request is refused with 409. (Stored ids are remembered, across restarts too,
up to the setting `xapi_statements_remembered` of them; beyond that the pipeline's own
de-duplication by event id still holds.)
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from schemas.events import LearningEvent
from schemas.roster import Identity
from stream.http.auth import basic, secrets
from stream.http.problems import Refusal
from stream.ingest.context import (
    RAW,
    Ingest,
    ingest_of,
    read_json,
    refuse_duplicate_keys,
    refuse_invalid,
)
from stream.normalize import xapi
from stream.normalize.base import NormalizeError, Problem, pointer
from stream.normalize.xapi_agents import agent_or_group
from stream.normalize.xapi_voiding import voidable as voidable_of

VERSION_HEADER = "X-Experience-API-Version"
_VERSION = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")


VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0")


async def get_about(request: web.Request) -> web.Response:
    """GET /xapi/about: the xAPI versions ingest speaks, for clients that probe them before
    they send (no credentials needed, as xAPI says of this resource). A client that says
    it speaks 1.0.x is answered the 1.0.x versions: 1.0-era clients refuse an About that
    lists a version they do not know (TinCanPython does)."""
    version = answer_version(request)
    asked = request.headers.get(VERSION_HEADER, "").strip()
    speaks = [v for v in VERSIONS if v.startswith("1.")] if asked.startswith("1.") else VERSIONS
    return web.json_response({"version": list(speaks)}, headers={VERSION_HEADER: version})


def answer_version(request: web.Request) -> str:
    """The version every answer carries: 1.0.3 to a client that speaks 1.0.x (its 400s
    and 401s too), else 2.0.0."""
    asked = request.headers.get(VERSION_HEADER, "").strip()
    return "1.0.3" if _VERSION.match(asked) and asked.startswith("1") else "2.0.0"


async def _read_statements(request: web.Request) -> Any:
    """The body as JSON, refused (400) when an object in it names a key twice."""
    payload = await read_json(request)
    refuse_duplicate_keys(request[RAW])
    return payload


def _version(request: web.Request) -> str:
    version = request.headers.get(VERSION_HEADER, "").strip()
    if not _VERSION.match(version):
        shown = version or "missing"
        raise Refusal(
            400,
            "xapi_version",
            f"{VERSION_HEADER} must be 1.0.x or 2.0.x ({shown})",
            headers={VERSION_HEADER: "2.0.0"},
        )
    return "2.0.0" if version.startswith("2") else "1.0.3"


def _statements(payload: Any) -> list[dict[str, Any]]:
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise Refusal(400, "invalid_payload", "an empty array of statements")
    bad = [
        Problem(pointer(i), "a statement must be a JSON object")
        for i, s in enumerate(items)
        if not isinstance(s, dict)
    ]
    if bad:
        raise Refusal(400, "invalid_payload", "statements must be JSON objects", bad)
    return items


def _duplicate_ids(statements: list[dict[str, Any]]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for index, statement in enumerate(statements):
        sid = statement.get("id")
        if isinstance(sid, str):
            key = sid.lower()
            if key in seen:
                problems.append(
                    Problem(pointer(index, "id"), f"the same id as statement {seen[key]}")
                )
            seen.setdefault(key, index)
    return problems


async def _store(request: web.Request, statements: list[dict[str, Any]], version: str) -> list[str]:
    """Validate, normalise and produce statements; return their ids."""
    ingest = ingest_of(request)
    await ingest.memory.ready()
    registry = ingest.statements
    for statement in statements:
        statement.setdefault("id", str(uuid.uuid4()))
    duplicates = _duplicate_ids(statements)
    if duplicates:
        raise Refusal(
            400,
            "duplicate_statement_ids",
            "two statements in the batch share an id",
            duplicates,
            {VERSION_HEADER: version},
        )
    conflicts, same = registry.conflicts(statements)
    if conflicts:
        raise Refusal(
            409,
            "statement_conflict",
            "a statement id is already stored with other content",
            conflicts,
            {VERSION_HEADER: version},
        )
    origin = [i for i, s in enumerate(statements) if str(s["id"]).lower() not in same]
    fresh = [statements[i] for i in origin]
    try:
        result = xapi.normalize_statements(
            fresh, ingest.clock(), ingest.identities.resolve, registry.voidable
        )
    except NormalizeError as exc:
        refusal = refuse_invalid(exc)
        refusal.headers[VERSION_HEADER] = version
        raise refusal from None
    try:
        await ingest.send_events(
            result.events, [_in_request(f, origin) for f in result.time_fields], remember=False
        )
    except Refusal as refusal:
        refusal.headers[VERSION_HEADER] = version
        raise
    ingest.count_unused("xapi", result.ignored)
    voidable = {e.id.removeprefix("xapi:"): voidable_of(e) for e in result.events}
    made = {sid: v for sid, v in voidable.items() if v is not None}
    registry.remember(fresh, _learners(ingest, fresh, result.events), made)
    await ingest.remember()
    return [str(s["id"]) for s in statements]


def _learners(
    ingest: Ingest, statements: list[dict[str, Any]], events: list[LearningEvent]
) -> dict[str, str]:
    """Whose each statement is (by lowercased id), for erasure: the learner of its event,
    else its actor's (a `registered` statement: no event, but someone's), if identified."""
    learners = {e.id.removeprefix("xapi:"): e.learner_id for e in events}
    for statement in statements:
        sid = str(statement["id"]).lower()
        if sid not in learners:
            actor = agent_or_group(statement.get("actor"), (), [])
            if isinstance(actor, Identity):
                learners[sid] = ingest.identities.owner(actor)
    return learners


def _in_request(field: str, origin: list[int]) -> str:
    """A pointer into the statements normalised (`/3/timestamp`) as a pointer into the
    request, whose statements already stored were left out of them."""
    if not field:
        return field
    _, index, rest = field.split("/", 2)
    return f"/{origin[int(index)]}/{rest}"


async def post_statements(request: web.Request) -> web.Response:
    """POST /xapi/statements: 200 with the statement ids."""
    ingest = ingest_of(request)
    version = _version(request)
    ingest.throttle(
        basic(request, secrets(ingest.settings.xapi_credentials), "TIERWATCH_XAPI_CREDENTIALS")
    )
    statements = _statements(await _read_statements(request))
    if len(statements) > ingest.settings.max_batch:
        raise Refusal(
            413,
            "batch_too_large",
            f"{len(statements)} statements; the limit is {ingest.settings.max_batch}",
        )
    ids = await _store(request, statements, version)
    return web.json_response(ids, headers={VERSION_HEADER: version})


async def put_statement(request: web.Request) -> web.Response:
    """PUT /xapi/statements?statementId=: one statement, 204."""
    ingest = ingest_of(request)
    version = _version(request)
    ingest.throttle(
        basic(request, secrets(ingest.settings.xapi_credentials), "TIERWATCH_XAPI_CREDENTIALS")
    )
    sid = request.query.get("statementId", "")
    try:
        uuid.UUID(sid)
    except ValueError:
        raise Refusal(
            400,
            "invalid_statement_id",
            "statementId must be a UUID",
            headers={VERSION_HEADER: version},
        ) from None
    payload = await _read_statements(request)
    if not isinstance(payload, dict):
        raise Refusal(
            400,
            "invalid_payload",
            "PUT takes one statement object",
            headers={VERSION_HEADER: version},
        )
    if "id" in payload and str(payload["id"]).lower() != sid.lower():
        problem = Problem("/id", "differs from the statementId parameter")
        raise Refusal(
            400,
            "invalid_payload",
            "the statement's id is not statementId",
            [problem],
            {VERSION_HEADER: version},
        )
    payload["id"] = sid
    await _store(request, [payload], version)
    return web.Response(status=204, headers={VERSION_HEADER: version})
