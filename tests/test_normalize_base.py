"""What every normaliser shares: the labels it may copy into `source_meta`, what an IRI
is, and the event a dict of fields makes (or the problem it has)."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.events import MAX_ID
from schemas.limits import MAX_META_KEYS, MAX_META_VALUE
from stream.normalize.base import IRI, Problem, source_meta, validated_event

AT = dt.datetime(2026, 3, 4, 9, 15, tzinfo=dt.UTC)


def test_source_meta_cuts_long_values_and_drops_excess_keys():
    """A verbose source loses labels, never the event: values are cut, extra keys dropped."""
    verbose = {"format": "moodle", "eventname": "x" * 10_000, "k" * 65: "dropped"}
    verbose |= {f"extra{i}": "v" for i in range(40)}
    meta = source_meta(verbose)
    assert len(meta) == MAX_META_KEYS
    assert meta["format"] == "moodle"
    assert meta["eventname"] == "x" * MAX_META_VALUE
    assert "k" * 65 not in meta


def test_source_meta_keeps_short_labels_as_they_are():
    """A few short labels pass unchanged, in their order."""
    labels = {"format": "xapi", "time": "timestamp", "version": "1.0.3"}
    assert source_meta(labels) == labels
    assert list(source_meta(labels)) == ["format", "time", "version"]


def test_validated_event_names_the_first_field_the_event_refuses():
    """Fields the event refuses give no event and one problem at the item, naming the field."""
    fields = {
        "id": "xapi:1",
        "learner_id": "L1",
        "occurred_at": AT,
        "kind": "view",
        "object_id": "x" * (MAX_ID + 1),
        "source": "xapi",
    }
    problems: list[Problem] = []
    assert validated_event(fields, ("data", 3), problems) is None
    [problem] = problems
    assert problem.pointer == "/data/3"
    assert problem.detail.startswith("not a valid event: object_id: ")


def test_validated_event_makes_the_event_of_valid_fields():
    """Valid fields make the event, and add no problem."""
    fields = {
        "id": "caliper:1",
        "learner_id": "L1",
        "occurred_at": AT,
        "kind": "session",
        "object_id": "https://example.org/app",
        "source": "caliper",
    }
    problems: list[Problem] = []
    event = validated_event(fields, (0,), problems)
    assert event is not None
    assert event.object_id == "https://example.org/app"
    assert problems == []


@pytest.mark.parametrize(
    ("value", "is_iri"),
    [
        ("https://example.org/verbs/x", True),
        ("urn:uuid:1", True),
        ("mailto:ana@example.org", True),
        ("no-scheme", False),
        ("1http://example.org", False),
        ("https://example.org/a b", False),
        ("", False),
    ],
)
def test_iri_is_a_scheme_a_colon_and_no_white_space(value: str, is_iri: bool):
    """What Caliper and xAPI both accept as an IRI."""
    assert bool(IRI.fullmatch(value)) is is_iri
