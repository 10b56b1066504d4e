"""Messages from templates: one Jinja2 file per route and recipient role, per language.

`templates/<language>/<route>.<role>.j2` (or, for one channel type only,
`<route>.<role>.<channel>.j2`) defines a `subject` and a `text` block; the HTML
part wraps the text's paragraphs in `templates/layout.html.j2`. A templates folder from the
configuration overrides any file, and adding a language is adding a folder: a missing
language falls back to the default one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


class Templates:
    """The template set: the package's, under an optional override folder."""

    def __init__(self, override: Path | None = None, default_language: str = "en") -> None:
        folders = [str(override)] if override is not None else []
        folders.append(str(PACKAGE_TEMPLATES))
        self.default_language = default_language
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def _template(
        self, language: str, route: str, role: str, channel: str | None
    ) -> tuple[jinja2.Template, str]:
        tried = []
        for lang in dict.fromkeys((language, language.split("-")[0], self.default_language)):
            names = [f"{lang}/{route}.{role}.{channel}.j2"] if channel else []
            for name in [*names, f"{lang}/{route}.{role}.j2"]:
                tried.append(name)
                try:
                    return self._env.get_template(name), lang
                except jinja2.TemplateNotFound:
                    continue
        raise jinja2.TemplateNotFound(", ".join(tried))

    def render(
        self,
        route: str,
        role: str,
        language: str | None,
        context: dict[str, Any],
        channel: str | None = None,
    ) -> Rendered:
        """Subject, plain text and HTML of the message for `role` on `route`; a template for
        the channel type (`<route>.<role>.<channel>.j2`: email, webhook, slack, teams) wins
        over the route's own."""
        template, lang = self._template(language or self.default_language, route, role, channel)
        ctx = template.new_context({"links": {}, **context})
        subject = "".join(template.blocks["subject"](ctx)).strip()
        text = _tidy("".join(template.blocks["text"](ctx)))
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        layout = self._env.get_template("layout.html.j2")
        html = layout.render(subject=subject, paragraphs=paragraphs, language=lang)
        return Rendered(subject, text, html, lang)


def _tidy(text: str) -> str:
    """Trim lines and collapse runs of blank lines left by template logic."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)
