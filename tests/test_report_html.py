"""The generic report pieces: tables in their own scrolling box, escaped; cells as a person
reads them; plots as inline SVG with no XML prologue; CSV and JSON of the same rows."""

from __future__ import annotations

import csv

import orjson

from stream.tools.report_html import (
    NO_VALUE,
    Table,
    cell_text,
    new_figure,
    page,
    svg_plot,
    table_html,
    write_csv,
    write_json,
)


def test_a_table_sits_in_a_labelled_box_that_scrolls_and_escapes_its_cells():
    """Cells are escaped; the box is a focusable region named by the caption."""
    table = Table("t", "Caption <b>", ["name", "n"], [["<script>", 3], ["a&b", None]])
    out = table_html(table)
    assert (
        '<div class="table-box" role="region" aria-label="Caption &lt;b&gt;" tabindex="0">' in out
    )
    assert "&lt;script&gt;" in out
    assert "<script>" not in out
    assert f"<td>{NO_VALUE}</td>" in out.replace(' class="num"', "")
    assert '<th scope="col" class="num">n</th>' in out


def test_a_long_table_is_cut_on_the_page_and_says_where_the_rest_is():
    """With a limit, the page shows the first rows and names the CSV holding them all."""
    table = Table("long", "Long", ["i"], [[i] for i in range(10)])
    out = table_html(table, limit=3)
    assert out.count("<tr>") == 4  # the head and three rows
    assert "The first 3 of 10 rows" in out
    assert "long.csv" in out


def test_an_empty_table_says_so():
    """No rows: one row saying there are none, not an empty grid."""
    assert "no rows" in table_html(Table("e", "Empty", ["a", "b"]))


def test_cells_read_as_a_person_reads_them():
    """Thousands separated, at most three decimals, whole floats without decimals."""
    assert cell_text(12345) == "12,345"
    assert cell_text(0.12345) == "0.123"
    assert cell_text(2.0) == "2"
    assert cell_text(float("nan")) == NO_VALUE
    assert cell_text("x") == "x"


def test_a_plot_is_inline_svg_with_a_title_and_no_prologue():
    """The figure becomes an `<svg role=img>` inside a captioned `<figure>`."""
    fig, ax = new_figure()
    ax.plot([0, 1, 2], [1, 3, 2])
    out = svg_plot(fig, "Rises & falls", "A line.")
    assert out.startswith("<figure><svg ")
    assert 'role="img" aria-label="Rises &amp; falls"' in out
    assert "<?xml" not in out
    assert "<!DOCTYPE" not in out
    assert "<path" in out


def test_the_page_is_whole_and_needs_no_network():
    """A document with a viewport for phones, inline CSS, and no external resource."""
    out = page("T <1>", ["<p>x</p>"])
    assert out.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in out
    assert "<title>T &lt;1&gt;</title>" in out
    assert "http://" not in out
    assert "https://" not in out
    assert "<link" not in out


def test_csv_and_json_hold_the_same_rows(tmp_path):
    """The CSV has the header then the rows (no value: an empty cell); JSON is sorted."""
    table = Table("t", "T", ["a", "b"], [["x", 1], ["y", None]])
    path = write_csv(tmp_path, table)
    with path.open() as f:
        assert list(csv.reader(f)) == [["a", "b"], ["x", "1"], ["y", ""]]
    data = {"b": 1, "a": [1, 2]}
    assert orjson.loads(write_json(tmp_path / "t.json", data).read_bytes()) == data
