"""docker-compose.yml, the Dockerfile and the Prometheus scrape config, checked by structure.

Docker cannot run here, so these tests read the files: every image is pinned or built from
the repository, every referenced file exists, every TIERWATCH_* variable is a setting,
published ports match the settings, the topics are the ones stream/topics.py names.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.settings import Settings
from stream.topics import COMPACTED, Topics

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"

# Variables the deployment may use before they are fields of stream/settings.py (being
# added at the same time); empty when every setting has landed.
PENDING_SETTINGS: set[str] = set()
SETTINGS = {f"TIERWATCH_{name.upper()}" for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as strings (map or list form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _tierwatch(command: str) -> dict[str, dict[str, Any]]:
    """The services running `tierwatch <command>` (the image's entrypoint)."""
    return {
        name: svc
        for name, svc in _services().items()
        if "build" in svc and svc.get("command") == [command]
    }


def _ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(published, container) pairs of a service's ports, short or long syntax."""
    pairs = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.append((int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def _env_file_paths(service: dict[str, Any]) -> list[tuple[Path, bool]]:
    """(path, required) of each env_file of a service."""
    entries = service.get("env_file") or []
    if isinstance(entries, str | dict):
        entries = [entries]
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append((ROOT / entry, True))
        else:
            out.append((ROOT / entry["path"], entry.get("required", True)))
    return out


def _env_file_keys(path: Path) -> set[str]:
    lines = path.read_text("utf-8").splitlines()
    return {
        line.split("=", 1)[0].strip()
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    }


def test_compose_parses_with_services():
    """The compose file is YAML with kafka, kafka-init, two workers, ingest, Prometheus, Grafana."""
    services = _services()
    assert {"kafka", "kafka-init", "ingest", "prometheus", "grafana"} <= set(services)
    assert len(_tierwatch("worker")) == 2
    assert set(_tierwatch("ingest")) == {"ingest"}


def test_every_service_has_an_image_or_a_build_in_the_repo():
    """Each service has an image, or a build whose context and Dockerfile exist here."""
    for name, svc in _services().items():
        assert "image" in svc or "build" in svc, name
        build = svc.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (ROOT / build.get("context", ".")).resolve()
        assert context.is_dir(), f"{name}: build context {context} missing"
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_images_are_pinned_to_a_version():
    """No image is `latest` or untagged: every tag carries a version number."""
    for name, svc in _services().items():
        image = svc.get("image")
        if image is None:
            continue
        ref = image.split("@", 1)[0]
        assert ":" in ref.rsplit("/", 1)[-1], f"{name}: {image} has no tag"
        tag = ref.rsplit(":", 1)[1]
        assert tag != "latest", f"{name}: {image} not pinned"
        assert re.search(r"\d+\.\d+", tag), f"{name}: {image} has no version"


def test_bind_mounts_and_env_files_exist():
    """Bind-mounted paths exist, named volumes are declared, env files exist or have an example."""
    declared = set(_compose().get("volumes") or {})
    for name, svc in _services().items():
        for volume in svc.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
        for path, required in _env_file_paths(svc):
            if required:
                assert path.is_file(), f"{name}: {path} missing"
            else:
                example = path.with_name(path.name + ".example")
                assert example.is_file(), f"{name}: optional {path} has no {example.name}"


def test_tierwatch_variables_are_settings():
    """Every TIERWATCH_* variable in compose or its env files is a field of Settings."""
    allowed = SETTINGS | PENDING_SETTINGS
    for name, svc in _services().items():
        used = {key for key in _env(svc) if key.startswith("TIERWATCH_")}
        for path, _ in _env_file_paths(svc):
            source = path if path.is_file() else path.with_name(path.name + ".example")
            used |= {key for key in _env_file_keys(source) if key.startswith("TIERWATCH_")}
        assert used <= allowed, f"{name}: not settings: {sorted(used - allowed)}"


def test_secrets_are_not_in_the_compose_file():
    """Credentials come from the env file, never inline in compose."""
    secret_fields = {
        f"TIERWATCH_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    assert secret_fields
    for name, svc in _services().items():
        assert not secret_fields & set(_env(svc)), name


def test_ingest_publishes_its_configured_port():
    """Ingest listens on all interfaces and publishes TIERWATCH_INGEST_PORT."""
    svc = _services()["ingest"]
    env = _env(svc)
    assert env["TIERWATCH_INGEST_HOST"] == "0.0.0.0"
    port = int(env.get("TIERWATCH_INGEST_PORT", Settings().ingest_port))
    assert port in [container for _, container in _ports(svc)]


def test_workers_publish_distinct_web_ports_and_keep_state_on_volumes():
    """Each worker: web on, RocksDB, its own named volume at its data dir, its own web port."""
    compose = _compose()
    ports, volumes, groups = set(), set(), set()
    for name, svc in _tierwatch("worker").items():
        env = _env(svc)
        assert env["TIERWATCH_WEB_ENABLED"] == "true", name
        assert env["TIERWATCH_STORE"].startswith("rocksdb://"), name
        port = int(env.get("TIERWATCH_WEB_PORT", Settings().web_port))
        assert port in [container for _, container in _ports(svc)], name
        ports.add(port)
        groups.add(env.get("TIERWATCH_APP_ID", Settings().app_id))
        targets = {}
        for volume in svc["volumes"]:
            source, target = volume.split(":")[:2]
            targets[target] = source
        source = targets[env["TIERWATCH_DATA_DIR"]]
        assert source in compose["volumes"], f"{name}: data dir is not on a named volume"
        volumes.add(source)
        if "TIERWATCH_WEB_HOST" in env:
            assert env["TIERWATCH_WEB_HOST"] in {name, svc.get("hostname")}, name
    assert len(ports) == 2
    assert len(volumes) == 2
    assert len(groups) == 1, "workers must share one consumer group (TIERWATCH_APP_ID)"


def test_dependencies_have_conditions():
    """depends_on uses conditions; tierwatch waits for a healthy Kafka and created topics."""
    services = _services()
    for name, svc in services.items():
        depends = svc.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for other, spec in depends.items():
            assert other in services, f"{name}: depends on unknown {other}"
            assert "condition" in spec, f"{name} -> {other}"
    for name in (*_tierwatch("worker"), "ingest"):
        depends = services[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["kafka-init"]["condition"] == "service_completed_successfully", name
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_kafka_is_a_single_kraft_node_with_replication_one():
    """KRaft broker+controller; offsets and transaction state replicated once so it starts."""
    kafka = _services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert "kafka-topics.sh" in " ".join(kafka["healthcheck"]["test"])


def test_tierwatch_reaches_kafka_on_an_advertised_listener():
    """TIERWATCH_BROKER names the kafka service on a listener it advertises."""
    advertised = _env(_services()["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    addresses = {item.split("://", 1)[1] for item in advertised.split(",")}
    for name in (*_tierwatch("worker"), "ingest"):
        broker = _env(_services()[name])["TIERWATCH_BROKER"]
        assert set(broker.split(",")) <= addresses, name


def _created_topics() -> dict[str, tuple[int, int, list[str]]]:
    """topic -> (partitions, replication, configs) from kafka-init's command."""
    init = _services()["kafka-init"]
    command = init["command"]
    script = "\n".join(command) if isinstance(command, list) else command
    script = script.replace("$$", "$")
    # expand a shell variable holding the common kafka-topics.sh prefix, if any
    variables = dict(re.findall(r'^(\w+)="([^"]*)"$', script, flags=re.M))
    for var, value in variables.items():
        script = script.replace(f"${var}", value)
    topics = {}
    for line in script.splitlines():
        if "--create" not in line or re.match(r"\w+=", line):
            continue
        words = shlex.split(line)
        option = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}
        configs = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--config"]
        topics[option["--topic"]] = (
            int(option["--partitions"]),
            int(option["--replication-factor"]),
            configs,
        )
    return topics


def test_topic_creation_matches_stream_topics():
    """kafka-init creates every topic with TIERWATCH_PARTITIONS partitions; profiles compacted."""
    created = _created_topics()
    topics = Topics.named("")
    wanted = {getattr(topics, field.name) for field in dataclasses.fields(Topics)}
    assert set(created) == wanted, f"missing {wanted - set(created)}, extra {set(created) - wanted}"
    partitions = {
        int(_env(_services()[name]).get("TIERWATCH_PARTITIONS", Settings().partitions))
        for name in (*_tierwatch("worker"), "ingest")
    }
    assert len(partitions) == 1, "workers and ingest disagree on TIERWATCH_PARTITIONS"
    (expected,) = partitions
    for name, (count, replication, configs) in created.items():
        assert count == expected, f"{name}: {count} partitions, TIERWATCH_PARTITIONS={expected}"
        assert replication == 1, name
        compact = "cleanup.policy=compact" in configs
        assert compact == (name in COMPACTED), name
    assert topics.profiles in COMPACTED


def test_prometheus_scrapes_every_tierwatch_process():
    """prometheus.yml targets are compose services on their metrics ports; all are scraped."""
    services = _services()
    config = yaml.safe_load(PROMETHEUS.read_text("utf-8"))
    mounts = [v.split(":")[0] for v in services["prometheus"]["volumes"]]
    assert "./deploy/prometheus/prometheus.yml" in mounts
    expected = {}
    for name in _tierwatch("worker"):
        expected[name] = int(_env(services[name]).get("TIERWATCH_WEB_PORT", Settings().web_port))
    ingest_env = _env(services["ingest"])
    expected["ingest"] = int(ingest_env.get("TIERWATCH_INGEST_PORT", Settings().ingest_port))
    scraped = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"{target}: no such compose service"
                scraped[host] = int(port)
    assert scraped == expected


def test_grafana_mounts_provisioning_and_dashboards():
    """Grafana gets deploy/grafana/provisioning and deploy/grafana/dashboards as bind mounts."""
    sources = {v.split(":")[0] for v in _services()["grafana"]["volumes"]}
    assert {"./deploy/grafana/provisioning", "./deploy/grafana/dashboards"} <= sources


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text("utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multistage_pinned_and_non_root():
    """Two stages from a version-pinned base, the venv copied, a non-root user, tierwatch worker."""
    instructions = _dockerfile_instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert len(froms) >= 2
    for line in froms:
        image = line.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        tag = image.split("@", 1)[0].rsplit(":", 1)[-1]
        assert re.match(r"\d+\.\d+\.\d+", tag), f"base {image} not pinned to a version"
    assert any(word == "COPY" and "--from=" in rest for word, rest in instructions)
    users = [rest for word, rest in instructions if word == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("ENTRYPOINT", '["tierwatch"]') in instructions
    assert ("CMD", '["worker"]') in instructions


def test_dockerfile_exposes_the_default_ports():
    """EXPOSE lists the default worker web port and ingest port of Settings."""
    exposed = {
        int(port.split("/")[0])
        for word, rest in _dockerfile_instructions()
        if word == "EXPOSE"
        for port in rest.split()
    }
    defaults = Settings()
    assert {defaults.web_port, defaults.ingest_port} <= exposed


@pytest.mark.parametrize("needed", ["pyproject.toml", "README.md", "stream", "schemas"])
def test_dockerignore_keeps_what_the_build_copies(needed):
    """.dockerignore does not exclude what the Dockerfile copies."""
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert needed not in ignored
    assert (ROOT / needed).exists()
