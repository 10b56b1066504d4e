"""Standard Webhooks signatures, with several active secrets for rotation.

A signed request carries three headers: `webhook-id` (the message id: the transition id),
`webhook-timestamp` (unix seconds) and `webhook-signature`, a space-separated list of
`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per active secret.

The `standardwebhooks` library's `Webhook` holds one secret and signs with it; that
`Webhook.sign` is the only place an HMAC is computed here. What the library does not do,
this module does around it:

- several secrets: `sign` asks one `Webhook` per secret and joins the signatures; `verify`
  compares each presented `v1` signature with each secret's expected one;
- strict secrets: the library accepts a secret without `whsec_` and decodes base64
  leniently (stray characters are dropped); here both are refused at construction;
- a configurable tolerance and an injected clock: the library's five minutes and wall
  clock are fixed;
- malformed signature lists: the library raises `ValueError` / `binascii.Error` on an entry
  without a comma or with bad base64; here such entries are skipped.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from stream.errors import ConfigError, TierwatchError

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24  # the Standard Webhooks spec: secrets of 24 to 64 random bytes
DEFAULT_TOLERANCE_S = 300.0
MAX_SIGNATURES = 32  # more entries than this in one header is not rotation but abuse

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,11}")  # canonical unix seconds, as signed


class InvalidSecret(ConfigError, ValueError):
    """A configured webhook secret is unusable; the message names the problem, not the secret."""


class VerificationError(TierwatchError):
    """A webhook request's signature headers do not prove it came from us."""


class MissingHeaders(VerificationError):
    """One of webhook-id, webhook-timestamp or webhook-signature is absent or empty."""


class BadTimestamp(VerificationError):
    """The webhook-timestamp is not unix seconds, or further from now than the tolerance."""


class BadSignature(VerificationError):
    """No presented v1 signature matches any configured secret."""


def _decode_secret(secret: str, position: int, count: int) -> bytes:
    """The key bytes of one `whsec_` secret; `InvalidSecret` (without the secret) if unusable."""
    where = f"webhook secret #{position} of {count}"
    if not isinstance(secret, str):
        raise InvalidSecret(f"{where} is not a string")
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"{where} does not start with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret(f"{where} is not valid base64 after {SECRET_PREFIX!r}") from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidSecret(
            f"{where} decodes to {len(key)} bytes; at least {MIN_SECRET_BYTES} are required"
        )
    return key


def _decode_signature(entry: str) -> bytes | None:
    """The digest of one `v1,<base64>` entry, or None for another version or a malformed one."""
    version, comma, encoded = entry.partition(",")
    if version != "v1" or not comma:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None


class WebhookSigner:
    """Signs outgoing webhook requests and verifies incoming ones with a list of secrets.

    `secrets` are `whsec_<base64>` strings, all active at once: during a rotation the sender
    lists the old and the new one (every request carries both signatures) and each receiver
    keeps whichever it knows. `tolerance_s` bounds how far a timestamp may be from `clock()`.
    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(secrets, str):
            raise InvalidSecret("webhook secrets must be a list of secrets, not one string")
        if not secrets:
            raise InvalidSecret("at least one webhook secret is required")
        if tolerance_s <= 0:
            raise ValueError(f"tolerance_s must be positive, not {tolerance_s}")
        self._webhooks = [
            Webhook(_decode_secret(secret, i, len(secrets)))
            for i, secret in enumerate(secrets, start=1)
        ]
        self._tolerance_s = tolerance_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookSigner(<{len(self._webhooks)} secrets>, tolerance_s={self._tolerance_s})"

    def signatures(self, msg_id: str, timestamp: int, body: bytes) -> list[str]:
        """One `v1,<base64>` signature per secret, in the configured order."""
        at = datetime.fromtimestamp(timestamp, tz=UTC)
        data = body.decode("utf-8")
        return [webhook.sign(msg_id=msg_id, timestamp=at, data=data) for webhook in self._webhooks]

    def sign(self, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """The three Standard Webhooks headers for `body` (UTF-8), signed now or at `timestamp`."""
        if not msg_id:
            raise ValueError("a webhook message id may not be empty")
        at = int(self._clock()) if timestamp is None else timestamp
        return {
            ID_HEADER: msg_id,
            TIMESTAMP_HEADER: str(at),
            SIGNATURE_HEADER: " ".join(self.signatures(msg_id, at, body)),
        }

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Return if a presented signature matches a secret; else raise a `VerificationError`.

        Header names are matched case-insensitively (a plain dict or aiohttp's headers).
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = lowered.get(ID_HEADER, "")
        stamp = lowered.get(TIMESTAMP_HEADER, "")
        presented = lowered.get(SIGNATURE_HEADER, "")
        if not (msg_id and stamp and presented):
            raise MissingHeaders("missing webhook-id, webhook-timestamp or webhook-signature")
        timestamp = self._check_timestamp(stamp)
        digests = [_decode_signature(entry) for entry in presented.split()[:MAX_SIGNATURES]]
        candidates = [digest for digest in digests if digest is not None]
        try:
            expected = self.signatures(msg_id, timestamp, body)
        except UnicodeDecodeError:
            raise BadSignature("the body is not UTF-8") from None
        for signature in expected:
            digest = base64.b64decode(signature.partition(",")[2])
            if any(hmac.compare_digest(digest, candidate) for candidate in candidates):
                return
        raise BadSignature("no signature matches a configured secret")

    def _check_timestamp(self, stamp: str) -> int:
        """The header's unix seconds, if canonical and within the tolerance of now."""
        if not _TIMESTAMP.fullmatch(stamp):
            raise BadTimestamp("webhook-timestamp is not integer unix seconds")
        timestamp = int(stamp)
        skew = timestamp - self._clock()
        if skew < -self._tolerance_s:
            raise BadTimestamp(f"webhook-timestamp is {-skew:.0f} s old")
        if skew > self._tolerance_s:
            raise BadTimestamp(f"webhook-timestamp is {skew:.0f} s in the future")
        return timestamp
