"""Canonical records over HTTP: events, the roster, assignments and interventions."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from schemas.events import LearningEvent
from schemas.roster import Assignment, Intervention, LearnerProfile
from stream import codec
from stream.http.auth import bearer, secrets
from stream.http.problems import Refusal
from stream.ingest.context import ingest_of, read_body, read_json, refuse_invalid
from stream.ingest.roster_csv import parse_roster_csv
from stream.normalize.base import NormalizeError, Problem, pointer, stable_learner_id

M = TypeVar("M", bound=BaseModel)


def validate_items(payload: Any, model: type[M], limit: int) -> list[M]:
    """A JSON array of records; every bad item named by index and field."""
    if not isinstance(payload, list):
        raise Refusal(400, "invalid_payload", "the body must be a JSON array of records")
    if len(payload) > limit:
        raise Refusal(413, "batch_too_large", f"{len(payload)} items; the limit is {limit}")
    items: list[M] = []
    problems: list[Problem] = []
    for index, item in enumerate(payload):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            problems.extend(Problem(pointer(index, *e["loc"]), e["msg"]) for e in exc.errors())
    if problems:
        raise Refusal(400, "invalid_payload", f"{len(problems)} problem(s) in the batch", problems)
    return items


def _authorize(request: web.Request) -> None:
    ingest = ingest_of(request)
    credential = bearer(request, secrets(ingest.settings.api_token), "TIERWATCH_API_TOKEN")
    ingest.throttle(credential)


async def _store(request: web.Request, topic: str, records: list[Any]) -> web.Response:
    ingest = ingest_of(request)
    await ingest.sink.send(topic, [(r.learner_id, codec.encode_record(r)) for r in records])
    return web.json_response({"accepted": len(records)})


async def post_events(request: web.Request) -> web.Response:
    """POST /events: an array of LearningEvents."""
    _authorize(request)
    ingest = ingest_of(request)
    events = validate_items(await read_json(request), LearningEvent, ingest.settings.max_batch)
    await ingest.send_events(events, [pointer(i, "occurred_at") for i in range(len(events))])
    return web.json_response({"accepted": len(events)})


async def post_assignments(request: web.Request) -> web.Response:
    """POST /assignments: an array of Assignments."""
    _authorize(request)
    ingest = ingest_of(request)
    items = validate_items(await read_json(request), Assignment, ingest.settings.max_batch)
    return await _store(request, ingest.topics.assignments, items)


async def post_interventions(request: web.Request) -> web.Response:
    """POST /interventions: an array of Interventions (notes are stored nowhere downstream)."""
    _authorize(request)
    ingest = ingest_of(request)
    items = validate_items(await read_json(request), Intervention, ingest.settings.max_batch)
    return await _store(request, ingest.topics.interventions, items)


async def post_roster(request: web.Request) -> web.Response:
    """POST /roster: an array of LearnerProfiles, or the roster as text/csv."""
    _authorize(request)
    ingest = ingest_of(request)
    if request.content_type == "text/csv":
        body = await read_body(request)
        try:
            profiles = parse_roster_csv(body.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise Refusal(400, "not_utf8", "the CSV must be UTF-8") from None
        except NormalizeError as exc:
            raise refuse_invalid(exc) from None
        if len(profiles) > ingest.settings.max_batch * 20:
            raise Refusal(413, "batch_too_large", f"{len(profiles)} rows; split the file")
    else:
        profiles = validate_items(
            await read_json(request), LearnerProfile, ingest.settings.max_batch
        )
    response = await _store(request, ingest.topics.profiles, profiles)
    for profile in profiles:
        ingest.identities.learn(profile)
    await ingest.remember()  # the identities now claimed are no longer unmapped
    return response


async def get_unmapped(request: web.Request) -> web.Response:
    """GET /identities/unmapped: identities no profile claims, most seen first."""
    _authorize(request)
    identities = ingest_of(request).identities
    rows = [
        {
            "source": identity.source,
            "kind": identity.kind,
            "value": identity.value,
            "seen": count,
            "learner_id": stable_learner_id(identity),
        }
        for identity, count in identities.unmapped.most_common()
    ]
    return web.json_response(rows)


async def delete_learner(request: web.Request) -> web.Response:
    """DELETE /learners/{id}: erase a learner. A tombstone on the profiles topic makes the
    workers delete the learner's state and delivery log, cancel pending deliveries and
    emit nothing more for them; ingest forgets their identities and xAPI statements (on
    its registry topic too)."""
    _authorize(request)
    ingest = ingest_of(request)
    learner_id = request.match_info["learner_id"]
    await ingest.sink.send(ingest.topics.profiles, [(learner_id, None)])
    await ingest.erase(learner_id)
    return web.json_response({"erased": learner_id}, status=202)
