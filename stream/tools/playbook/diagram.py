"""The decision tree drawn: an inline SVG (for the HTML), a Mermaid flowchart (for the
Markdown), and the same in sentences (the text equivalent both formats carry).

The SVG is laid out by this code, top to bottom so that it fits a phone: one box a step,
an arrow between two steps with the way from one to the next written beside it, and the
way back down drawn up the right-hand side. No script, no font or file from elsewhere.
"""

from __future__ import annotations

import textwrap
from html import escape

from stream.tools.playbook.model import Tree

WIDTH = 360
BOX_X, BOX_W = 16, 300
ARROW_X, LABEL_X = 44, 58
LINE = 15  # pixels a line of text takes
TITLE_ID, DESC_ID = "tree-title", "tree-desc"
FILLS = ("#e8f3e8", "#fff6d6", "#ffe9cc", "#fde0c2", "#fbdada")  # one a step, pale: dark text


def _lines(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _text(x: float, y: float, line: str, attrs: str = "") -> str:
    return f'<text x="{x}" y="{y}"{attrs}>{escape(line)}</text>'


def sentences(tree: Tree) -> list[str]:
    """The tree in words, a sentence a step, then the way down and the notes."""
    titles = {node.key: node.title for node in tree.nodes}
    onward = {edge.source: edge for edge in tree.edges if not edge.back}
    out = []
    for node in tree.nodes:
        line = f"{node.title} ({node.detail})."
        edge = onward.get(node.key)
        if edge is not None:
            line += f" On to {titles[edge.target]} when: {edge.label}."
        out.append(line)
    out.extend(f"Back: {edge.label}." for edge in tree.edges if edge.back)
    out.extend(tree.notes)
    return out


def svg(tree: Tree, title: str = "The decision tree") -> str:
    """The tree as an accessible inline SVG (a title, a description; `role="img"`)."""
    onward = {edge.source: edge for edge in tree.edges if not edge.back}
    parts: list[str] = []
    y = 12.0
    centres: dict[str, float] = {}
    for index, node in enumerate(tree.nodes):
        detail = _lines(node.detail, 42)
        height = 30 + LINE * len(detail)
        fill = FILLS[min(index, len(FILLS) - 1)]
        parts.append(
            f'<rect x="{BOX_X}" y="{y}" width="{BOX_W}" height="{height}" rx="8" '
            f'fill="{fill}" stroke="#4a4a4a"/>'
        )
        parts.append(_text(BOX_X + 12, y + 20, node.title, ' font-weight="bold"'))
        parts.extend(
            _text(BOX_X + 12, y + 20 + LINE * (i + 1), line, ' font-size="12"')
            for i, line in enumerate(detail)
        )
        centres[node.key] = y + height / 2
        y += height
        edge = onward.get(node.key)
        if edge is None:
            continue
        label = _lines(edge.label, 38)
        gap = 18 + LINE * len(label)
        parts.append(
            f'<line x1="{ARROW_X}" y1="{y}" x2="{ARROW_X}" y2="{y + gap - 2}" '
            'stroke="#222" stroke-width="1.6" marker-end="url(#tree-arrow)"/>'
        )
        parts.extend(
            _text(LABEL_X, y + 14 + LINE * i, line, ' font-size="12" font-style="italic"')
            for i, line in enumerate(label)
        )
        y += gap
    parts.extend(_back(tree, centres))
    height = round(y + 12)
    desc = " ".join(sentences(tree))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{TITLE_ID} {DESC_ID}" font-family="system-ui, sans-serif" '
        'font-size="14" fill="#111">'
        f'<title id="{TITLE_ID}">{escape(title)}</title>'
        f'<desc id="{DESC_ID}">{escape(desc)}</desc>'
        '<defs><marker id="tree-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#222"/></marker></defs>' + "".join(parts) + "</svg>"
    )


def _back(tree: Tree, centres: dict[str, float]) -> list[str]:
    """The ways back, up the right-hand side, each with its label along the line."""
    out = []
    right, lane = BOX_X + BOX_W, WIDTH - 24
    for edge in (e for e in tree.edges if e.back):
        top, bottom = centres[edge.target], centres[edge.source]
        out.append(
            f'<path d="M{right},{bottom} H{lane} V{top} H{right + 2}" fill="none" '
            'stroke="#222" stroke-width="1.4" stroke-dasharray="5 4" '
            'marker-end="url(#tree-arrow)"/>'
        )
        middle = (top + bottom) / 2
        out.append(
            f'<text x="{lane + 14}" y="{middle}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 {lane + 14} {middle})">{escape(edge.label)}</text>'
        )
    return out


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def mermaid(tree: Tree) -> str:
    """The tree as a Mermaid flowchart (top down), without the code fence."""
    lines = ["flowchart TD"]
    lines.extend(
        f"    {node.key}[{_quoted(f'{node.title}<br/>{node.detail}')}]" for node in tree.nodes
    )
    for edge in tree.edges:
        arrow = "-.->" if edge.back else "-->"
        lines.append(f"    {edge.source} {arrow}|{_quoted(edge.label)}| {edge.target}")
    return "\n".join(lines)
