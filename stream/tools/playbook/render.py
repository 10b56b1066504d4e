"""The playbook written out: one self-contained HTML page (inline CSS and SVG, no script,
nothing fetched), and Markdown (tables, a Mermaid block, the scripts in fenced blocks)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from stream.tools.playbook.diagram import mermaid, sentences, svg
from stream.tools.playbook.model import Playbook

Format = Literal["html", "md"]
FORMATS: tuple[Format, ...] = ("html", "md")
TEMPLATES = Path(__file__).parent / "templates"
ROUTES = {
    "learner_nudge": "Nudge",
    "manager_outreach": "Manager outreach",
    "hr_escalation": "HR escalation",
    "wellbeing": "Wellbeing",
    "resolved": "Back on track",
}
_SPECIAL = re.compile(r"([\\`*_\[\]<>])")
_BACKTICKS = re.compile(r"`+")


def inline(text: object) -> str:
    """Text as Markdown shows it as written: its markup characters escaped."""
    return _SPECIAL.sub(r"\\\1", str(text))


def cell(text: object) -> str:
    """Text for a Markdown table cell: escaped, one line, pipes escaped."""
    return inline(" ".join(str(text).split())).replace("|", "\\|")


def fence(text: object) -> str:
    """A code fence longer than any run of backticks inside `text`."""
    longest = max((len(run) for run in _BACKTICKS.findall(str(text))), default=0)
    return "`" * max(3, longest + 1)


def code(text: object) -> str:
    """Text as a Markdown code span (a file's path: shown as written)."""
    longest = max((len(run) for run in _BACKTICKS.findall(str(text))), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(inline=inline, cell=cell, fence=fence, code=code)
    return env


_HTML, _MD = _env(True), _env(False)


def _context(playbook: Playbook) -> dict[str, Any]:
    return {
        "pb": playbook,
        "routes": ROUTES,
        "steps": sentences(playbook.tree),
        "major_drop_header": f"A drop of more than {playbook.major_drop} in one week",
    }


def html(playbook: Playbook) -> str:
    """The playbook as one HTML page."""
    template = _HTML.get_template("playbook.html.j2")
    return template.render(**_context(playbook), svg=Markup(svg(playbook.tree)))


def markdown(playbook: Playbook) -> str:
    """The playbook as Markdown."""
    template = _MD.get_template("playbook.md.j2")
    return template.render(**_context(playbook), mermaid=mermaid(playbook.tree))


def render(playbook: Playbook, kind: Format) -> str:
    """The playbook in one of `FORMATS`."""
    return html(playbook) if kind == "html" else markdown(playbook)
