"""xAPI statement comparison (xAPI Data 2.3.1): a fingerprint equal for two statements
that an LRS must treat as the same, so a re-sent statement id can be told apart from a
conflicting one.

Differences an LRS may cause are ignored: the properties it assigns, Activity Definitions,
Verb display, timestamp serialisation, Group member order, attachments and the case of
case-insensitive values. Duration is compared as a string, without precision beyond 0.01 s.
"""

from __future__ import annotations

import re
from typing import Any

from stream.normalize.base import content_hash

_LRS_ASSIGNED = ("id", "authority", "stored", "timestamp", "version", "attachments")


def statement_fingerprint(statement: dict[str, Any]) -> str:
    """A hash equal for two statements that match under the xAPI comparison rules."""
    return content_hash(_comparable(statement, top=True))


def _comparable(statement: dict[str, Any], top: bool) -> dict[str, Any]:
    out = {k: v for k, v in statement.items() if not (top and k in _LRS_ASSIGNED)}
    if isinstance(out.get("verb"), dict):
        out["verb"] = {k: v for k, v in out["verb"].items() if k != "display"}
    out["actor"] = _agent(out.get("actor"))
    obj = out.get("object")
    if isinstance(obj, dict):
        kind = obj.get("objectType", "Activity")
        if kind == "SubStatement" and top:
            out["object"] = _comparable(obj, top=False)
        elif kind == "StatementRef" and isinstance(obj.get("id"), str):
            out["object"] = {**obj, "id": obj["id"].lower()}
        else:
            out["object"] = _agent(_activity(obj))
    result = out.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        duration = re.sub(r"([.,]\d\d)\d+S$", r"\1S", result["duration"])
        out["result"] = {**result, "duration": duration}
    if isinstance(out.get("context"), dict):
        out["context"] = _context(out["context"])
    return {k: v for k, v in out.items() if v is not None or k in statement}


def _activity(obj: Any) -> Any:
    if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
        return {k: v for k, v in obj.items() if k != "definition"}
    return obj


def _agent(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    out = dict(agent)
    mbox = out.get("mbox")
    if isinstance(mbox, str) and "@" in mbox:
        local, _, domain = mbox.rpartition("@")
        scheme, _, name = local.partition(":")
        out["mbox"] = f"{scheme.lower()}:{name}@{domain.lower()}"
    if isinstance(out.get("mbox_sha1sum"), str):
        out["mbox_sha1sum"] = out["mbox_sha1sum"].lower()
    if isinstance(out.get("member"), list):
        out["member"] = sorted((_agent(m) for m in out["member"]), key=content_hash)
    return out


def _context(context: dict[str, Any]) -> dict[str, Any]:
    out = dict(context)
    for key in ("instructor", "team"):
        out[key] = _agent(out.get(key))
    if isinstance(out.get("registration"), str):
        out["registration"] = out["registration"].lower()
    ref = out.get("statement")
    if isinstance(ref, dict) and isinstance(ref.get("id"), str):
        out["statement"] = {**ref, "id": ref["id"].lower()}
    activities = out.get("contextActivities")
    if isinstance(activities, dict):
        out["contextActivities"] = {
            k: [_activity(a) for a in (v if isinstance(v, list) else [v])]
            for k, v in activities.items()
        }
    return {k: v for k, v in out.items() if v is not None or k in context}
