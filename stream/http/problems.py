"""RFC 9457 problem details: every refusal names what was wrong, field by field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from aiohttp import web

from stream.errors import TierwatchError
from stream.normalize.base import Problem

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tierwatch.dev/problems/"


class Refusal(TierwatchError):
    """A request tierwatch will not take: the status, a machine-readable reason, and the
    problems (JSON pointer and sentence) that explain it."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        problems: Sequence[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.problems = list(problems)
        self.headers = dict(headers or {})


def problem_body(refusal: Refusal, instance: str) -> bytes:
    body: dict[str, object] = {
        "type": TYPE_BASE + refusal.reason,
        "title": refusal.reason.replace("_", " "),
        "status": refusal.status,
        "detail": refusal.detail,
        "instance": instance,
    }
    if refusal.problems:
        body["errors"] = [{"pointer": p.pointer, "detail": p.detail} for p in refusal.problems]
    return orjson.dumps(body)


def problem_response(refusal: Refusal, instance: str) -> web.Response:
    """The problem-details response of a refusal."""
    return web.Response(
        status=refusal.status,
        body=problem_body(refusal, instance),
        content_type=PROBLEM_JSON,
        headers=refusal.headers,
    )
