"""The fingerprint that tells a re-sent xAPI statement (same content) from a conflicting
one under the same id: what xAPI's comparison rules ignore, and what they do not."""

from __future__ import annotations

import copy
import uuid

from stream.normalize.xapi_compare import statement_fingerprint
from tests.test_normalize_xapi import ADL, statement


def test_fingerprint_ignores_what_the_comparison_rules_ignore() -> None:
    """id, stored, timestamp, authority, version, attachments, verb display, Activity
    definitions, mbox domain case, Group member order and sub-0.01 s duration do not count."""
    first = statement(
        verb={"id": ADL + "experienced", "display": {"en-US": "experienced"}},
        object={"id": "https://lms.example.com/m1", "definition": {"name": {"en": "M1"}}},
        result={"duration": "PT1.2345S"},
        context={
            "team": {
                "objectType": "Group",
                "member": [{"mbox": "mailto:a@x.org"}, {"mbox": "mailto:b@x.org"}],
            }
        },
    )
    second = copy.deepcopy(first)
    second.update(id=str(uuid.uuid4()), stored="2024-05-02T00:00:00Z", version="1.0.3")
    second.update(timestamp="2024-05-01T12:00:00+02:00", authority={"mbox": "mailto:lrs@x.org"})
    second["actor"] = {"mbox": "mailto:ana@EXAMPLE.COM"}
    second["verb"]["display"] = {"de-DE": "erlebt"}
    second["object"]["definition"] = {"name": {"en": "Module one"}}
    second["result"]["duration"] = "PT1.23S"
    second["context"]["team"]["member"].reverse()
    assert statement_fingerprint(first) == statement_fingerprint(second)


def test_fingerprint_sees_real_differences() -> None:
    """A different verb, score, duration string or mbox local part is a different statement."""
    base = statement(result={"duration": "PT1.5S"})
    variants = [
        statement(verb={"id": ADL + "completed"}, result={"duration": "PT1.5S"}),
        statement(result={"duration": "PT1.50S"}),
        statement(result={"duration": "PT1.5S", "score": {"scaled": 0.5}}),
        statement(actor={"mbox": "mailto:Ana@example.com"}, result={"duration": "PT1.5S"}),
    ]
    assert all(statement_fingerprint(v) != statement_fingerprint(base) for v in variants)


def test_fingerprint_survives_huge_numbers() -> None:
    """Integers beyond 64 bits in extensions still hash (orjson cannot encode them)."""
    big = statement(result={"extensions": {"https://x.org/e": 10**30}})
    assert len(statement_fingerprint(big)) == 64
