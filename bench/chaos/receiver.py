"""`python -m bench.chaos.receiver --http-port P --smtp-port Q --out FILE`: the receiver of a
chaos run's deliveries, in its own process so that a scenario can take it down (SIGTERM or
SIGKILL: connections refused) and start it again on the same ports.

It listens on three channels, as a downstream service, a chat workspace and a mail relay:

- `POST /hook`: a signed webhook (Standard Webhooks; the secret comes from the environment
  variable `CHAOS_WEBHOOK_SECRET`): a bad signature is answered 401 and recorded as refused;
  a good one is identified by its `webhook-id` header and the payload's `id`, `role` and
  `route`.
- `POST /chat`: a Slack incoming webhook (unsigned); the message text ends with the line
  `chaos-ref <transition id> <route> <role>` (the run's templates add it, see
  `bench.chaos.dispatching`).
- SMTP: one e-mail per message; its `X-Tierwatch-Id` header and the same `chaos-ref` line in
  its plain-text part.

Each accepted delivery is appended to `--out` as one JSON line (`ch`, `mid`: the message id
when the channel carries one, `t`: the transition id, `role`, `route`, `at`: unix seconds)
and flushed before the answer is sent. A delivery that cannot be identified is answered
with a refusal (HTTP 400, SMTP 554) and recorded with `refused` set.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import os
import re
import signal
import sys
import time
from email.message import EmailMessage
from typing import IO, Any

import orjson
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from stream.dispatch.signing import VerificationError, WebhookSigner

HOST = "127.0.0.1"
SECRET_ENV = "CHAOS_WEBHOOK_SECRET"
REF = re.compile(r"chaos-ref (\S+) (\S+) (\S+)")


class Journal:
    """The `--out` file: one JSON line per delivery, flushed at once."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink

    def write(self, **line: Any) -> None:
        self.sink.write(orjson.dumps({**line, "at": time.time()}) + b"\n")
        self.sink.flush()


def reference(text: str) -> tuple[str, str, str] | None:
    """The (transition id, route, role) of a message's `chaos-ref` line, if it has one."""
    found = REF.findall(text)
    if not found:
        return None
    transition, route, role = found[-1]
    return transition, route, role


class Receiver:
    """The HTTP side (`/hook`, `/chat`) and the SMTP handler."""

    def __init__(self, journal: Journal, signer: WebhookSigner) -> None:
        self.journal = journal
        self.signer = signer

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.signer.verify(body, request.headers)
            payload = orjson.loads(body)
            line = {"t": payload["id"], "role": payload["role"], "route": payload["route"]}
        except (VerificationError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            self.journal.write(ch="hook", refused=f"{type(exc).__name__}: {exc}")
            return web.Response(status=401 if isinstance(exc, VerificationError) else 400)
        self.journal.write(ch="hook", mid=request.headers.get("webhook-id"), **line)
        return web.Response(status=204)

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            found = reference(orjson.loads(body)["text"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            found = None
        if found is None:
            self.journal.write(ch="chat", refused="no chaos-ref line")
            return web.Response(status=400)
        transition, route, role = found
        self.journal.write(ch="chat", mid=None, t=transition, role=role, route=route)
        return web.Response(status=200, text="ok")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's DATA hook: accept an e-mail that names its delivery."""
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        found = None
        if isinstance(mail, EmailMessage):
            part = mail.get_body(("plain",))
            found = reference(part.get_content()) if isinstance(part, EmailMessage) else None
        if found is None:
            self.journal.write(ch="mail", refused="no chaos-ref line")
            return "554 no chaos-ref line"
        transition, route, role = found
        mid = mail.get("X-Tierwatch-Id")
        self.journal.write(ch="mail", mid=mid, t=transition, role=role, route=route)
        return "250 OK"


async def serve(http_port: int, smtp_port: int, out: IO[bytes], secret: str) -> None:
    """Listen until SIGTERM or SIGINT, then stop taking connections and finish."""
    receiver = Receiver(Journal(out), WebhookSigner([secret]))
    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    app.router.add_post("/chat", receiver.chat)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, HOST, http_port).start()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(receiver, hostname="chaos-receiver"), HOST, smtp_port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"receiver up: http {http_port}, smtp {smtp_port}", file=sys.stderr, flush=True)
    await stop.wait()
    smtp.close()
    await runner.cleanup()
    print("receiver down", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos.receiver", description=__doc__)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--smtp-port", type=int, required=True)
    p.add_argument("--out", required=True, help="JSON lines, appended")
    args = p.parse_args(argv)
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        p.error(f"{SECRET_ENV} must hold the webhook secret (whsec_...)")
    with open(args.out, "ab") as out:
        asyncio.run(serve(args.http_port, args.smtp_port, out, secret))
    return 0


if __name__ == "__main__":
    sys.exit(main())
