"""The alerts topic has one reader in a worker, dispatch on or off.

Faust acknowledges a record that two agents read only once both took it; a rebalance can
clear it from one agent's buffer after the other took it, and the record then stays
unacknowledged for good: the next rebalance or stop waits for it for ever (the chaos
suite's scale and rolling runs with dispatch on hung that way)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stream.core.policy import Policy
from stream.settings import Settings
from stream.worker.wiring import build


def readers_of(topic: str, pipeline) -> list[str]:
    return [agent.name for agent in pipeline.app.agents.values() if topic in agent.channel.topics]


@pytest.mark.parametrize("dispatch", [False, True])
def test_one_agent_reads_the_alerts_topic(tmp_path: Path, dispatch: bool) -> None:
    options: dict[str, object] = {"data_dir": tmp_path / "data", "topic_prefix": "one."}
    if dispatch:
        config = {
            "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x",
                                  "secrets": ["whsec_" + "a" * 44]}},
            "routes": {"learner_nudge": ["hook"]},
        }  # fmt: skip
        path = tmp_path / "dispatch.yaml"
        path.write_text(yaml.safe_dump(config))
        options["dispatch_file"] = path
    pipeline = build(Settings(**options), Policy(), "127.0.0.1:1")
    assert readers_of(pipeline.topics.alerts, pipeline) == ["transition-log"]
    assert (pipeline.dispatch_table is not None) is dispatch
