"""`tierwatch playbook`: the team playbook, generated from the policy and the dispatch
configuration, never kept by hand.

`build` (pure: `thresholds`, `examples`) turns the policy into a `model.Playbook`: the
thresholds by role, the rules every role shares, the tiers and who is told, the timeline,
the decision tree, the scripts (dispatch's own templates, rendered as dispatch renders them),
the checklist and the privacy rules. `render` writes it as HTML (`diagram`'s inline SVG) or
Markdown (a Mermaid block). `write` puts the files in a folder.
"""

from __future__ import annotations

from pathlib import Path

from stream.core.policy import Policy
from stream.dispatch.config import DispatchConfig
from stream.tools.playbook.build import build
from stream.tools.playbook.render import FORMATS, Format, render

NAMES: dict[Format, str] = {"html": "playbook.html", "md": "playbook.md"}


def write(
    policy: Policy,
    out: Path,
    config: DispatchConfig | None = None,
    formats: tuple[Format, ...] = FORMATS,
    policy_file: str | None = None,
    dispatch_file: str | None = None,
) -> list[Path]:
    """Write the playbook into the folder `out` (made if missing); the files written."""
    playbook = build(policy, config, policy_file, dispatch_file)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in formats:
        path = out / NAMES[kind]
        path.write_text(render(playbook, kind), encoding="utf-8")
        written.append(path)
    return written


__all__ = ["FORMATS", "Format", "build", "render", "write"]
