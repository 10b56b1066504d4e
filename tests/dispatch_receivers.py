"""Real receivers on loopback for the dispatch channel tests.

- `HttpReceiver`: an aiohttp.web server on 127.0.0.1 (a free port) that records every
  request and answers with a programmable handler (`answer`, `verifying`, or any coroutine).
- `SmtpRecorder` and `smtp_server`: an aiosmtpd Controller on 127.0.0.1 whose handler records
  each envelope, or answers a configured SMTP reply at DATA.
- `free_port`: a port nobody listens on (for "connection refused").
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from stream.dispatch.base import Message
from stream.dispatch.signing import VerificationError, WebhookSigner

HOST = "127.0.0.1"
Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


def new_secret() -> str:
    """A fresh `whsec_` secret of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def message(**overrides: Any) -> Message:
    """A message with a unique id and a small payload; fields overridable."""
    fields: dict[str, Any] = {
        "id": f"tr-{uuid.uuid4().hex[:12]}",
        "route": "manager_outreach",
        "channel": "test",
        "recipient": "manager@example.org",
        "subject": "Checking in on Ada",
        "text": "Ada has been less active.\n\nCould you have a short conversation?",
        "payload": {"learner": "Ada", "tier_before": 1, "tier_after": 2},
    }
    fields.update(overrides)
    return Message(**fields)


def free_port() -> int:
    """A loopback port that was free a moment ago (bound, read and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Request:
    """One request as the receiver saw it, and whether a verifying handler accepted it."""

    path: str
    headers: dict[str, str]
    body: bytes
    accepted: bool | None = None
    refusal: str | None = None  # the VerificationError class name when refused


def answer(status: int, headers: dict[str, str] | None = None) -> Handler:
    """A handler answering `status` (with `headers`) to everything."""

    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=status, headers=headers)

    return handle


@dataclass
class HttpReceiver:
    """An aiohttp server on loopback that records requests; use `async with`."""

    handler: Handler = field(default_factory=lambda: answer(204))
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/hook") -> str:
        """The receiver's URL for `path`."""
        return f"http://{HOST}:{self.port}{path}"

    def at(self, path: str) -> list[Request]:
        """The recorded requests for one path."""
        return [request for request in self.requests if request.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request, then answer with the current handler."""
        body = await request.read()
        self.requests.append(Request(request.path, dict(request.headers), body))
        return await self.handler(request, body)

    async def __aenter__(self) -> HttpReceiver:
        """Start listening on a free loopback port (handlers are cancelled on shutdown)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = site.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()


def verifying(receiver: HttpReceiver, signer: WebhookSigner) -> Handler:
    """A handler that checks signatures with `signer.verify`: 204 if valid, 401 if not.

    The verdict is written onto the receiver's last recorded request."""

    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        seen = receiver.requests[-1]
        try:
            signer.verify(body, request.headers)
        except VerificationError as refused:
            seen.accepted, seen.refusal = False, type(refused).__name__
            return web.Response(status=401, text=str(refused))
        seen.accepted = True
        return web.Response(status=204)

    return handle


def sleeping(seconds: float) -> Handler:
    """A handler that answers 200, but only after `seconds`."""

    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(status=200)

    return handle


async def resetting(request: web.Request, body: bytes) -> web.StreamResponse:
    """A handler that drops the connection without answering."""
    assert request.transport is not None
    request.transport.abort()
    await asyncio.sleep(0.2)
    return web.Response(status=200)


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler: records each accepted envelope, or answers `rcpt_reply` at RCPT
    or `reply` at DATA."""

    reply: str = "250 OK"
    rcpt_reply: str = "250 OK"
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """aiosmtpd's RCPT hook: accept the recipient unless `rcpt_reply` says otherwise."""
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's DATA hook."""
        if self.reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.reply


@contextmanager
def smtp_server(recorder: SmtpRecorder) -> Iterator[tuple[str, int]]:
    """An SMTP server on loopback (a free port) handing mail to `recorder`; yields (host, port)."""
    controller = Controller(recorder, hostname=HOST, port=free_port())
    controller.start()
    try:
        yield HOST, controller.port
    finally:
        controller.stop()
