"""The Kubernetes manifests under deploy/k8s: schema-valid, labelled, probed, settings-true.

Validated offline against the JSON schemas bundled in the kubernetes-validate package.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils
from packaging.version import Version

from stream.policyfile import load_policy
from stream.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
)
SECRET_NAME = "tierwatch-credentials"
# Variables the deployment may use before they are fields of stream/settings.py (being
# added at the same time); empty when every setting has landed.
PENDING_SETTINGS: set[str] = set()
SETTINGS = {f"TIERWATCH_{name.upper()}" for name in Settings.model_fields}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
# Probe paths a process does not serve yet (being added); delete an entry once it is served.
PENDING_ROUTES: set[tuple[str, str]] = set()


def _kubernetes_version() -> str:
    """The newest Kubernetes minor the package bundles but one (most clusters run it)."""
    minors = sorted({Version(v).release[:2] for v in kv_utils.all_versions()})
    major, minor = minors[-2] if len(minors) > 1 else minors[-1]
    return f"{major}.{minor}.0"


def _files(include_examples: bool = True) -> list[Path]:
    files = sorted(K8S.rglob("*.yaml"))
    files = [f for f in files if f.name != "kustomization.yaml"]
    if not include_examples:
        files = [f for f in files if "examples" not in f.relative_to(K8S).parts]
    return files


@functools.cache
def _docs(include_examples: bool = True) -> list[tuple[Path, dict[str, Any]]]:
    """(file, document) for every manifest, parsed once (tests only read them)."""
    out = []
    for path in _files(include_examples):
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if doc is not None:
                out.append((path, doc))
    return out


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _docs(include_examples=False) if doc["kind"] == kind]


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _of_kind(kind) if d["metadata"]["name"] == name]
    return doc


def _containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container of every workload."""
    for _, doc in _docs(include_examples=False):
        if doc["kind"] in WORKLOADS:
            spec = doc["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield doc, container


def _env(workload: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The container's effective literal environment: envFrom ConfigMaps, then env values."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(_one("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


def test_there_are_manifests():
    """deploy/k8s has the workers, ingest, services, PDB and ConfigMaps."""
    kinds = {doc["kind"] for _, doc in _docs(include_examples=False)}
    assert {"StatefulSet", "Deployment", "Service", "PodDisruptionBudget", "ConfigMap"} <= kinds


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_validates_against_the_kubernetes_schema(path):
    """Every document validates (strictly: no unknown fields) against the bundled schemas."""
    version = _kubernetes_version()
    docs = [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]
    assert docs
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:  # its schema dump is unreadable
            where = "/".join(str(part) for part in exc.absolute_path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_kustomization_lists_every_manifest():
    """kustomization.yaml lists every manifest in deploy/k8s (examples excluded)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text("utf-8"))
    listed = set(kustomization["resources"])
    present = {str(p.relative_to(K8S)) for p in _files(include_examples=False)}
    assert listed == present


def test_every_object_and_pod_template_has_the_standard_labels():
    """app.kubernetes.io/* labels on every object, pod template and claim template."""
    versions = set()
    for path, doc in _docs():
        where = f"{path.name}: {doc['kind']}/{doc['metadata']['name']}"
        labelled = [doc["metadata"]]
        if doc["kind"] in WORKLOADS:
            labelled.append(doc["spec"]["template"]["metadata"])
        for claim in doc.get("spec", {}).get("volumeClaimTemplates", []):
            labelled.append(claim["metadata"])
        for metadata in labelled:
            labels = metadata.get("labels", {})
            missing = [key for key in LABELS if key not in labels]
            assert not missing, f"{where}: missing {missing}"
            assert labels["app.kubernetes.io/part-of"] == "tierwatch", where
            versions.add(labels["app.kubernetes.io/version"])
    assert len(versions) == 1, f"several versions labelled: {versions}"


def test_selectors_match_their_pod_templates():
    """Workload, Service and PDB selectors select the pods they are meant for."""
    templates = {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for _, doc in _docs(include_examples=False)
        if doc["kind"] in WORKLOADS
    }
    for _, doc in _docs(include_examples=False):
        if doc["kind"] in WORKLOADS:
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]
        elif doc["kind"] in {"Service", "PodDisruptionBudget"}:
            spec = doc["spec"]
            selector = spec["selector"].get("matchLabels", spec["selector"])
            hits = [n for n, labels in templates.items() if selector.items() <= labels.items()]
            assert len(hits) == 1, f"{doc['kind']}/{doc['metadata']['name']} selects {hits}"


def test_images_are_the_labelled_version():
    """Each tierwatch container runs the image tag its app.kubernetes.io/version names."""
    for workload, container in _containers():
        version = workload["metadata"]["labels"]["app.kubernetes.io/version"]
        image = container["image"]
        assert image.rsplit(":", 1)[-1] == version, f"{container['name']}: {image}"


def test_workers_are_a_statefulset_with_a_volume_per_pod():
    """Workers: a StatefulSet, a claim template at the data dir, RocksDB, a headless Service."""
    (worker,) = [
        d
        for d in _of_kind("StatefulSet")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    ]
    claims = {c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]}
    assert claims
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    env = _env(worker, container)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[env["TIERWATCH_DATA_DIR"]] in claims
    assert env["TIERWATCH_STORE"].startswith("rocksdb://")
    assert env["TIERWATCH_WEB_ENABLED"] == "true"
    service = _one("Service", worker["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"


def test_a_disruption_budget_covers_the_workers():
    """A PodDisruptionBudget selects the worker pods."""
    worker = _one("StatefulSet", "tierwatch-worker")
    labels = worker["spec"]["template"]["metadata"]["labels"]
    pdbs = [
        pdb
        for pdb in _of_kind("PodDisruptionBudget")
        if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert pdbs


def test_probes_hit_healthz_and_readyz_on_the_configured_port():
    """Liveness GET /healthz, readiness GET /readyz, on a declared port the settings use."""
    defaults = Settings()
    setting_port = {
        "worker": ("TIERWATCH_WEB_PORT", defaults.web_port),
        "ingest": ("TIERWATCH_INGEST_PORT", defaults.ingest_port),
    }
    for workload, container in _containers():
        role = container["args"][0]
        declared = {p.get("name"): p["containerPort"] for p in container["ports"]}
        env = _env(workload, container)
        key, default = setting_port[role]
        configured = int(env.get(key, default))
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path, f"{role} {probe}"
            port = get["port"]
            number = declared[port] if isinstance(port, str) else port
            assert number in declared.values(), f"{role} {probe}: port {port} not declared"
            assert number == configured, f"{role} {probe}: {number} != {key}={configured}"
        if "startupProbe" in container:
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    if any(c["args"][0] == "ingest" for _, c in _containers()):
        (ingest,) = [(w, c) for w, c in _containers() if c["args"][0] == "ingest"]
        assert _env(*ingest)["TIERWATCH_INGEST_HOST"] == "0.0.0.0"


def test_services_target_declared_ports():
    """Every Service's targetPort is a port its pods declare."""
    declared = {}
    for workload, container in _containers():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        for port in container["ports"]:
            declared.setdefault(frozenset(labels.items()), set()).update(
                {port.get("name"), port["containerPort"]}
            )
    for service in _of_kind("Service"):
        selector = service["spec"]["selector"].items()
        (ports,) = [p for labels, p in declared.items() if selector <= labels]
        for port in service["spec"]["ports"]:
            assert port.get("targetPort", port["port"]) in ports, service["metadata"]["name"]


def test_every_container_requests_resources_and_runs_unprivileged():
    """Requests for CPU and memory, a memory limit, non-root, no privilege escalation."""
    for workload, container in _containers():
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
        assert "memory" in resources["limits"], container["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"].get("runAsUser", 1) != 0
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_environment_names_are_settings():
    """Every TIERWATCH_* name (env, ConfigMaps, the example Secret) is a Settings field."""
    allowed = SETTINGS | PENDING_SETTINGS
    used: set[str] = set()
    for _, container in _containers():
        used |= {item["name"] for item in container.get("env", [])}
    for _, doc in _docs():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] != "tierwatch-policy":
            used |= set(doc["data"])
        if doc["kind"] == "Secret":
            used |= set(doc.get("stringData", {})) | set(doc.get("data", {}))
    tierwatch = {name for name in used if name.startswith("TIERWATCH_")}
    assert tierwatch, "no settings found"
    assert tierwatch <= allowed, f"not settings: {sorted(tierwatch - allowed)}"


def test_credentials_come_from_a_secret_reference_only():
    """No Secret is applied; both workloads read tierwatch-credentials; no secret inline."""
    assert not _of_kind("Secret"), "commit no Secret: only examples/ may hold one"
    (example,) = [d for _, d in _docs() if d["kind"] == "Secret"]
    assert example["metadata"]["name"] == SECRET_NAME
    assert all("CHANGE-ME" in v for v in example["stringData"].values())
    secret_fields = {
        f"TIERWATCH_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    for workload, container in _containers():
        refs = {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
        assert SECRET_NAME in refs, container["name"]
        assert not secret_fields & set(_env(workload, container)), container["name"]


def test_policy_configmap_is_a_valid_policy_mounted_where_the_setting_points(tmp_path):
    """The policy ConfigMap loads with load_policy and is mounted at TIERWATCH_POLICY_FILE."""
    configmap = _one("ConfigMap", "tierwatch-policy")
    ((key, text),) = configmap["data"].items()
    path = tmp_path / key
    path.write_text(text, "utf-8")
    policy = load_policy(path)
    assert policy.roles
    worker = _one("StatefulSet", "tierwatch-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    volumes = {
        v["name"]: v["configMap"]["name"]
        for v in worker["spec"]["template"]["spec"]["volumes"]
        if "configMap" in v
    }
    policy_file = Path(_env(worker, container)["TIERWATCH_POLICY_FILE"])
    (mount,) = [
        m for m in container["volumeMounts"] if volumes.get(m["name"]) == "tierwatch-policy"
    ]
    assert policy_file == Path(mount["mountPath"]) / key


def _served_paths() -> dict[str, set[str]]:
    """The GET paths each process serves: ingest's aiohttp routes, the worker's Faust pages."""
    from stream.ingest.server import make_app
    from stream.topics import Topics
    from stream.worker import ops

    app = make_app(Settings(), None, Topics.named(""))  # type: ignore[arg-type]
    ingest = {r.resource.canonical for r in app.router.routes() if r.method == "GET"}
    worker = set(re.findall(r"\.page\(\s*\"([^\"]+)\"", inspect.getsource(ops)))
    return {"ingest": ingest, "worker": worker}


def test_probed_and_scraped_paths_are_served():
    """Probe paths and /metrics are served by the code."""
    served = _served_paths()
    for _, container in _containers():
        role = container["args"][0]
        probes = [c for c in ("startupProbe", "livenessProbe", "readinessProbe") if c in container]
        paths = {container[probe]["httpGet"]["path"] for probe in probes} | {"/metrics"}
        missing = {path for path in paths - served[role] if (role, path) not in PENDING_ROUTES}
        assert not missing, f"{role} does not serve {sorted(missing)}"
