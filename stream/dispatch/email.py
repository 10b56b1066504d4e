"""The email channel: one multipart/alternative message (plain text and HTML) over SMTP.

The Message-ID is derived from `message.id` (`<{id}@tierwatch>`), and `X-Tierwatch-Id`
carries the id as is, so a mailbox or a receiving system can de-duplicate a resend.

| what happened                                        | outcome |
|------------------------------------------------------|---------|
| the server accepted the message (2xx after DATA)     | DELIVERED |
| a 4xx reply (greylisting, mailbox busy, rate limit)  | RETRY   |
| refused, reset or timed-out connection               | RETRY   |
| a 5xx reply (unknown user, policy, bad credentials)  | FAILED  |
| STARTTLS (or AUTH) configured but not offered        | FAILED  |
| a message that cannot be built (bad address, CR/LF)  | FAILED  |

Logs never contain the recipient address, the sender or the message text.
"""

from __future__ import annotations

import hashlib
import html
import re
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from stream.dispatch.base import Message, Outcome, Result, check_timeout, log_attempt
from stream.dispatch.chat import paragraphs

DEFAULT_TIMEOUT_S = 30.0
MESSAGE_ID_DOMAIN = "tierwatch"
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def message_id_for(msg_id: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """The RFC 5322 Message-ID for a message id: `<{id}@{domain}>`, or a SHA-256 of the id
    in its place when the id has characters a Message-ID cannot hold."""
    left = msg_id if _DOT_ATOM.fullmatch(msg_id) else hashlib.sha256(msg_id.encode()).hexdigest()
    return f"<{left}@{domain}>"


def html_from_text(subject: str, text: str) -> str:
    """A minimal HTML document for a plain-text message: escaped paragraphs, line breaks kept."""
    body = "\n".join(
        "<p>" + html.escape(part).replace("\n", "<br>\n") + "</p>" for part in paragraphs(text)
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def build_email(message: Message, sender: str, domain: str = MESSAGE_ID_DOMAIN) -> EmailMessage:
    """The email for `message`: From `sender`, To `message.recipient`, text and HTML parts.

    Raises ValueError for a header that cannot be written (a CR or LF in it, say).
    """
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id_for(message.id, domain)
    email["X-Tierwatch-Id"] = message.id
    email.set_content(message.text)
    email.add_alternative(message.html or html_from_text(message.subject, message.text), "html")
    return email


_CONNECTION_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
)


def result_for_smtp_error(error: aiosmtplib.SMTPException) -> Result:
    """The outcome of an SMTP failure: 4xx and connection trouble retry; 5xx and a server
    lacking a configured capability fail. Server reply texts are left out (they may echo
    the address)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        code = min(codes, default=550)  # any temporary refusal makes the whole one temporary
        outcome = Outcome.RETRY if 400 <= code < 500 else Outcome.FAILED
        return Result(outcome, f"SMTP {code}: recipient refused", status=code)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        outcome = Outcome.RETRY if 400 <= error.code < 500 else Outcome.FAILED
        return Result(outcome, f"SMTP {error.code}: {type(error).__name__}", status=error.code)
    if isinstance(error, _CONNECTION_ERRORS):
        return Result(Outcome.RETRY, f"SMTP connection failed: {type(error).__name__}")
    # aiosmtplib's own fixed sentences (no addresses): STARTTLS, AUTH or SMTPUTF8 required
    # by the configuration or the message but not offered by the server. Retrying won't help.
    return Result(Outcome.FAILED, f"SMTP server cannot do what is configured: {error}")


class EmailChannel:
    """Sends each message as one email through an SMTP server (a relay or a provider).

    `sender` is the From header (`"Tierwatch <noreply@example.org>"` or a bare address; the
    envelope sender is its address). `starttls=True` requires STARTTLS, `use_tls=True` uses
    implicit TLS (port 465); with both False the connection is plain (a local relay).
    `timeout_s` bounds each SMTP step. The recipient is `message.recipient`.
    """

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        use_tls: bool = False,
        message_id_domain: str = MESSAGE_ID_DOMAIN,
    ) -> None:
        envelope_sender = parseaddr(sender)[1]
        if "@" not in envelope_sender:
            raise ValueError(f"channel {name!r}: sender must be an email address")
        if (username is None) != (password is None):
            raise ValueError(f"channel {name!r}: give both username and password, or neither")
        if starttls and use_tls:
            raise ValueError(f"channel {name!r}: starttls and use_tls are exclusive")
        check_timeout(name, timeout_s)
        self.name = name
        self._host = host
        self._port = port
        self._sender = sender
        self._envelope_sender = envelope_sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._timeout_s = timeout_s
        self._domain = message_id_domain

    def __repr__(self) -> str:
        return f"EmailChannel(name={self.name!r}, host={self._host!r}, port={self._port})"

    async def deliver(self, message: Message) -> Result:
        """Try to send `message` once; never raise for a delivery problem."""
        result = await self._attempt(message)
        log_attempt(self.name, message, result)
        return result

    async def _attempt(self, message: Message) -> Result:
        """Build the email and hand it to the SMTP server once."""
        recipient = parseaddr(message.recipient)[1]
        if "@" not in recipient:
            return Result(Outcome.FAILED, "the recipient is not an email address")
        try:
            email = build_email(message, self._sender, self._domain)
        except ValueError as error:
            return Result(Outcome.FAILED, f"email cannot be built: {type(error).__name__}")
        try:
            await aiosmtplib.send(
                email,
                sender=self._envelope_sender,
                recipients=[recipient],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                use_tls=self._use_tls,
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPException as error:
            return result_for_smtp_error(error)
        except (OSError, TimeoutError) as error:
            return Result(Outcome.RETRY, f"SMTP connection failed: {type(error).__name__}")
        return Result(Outcome.DELIVERED, "SMTP accepted", status=250)
