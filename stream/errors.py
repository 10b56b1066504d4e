"""Errors of tierwatch's edges, one line each, under the one root `TierwatchError`
(defined in `stream.core.errors`, where the pure core can reach it too)."""

from __future__ import annotations

from stream.core.errors import TierwatchError

__all__ = ["BadInput", "BrokerError", "ConfigError", "InvalidRecord", "TierwatchError"]


class ConfigError(TierwatchError):
    """The settings or the policy cannot be used."""


class BadInput(TierwatchError):
    """An offline command's arguments do not fit its input (an unknown team, a date outside it)."""


class BrokerError(TierwatchError):
    """The Kafka broker could not be started or reached."""


class InvalidRecord(TierwatchError):
    """A message on an input topic is not a valid record; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
