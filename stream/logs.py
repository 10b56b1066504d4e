"""structlog set-up, and the keyed pseudonym that stands for a learner in every log line."""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from typing import TextIO, cast

import structlog
import structlog.tracebacks


class _Stderr:
    """Whatever `sys.stderr` is at the moment of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(level: str = "info", fmt: str = "console") -> None:
    """Send structlog events to stderr, as key-value text or one JSON object a line."""
    # tracebacks never show local variables: they would print learner ids and addresses
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    tracebacks: list[structlog.typing.Processor] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
        if fmt == "json"
        else []
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *tracebacks,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(cast(TextIO, _Stderr())),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=_Stderr())


class Pseudonymizer:
    """A keyed, stable pseudonym of a learner id: the same id, the same 16 hex characters."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def __call__(self, learner_id: str) -> str:
        digest = hmac.new(self._key, learner_id.encode(), hashlib.sha256).hexdigest()
        return f"p:{digest[:16]}"
