"""The roster as CSV: one learner a row, identities in their own columns.

Columns: learner_id (required), role, manager_id, team, customer_facing,
compliance_sensitive, leadership_pipeline (true/false/yes/no/1/0 or empty for the role's
default); contacts name, email, language, timezone, manager_name, manager_email; and
identity columns email (also an identity), xapi_account (homePage|name), xapi_mbox,
canvas_user_id, moodle_user_id; the leaving record, left_on (YYYY-MM-DD, the last day)
and left_voluntarily (true/false/yes/no/1/0; required with left_on, and only with it).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import ValidationError

from schemas.roster import Identity, LearnerProfile
from stream.normalize.base import NormalizeError, Problem, pointer

FLAGS = ("customer_facing", "compliance_sensitive", "leadership_pipeline")
CONTACT = ("name", "email", "language", "timezone", "manager_name", "manager_email")
LEAVING = ("left_on", "left_voluntarily")  # HR's record: see LearnerProfile
IDENTITY_COLUMNS = {
    "email": ("email", "email"),
    "xapi_account": ("xapi", "account"),
    "xapi_mbox": ("xapi", "mbox"),
    "canvas_user_id": ("canvas", "user"),
    "moodle_user_id": ("moodle", "user"),
}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _flag(value: str) -> bool | str | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return value  # left for pydantic to refuse, with the field's name


def _identities(row: dict[str, str]) -> list[Identity]:
    found = []
    for column, (source, kind) in IDENTITY_COLUMNS.items():
        value = (row.get(column) or "").strip()
        if value:
            if column == "xapi_mbox" and not value.startswith("mailto:"):
                value = "mailto:" + value
            found.append(Identity(source=source, kind=kind, value=value))
    return found


def parse_roster_csv(text: str) -> list[LearnerProfile]:
    """Profiles from roster CSV; every bad cell is a problem at /ROW/COLUMN (rows from 0)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "learner_id" not in reader.fieldnames:
        raise NormalizeError([Problem("", "the CSV needs a header row with a learner_id column")])
    known = {
        "learner_id", "role", "manager_id", "team", *FLAGS, *CONTACT, *LEAVING, *IDENTITY_COLUMNS
    }  # fmt: skip
    unknown = [name for name in reader.fieldnames if name not in known]
    problems = [Problem(pointer("header", name), "unknown column") for name in unknown]
    profiles: list[LearnerProfile] = []
    for index, row in enumerate(reader):
        data: dict[str, Any] = {
            k: v.strip()
            for k, v in row.items()
            if k in known and v and v.strip() and (k not in IDENTITY_COLUMNS or k in CONTACT)
        }
        for flag in (*FLAGS, "left_voluntarily"):
            if flag in data:
                data[flag] = _flag(data[flag])
        try:
            data["identities"] = _identities(row)
            profiles.append(LearnerProfile.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(
                    Problem(pointer(index, *err["loc"]), f"line {index + 2}: {err['msg']}")
                )
    if problems:
        raise NormalizeError(problems)
    return profiles
