"""What every normaliser shares: the labels it may copy into `source_meta`."""

from __future__ import annotations

from schemas.limits import MAX_META_KEYS, MAX_META_VALUE
from stream.normalize.base import source_meta


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
