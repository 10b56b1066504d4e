"""Reading a policy file (YAML) into the core's validated Policy."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from stream.core.policy import Policy, PolicyError, parse_policy
from stream.dispatch.config import DispatchConfig, parse_dispatch


def load_policy(path: Path | None = None) -> Policy:
    """Load a policy file, or the default policy shipped in the package when path is None."""
    if path is None:
        text = resources.files("stream").joinpath("default_policy.yaml").read_text("utf-8")
        source = "default policy"
    else:
        source = str(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PolicyError(source, [("(file)", exc.strerror or str(exc))]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = f"not valid YAML: {getattr(exc, 'problem', exc)}"
        raise PolicyError(source, [(where, problem)]) from None
    return parse_policy(data, source)


def load_dispatch(path: Path) -> DispatchConfig:
    """Load a dispatch YAML file; a PolicyError names every problem by its path."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise PolicyError(str(path), [("(file)", exc.strerror or str(exc))]) from None
    except yaml.YAMLError as exc:
        raise PolicyError(str(path), [("(file)", f"not valid YAML: {exc}")]) from None
    try:
        return parse_dispatch(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(p) for p in e["loc"]) or "(top level)", e["msg"]) for e in exc.errors()
        ]
        raise PolicyError(str(path), problems) from None
