"""Action tokens: signed and encrypted, expiring, verified under rotated keys."""

from __future__ import annotations

import datetime as dt

import pytest

from stream.actions.tokens import ActionKeys, Grant, TokenRefused

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
OLD, NEW = ActionKeys.generate(), ActionKeys.generate()


def grant(**changes: object) -> Grant:
    fields: dict[str, object] = {
        "transition_id": "5f0c-t1",
        "learner_id": "ana@example.com",
        "recipient": "manager",
        "recipient_id": "m1",
        "team": "t1",
        "actions": ("conversation_held", "support_plan", "not_useful"),
        "expires": NOW + dt.timedelta(days=14),
    }
    return Grant.model_validate({**fields, **changes})


def test_a_token_reads_back_its_grant_and_does_not_show_the_learner():
    keys = ActionKeys([NEW])
    token = keys.issue(grant())
    assert keys.read(token, NOW) == grant()
    assert "ana" not in token
    assert token.isascii()
    assert all(c.isalnum() or c in "-_=" for c in token)  # fits a URL as it is


def test_an_expired_token_is_refused_as_expired():
    keys = ActionKeys([NEW])
    token = keys.issue(grant(expires=NOW))
    with pytest.raises(TokenRefused) as refused:
        keys.read(token, NOW)
    assert refused.value.why == "expired"


@pytest.mark.parametrize("where", [0, 40, 100, -2])
def test_a_tampered_token_is_refused_as_invalid(where: int):
    keys = ActionKeys([NEW])
    token = keys.issue(grant())
    flipped = "A" if token[where] != "A" else "B"
    tampered = token[:where] + flipped + token[where + 1 :] if where != -2 else token[:-2] + "xy"
    with pytest.raises(TokenRefused) as refused:
        keys.read(tampered, NOW)
    assert refused.value.why == "invalid"


def test_keys_rotate_the_first_signs_every_one_verifies():
    before = ActionKeys([OLD]).issue(grant())
    rotated = ActionKeys([NEW, OLD])
    assert rotated.read(before, NOW) == grant()
    after = rotated.issue(grant())
    assert ActionKeys([NEW]).read(after, NOW) == grant()
    with pytest.raises(TokenRefused):
        ActionKeys([NEW]).read(before, NOW)  # the old key retired: its links no longer work


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 5000])
def test_garbage_is_invalid_not_an_error(token: str):
    with pytest.raises(TokenRefused):
        ActionKeys([NEW]).read(token, NOW)


def test_a_key_that_is_not_a_fernet_key_is_a_clear_error():
    with pytest.raises(ValueError, match="not a Fernet key"):
        ActionKeys(["secret"])
    with pytest.raises(ValueError, match="TIERWATCH_ACTION_KEYS"):
        ActionKeys([])


@pytest.mark.parametrize("inserted", [" ", "\t", "\n", "%20"])
def test_a_token_with_anything_but_url_safe_base64_inside_is_invalid(inserted: str):
    """Fernet alone would read a token with whitespace inside: the same grant under
    another spelling, so another intervention id."""
    keys = ActionKeys([NEW])
    token = keys.issue(grant())
    with pytest.raises(TokenRefused):
        keys.read(token[:20] + inserted + token[20:], NOW)
