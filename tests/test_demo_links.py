"""`make run` shows a manager's action link: the demo's receiver keeps the first one that
arrives in a manager's message and prints it."""

from __future__ import annotations

import io

import orjson
from aiohttp.test_utils import make_mocked_request

from stream.sim.demo_dispatch import Receiver


async def test_the_first_managers_action_link_is_printed_and_kept():
    out = io.StringIO()
    receiver = Receiver(out)
    sent = []
    for role, link in (("learner", None), ("manager", "http://localhost:1/act/A"),
                       ("manager", "http://localhost:1/act/B")):  # fmt: skip
        body = orjson.dumps({
            "route": "manager_outreach", "role": role, "subject": "s", "script": "t",
            "links": {"act": link} if link else {},
        })  # fmt: skip
        headers = receiver.signer.sign("msg-1", body)
        request = make_mocked_request("POST", "/messages", headers=headers)
        request._read_bytes = body  # the body the handler reads
        sent.append((await receiver.handle(request)).status)
    assert sent == [204, 204, 204]
    assert receiver.action_link == "http://localhost:1/act/A"
    assert out.getvalue().count("/act/") == 1
