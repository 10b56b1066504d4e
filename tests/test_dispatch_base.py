"""What every channel shares: the check of its timeout and the log event of an attempt."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from stream.dispatch.base import Message, Outcome, Result, check_timeout, log_attempt

MESSAGE = Message(
    id="tr-0001",
    route="manager_outreach",
    channel="mail",
    recipient="ada@example.org",
    subject="About Ada",
    text="Ada has been quiet for two weeks.",
)


@pytest.mark.parametrize("timeout_s", [0, -1.0])
def test_a_timeout_not_above_zero_is_refused_naming_the_channel(timeout_s: float):
    """A channel configured with no time to answer fails at configuration, with its name."""
    with pytest.raises(ValueError, match="channel 'mail': timeout_s must be positive"):
        check_timeout("mail", timeout_s)


def test_a_positive_timeout_is_taken():
    """Any positive timeout, however short, is a timeout."""
    check_timeout("mail", 0.001)


def test_an_attempt_is_logged_with_its_outcome_and_nothing_personal():
    """One `dispatch.attempt` event: channel, message id, route, outcome, status and
    detail; never the recipient, the subject or the text."""
    result = Result(Outcome.RETRY, "HTTP 503 Service Unavailable", retry_after_s=5, status=503)
    with capture_logs() as events:
        log_attempt("mail", MESSAGE, result)
    assert events == [
        {
            "event": "dispatch.attempt",
            "log_level": "info",
            "channel": "mail",
            "message_id": "tr-0001",
            "route": "manager_outreach",
            "outcome": "retry",
            "status": 503,
            "detail": "HTTP 503 Service Unavailable",
        }
    ]
    assert "ada@example.org" not in repr(events)
    assert "Ada" not in repr(events)
