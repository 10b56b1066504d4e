"""The demo's dispatch: a local webhook receiver that verifies each signature and prints
the messages tierwatch would send, and the dispatch configuration pointing at it."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TextIO

import orjson
import yaml
from aiohttp import web

from stream.dispatch.signing import VerificationError, WebhookSigner

ROUTES = (
    "learner_nudge", "manager_outreach", "hr_escalation", "wellbeing", "resolved",
    "follow_up_reminder", "follow_up_overdue", "team_digest",
)  # fmt: skip
SHOWN_IN_FULL = (
    "learner_nudge", "manager_outreach", "hr_escalation", "wellbeing", "follow_up_reminder",
    "team_digest",
)  # fmt: skip
WHO = {"learner": "the learner", "manager": "the manager", "hr": "HR", "wellbeing": "wellbeing"}


class Receiver:
    """Prints what arrives: one line a message, the whole text of the first of each route."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.signer = WebhookSigner([self.secret])
        self.shown: set[str] = set()
        self.received = 0
        self.action_link: str | None = None  # the first manager's action link
        self.team_link: str | None = None  # the first digest's link to a team view
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.signer.verify(body, request.headers)
        except VerificationError as exc:
            self.out.write(f"    ✉ refused a message: {exc}\n")
            return web.Response(status=401)
        message = orjson.loads(body)
        self.received += 1
        route, role = message["route"], message["role"]
        who = WHO.get(role, role)
        self.out.write(f"    ✉ to {who} ({route}): {message['subject']}\n")
        link = (message.get("links") or {}).get("act")
        if role == "manager" and link and self.action_link is None:
            self.action_link = link
            self.out.write(f"      ↳ the manager's action page (open it in a browser): {link}\n")
        team = (message.get("links") or {}).get("team")
        if team and self.team_link is None:
            self.team_link = team
            self.out.write(f"      ↳ the manager's team view (open it in a browser): {team}\n")
        if route in SHOWN_IN_FULL and route not in self.shown:
            self.shown.add(route)
            text = "\n".join("      │ " + line for line in message["script"].splitlines())
            self.out.write(text + "\n")
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/messages", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/messages"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def write_config(self, path: Path) -> Path:
        """A dispatch configuration sending every route to this receiver."""
        config = {
            "channels": {"demo": {"type": "webhook", "url": self.url, "secrets": [self.secret]}},
            "routes": {route: ["demo"] for route in ROUTES},
            "links": {
                "portal": "https://learning.example.com/",
                "record": "https://tierwatch.example.com/interventions",
            },
        }
        path.write_text(yaml.safe_dump(config))
        return path
