"""Standard Webhooks signing and verification, without a network (the HTTP receiver cases
are in test_dispatch_webhook.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from stream.dispatch.signing import (
    BadSignature,
    BadTimestamp,
    InvalidSecret,
    MissingHeaders,
    WebhookSigner,
)
from tests.dispatch_receivers import new_secret

NOW = 1_700_000_000
# The Standard Webhooks / Svix reference vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def signer(*secrets: str, now: float = NOW, tolerance_s: float = 300.0) -> WebhookSigner:
    return WebhookSigner(list(secrets), tolerance_s=tolerance_s, clock=lambda: now)


def test_reference_vector():
    """The signature of the spec's reference message is the spec's signature."""
    headers = signer(SPEC_SECRET).sign(SPEC_ID, SPEC_BODY, timestamp=SPEC_TIMESTAMP)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_headers_use_the_clock():
    """Without an explicit timestamp, webhook-timestamp is the clock's whole seconds."""
    headers = signer(new_secret(), now=NOW + 0.9).sign("tr-1", b"{}")
    assert headers["webhook-timestamp"] == str(NOW)


def test_one_signature_per_secret_in_order():
    """With several secrets, the header lists one v1 signature per secret, in order."""
    old, new = new_secret(), new_secret()
    both = signer(old, new).sign("tr-1", b"{}")["webhook-signature"].split(" ")
    assert both == [
        signer(old).sign("tr-1", b"{}")["webhook-signature"],
        signer(new).sign("tr-1", b"{}")["webhook-signature"],
    ]


def test_the_library_verifies_our_signatures():
    """The standardwebhooks library's own verify accepts a header we signed with two secrets."""
    old, new = new_secret(), new_secret()
    headers = signer(old, new).sign(
        "tr-1", b'{"a":1}', timestamp=int(datetime.now(UTC).timestamp())
    )
    assert Webhook(new).verify(b'{"a":1}', headers) == {"a": 1}


def test_we_verify_the_librarys_signatures():
    """A signature made by the library's Webhook.sign verifies here."""
    secret = new_secret()
    made = Webhook(secret).sign("tr-1", datetime.fromtimestamp(NOW, tz=UTC), "{}")
    headers = {"webhook-id": "tr-1", "webhook-timestamp": str(NOW), "webhook-signature": made}
    signer(secret).verify(b"{}", headers)


def test_rotation_receiver_with_only_the_new_secret_accepts():
    """A receiver knowing only the new secret accepts a request signed with old and new."""
    old, new = new_secret(), new_secret()
    headers = signer(old, new).sign("tr-1", b"{}")
    signer(new).verify(b"{}", headers)


def test_header_names_are_case_insensitive():
    """Header names in any case verify."""
    secret = new_secret()
    headers = {k.upper(): v for k, v in signer(secret).sign("tr-1", b"{}").items()}
    signer(secret).verify(b"{}", headers)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_refused(missing):
    """A request without one of the three headers is refused as MissingHeaders."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}")
    del headers[missing]
    with pytest.raises(MissingHeaders):
        signer(secret).verify(b"{}", headers)


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-301, False), (-300, True), (300, True), (301, False)]
)
def test_timestamp_tolerance_is_five_minutes_either_way(offset, accepted):
    """A timestamp more than 300 s before or after now is refused; 300 s is still fine."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}", timestamp=NOW + offset)
    if accepted:
        signer(secret).verify(b"{}", headers)
    else:
        with pytest.raises(BadTimestamp):
            signer(secret).verify(b"{}", headers)


def test_tolerance_is_configurable():
    """With a one-hour tolerance, a ten-minute-old timestamp verifies."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}", timestamp=NOW - 600)
    signer(secret, tolerance_s=3600).verify(b"{}", headers)


@pytest.mark.parametrize("stamp", ["", "abc", "1.7e9", "-5", " 1700000000", "01700000000"])
def test_non_canonical_timestamp_refused(stamp):
    """A webhook-timestamp that is not plain integer seconds is refused, never a crash."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}") | {"webhook-timestamp": stamp}
    with pytest.raises((BadTimestamp, MissingHeaders)):
        signer(secret).verify(b"{}", headers)


def test_wrong_secret_refused():
    """A signature made with another secret is refused as BadSignature."""
    headers = signer(new_secret()).sign("tr-1", b"{}")
    with pytest.raises(BadSignature):
        signer(new_secret()).verify(b"{}", headers)


@pytest.mark.parametrize("field", ["webhook-id", "webhook-timestamp"])
def test_signed_id_and_timestamp_cannot_be_swapped(field):
    """Changing the id or the timestamp after signing breaks the signature."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}")
    headers[field] = "tr-2" if field == "webhook-id" else str(NOW - 1)
    with pytest.raises(BadSignature):
        signer(secret).verify(b"{}", headers)


@pytest.mark.parametrize(
    "junk", ["garbage", "v1,", "v1,!!!notbase64", "v2,AAAA", "v1a,AAAA", ",", "v1"]
)
def test_malformed_signature_entries_are_skipped(junk):
    """Malformed or other-version entries are skipped: alone they refuse, beside a good one
    they do not hide it (the library itself crashes on some of them)."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}")
    good = headers["webhook-signature"]
    with pytest.raises(BadSignature):
        signer(secret).verify(b"{}", headers | {"webhook-signature": junk})
    signer(secret).verify(b"{}", headers | {"webhook-signature": f"{junk}  {good}"})


def test_non_utf8_body_refused():
    """A body that is not UTF-8 cannot carry a valid signature: BadSignature, not a crash."""
    secret = new_secret()
    headers = signer(secret).sign("tr-1", b"{}")
    with pytest.raises(BadSignature):
        signer(secret).verify(b"\xff\xfe", headers)


@given(body=st.binary(max_size=200).map(lambda b: b.hex().encode()), data=st.data())
def test_any_single_byte_change_is_refused(body, data):
    """Property: a body verifies as signed, and changing any one byte refuses it."""
    secret = SPEC_SECRET
    headers = signer(secret).sign("tr-1", body)
    signer(secret).verify(body, headers)
    if body:
        i = data.draw(st.integers(0, len(body) - 1))
        altered = body[:i] + bytes([(body[i] + 1) % 128]) + body[i + 1 :]
        with pytest.raises(BadSignature):
            signer(secret).verify(altered, headers)


SECRET_BODY = base64.b64encode(b"s" * 32).decode()


@pytest.mark.parametrize(
    ("secrets", "problem"),
    [
        ([SECRET_BODY], "does not start with 'whsec_'"),
        (["whsec_" + SECRET_BODY[:-4] + "!@#$"], "not valid base64"),
        (["whsec_" + base64.b64encode(b"short").decode()], "at least 24"),
        (["whsec_"], "at least 24"),
        ([new_secret(), "nope" + SECRET_BODY], "#2 of 2"),
        ([], "at least one"),
        ("whsec_" + SECRET_BODY, "not one string"),
    ],
)
def test_bad_secrets_fail_at_construction_without_echoing(secrets, problem):
    """An unusable secret is a ValueError naming the problem and never the secret itself."""
    with pytest.raises(ValueError, match=problem) as caught:
        WebhookSigner(secrets)
    assert isinstance(caught.value, InvalidSecret)
    assert SECRET_BODY[:12] not in str(caught.value)


def test_unpadded_base64_secret_is_accepted():
    """A secret whose base64 drops the trailing '=' padding is accepted, as the library does."""
    padded = "whsec_" + base64.b64encode(b"k" * 25).decode()
    assert padded.endswith("=")
    headers = signer(padded).sign("tr-1", b"{}")
    signer(padded.rstrip("=")).verify(b"{}", headers)


def test_repr_hides_secrets():
    """The signer's repr shows how many secrets, not the secrets."""
    secret = new_secret()
    assert secret[6:] not in repr(WebhookSigner([secret]))
