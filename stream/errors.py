"""Errors of tierwatch's edges, one base class and one line each."""

from __future__ import annotations


class TierwatchError(Exception):
    """Base of every error tierwatch raises on purpose."""


class ConfigError(TierwatchError):
    """The settings or the policy cannot be used."""


class BrokerError(TierwatchError):
    """The Kafka broker could not be started or reached."""


class InvalidRecord(TierwatchError):
    """A message on an input topic is not a valid record; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
