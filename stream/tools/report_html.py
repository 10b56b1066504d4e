"""Self-contained HTML reports: a page shell, tables, inline SVG plots, CSV and JSON files.

Generic: `tierwatch whatif` uses it, and any later report (a pilot's) can. A page needs
nothing from the network: the CSS is inline, and every plot is SVG written into the page
by matplotlib's SVG backend (no script). The page reads at phone width: the body never
scrolls sideways, a wide table scrolls inside its own box, and a plot scales to the width.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

Cell = str | int | float | None
NO_VALUE = "\u2013"  # an en dash: the cell has no value

CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0 auto;max-width:72rem;padding:1rem;font:16px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.6rem;line-height:1.25}h2{font-size:1.3rem;margin-top:2rem}
h3{font-size:1.1rem}
p,li{max-width:48rem}
.note{color:#444;font-size:.95rem}
.table-box{overflow-x:auto;max-width:100%;margin:1rem 0;border:1px solid #ccc}
.table-box:focus{outline:3px solid #1a5fb4;outline-offset:2px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;min-width:100%}
caption{text-align:left;font-weight:600;padding:.5rem}
th,td{padding:.35rem .6rem;border-top:1px solid #ddd;text-align:left;vertical-align:top;
white-space:nowrap}
td.num,th.num{text-align:right}
td.text{white-space:normal;min-width:16rem}
thead th{background:#f2f2f2}
figure{margin:1.5rem 0;max-width:min(100%,46rem)}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.95rem;color:#333}
code{font-size:.9em}
"""


@dataclass
class Table:
    """A table of a report: one CSV file, and the same rows on the page."""

    name: str  # the CSV's file name without extension, e.g. "transitions_by_week"
    caption: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    text_columns: frozenset[str] = frozenset()  # columns of sentences, wrapped on the page


def esc(value: object) -> str:
    """Text for HTML (the one escaping function of a report)."""
    return html.escape(str(value), quote=True)


def cell_text(value: Cell) -> str:
    """A cell as a person reads it: no value is a dash, a float has at most 3 decimals."""
    if value is None:
        return NO_VALUE
    if isinstance(value, float):
        if math.isnan(value):
            return NO_VALUE
        return f"{value:,.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def table_html(table: Table, limit: int | None = None) -> str:
    """A table in a box that scrolls sideways on its own (focusable, labelled), numbers
    right-aligned; with `limit`, the first rows and a line saying how many the CSV has."""
    heads = "".join(
        f'<th scope="col"{_num_class(table, i)}>{esc(h)}</th>' for i, h in enumerate(table.headers)
    )
    shown = table.rows if limit is None else table.rows[:limit]
    body = []
    for row in shown:
        cells = []
        for i, value in enumerate(row):
            kind = _kind(table, i, value)
            cells.append(f"<td{kind}>{esc(cell_text(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not table.rows:
        span = len(table.headers)
        body.append(f'<tr><td colspan="{span}">no rows</td></tr>')
    more = ""
    if limit is not None and len(table.rows) > limit:
        more = (
            f'<p class="note">The first {limit:,} of {len(table.rows):,} rows; all are in '
            f"<code>{esc(table.name)}.csv</code>.</p>"
        )
    label = esc(table.caption)
    return (
        f'<div class="table-box" role="region" aria-label="{label}" tabindex="0">'
        f"<table><caption>{label}</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def _num_class(table: Table, index: int) -> str:
    numeric = table.rows and all(
        isinstance(row[index], int | float) or row[index] is None for row in table.rows
    )
    return ' class="num"' if numeric else ""


def _kind(table: Table, index: int, value: Cell) -> str:
    if table.headers[index] in table.text_columns:
        return ' class="text"'
    return ' class="num"' if isinstance(value, int | float) else ""


_XML_HEAD = re.compile(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)


def svg_plot(figure: Any, title: str, description: str) -> str:
    """A matplotlib figure as an inline `<svg>` in a `<figure>`: titled and described for
    a screen reader, scaled to the width of the page; the figure is closed."""
    import matplotlib.pyplot as plt

    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    svg = _XML_HEAD.sub("", out.getvalue()).strip()
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{esc(title)}" ', 1)
    return (
        f"<figure>{svg}<figcaption><strong>{esc(title)}.</strong> "
        f"{esc(description)}</figcaption></figure>"
    )


def new_figure(width: float = 7.0, height: float = 3.2) -> tuple[Any, Any]:
    """A figure and its axes for the SVG backend (no display needed), with the report's
    fonts kept as text (small, and searchable in the page)."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"svg.fonttype": "none", "svg.hashsalt": "tierwatch", "font.size": 9, "axes.grid": True}
    )
    return plt.subplots(figsize=(width, height))


def page(title: str, sections: Iterable[str], lang: str = "en") -> str:
    """A whole HTML document: the title, then the sections' HTML in order."""
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main><h1>{esc(title)}</h1>{''.join(sections)}</main></body></html>\n"
    )


def write_csv(directory: Path, table: Table) -> Path:
    """The table as `NAME.csv` (a header row, then the rows; no value is an empty cell)."""
    path = directory / f"{table.name}.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(table.headers)
        for row in table.rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def write_json(path: Path, data: Mapping[str, Any] | Sequence[Any]) -> Path:
    """Data as indented JSON (keys sorted: the same data, the same bytes)."""
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path
