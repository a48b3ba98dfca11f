"""The Kubernetes deployment (deploy/), checked offline.

- Both kustomize overlays render (`kubectl kustomize`) and every object passes
  `kubernetes-validate --strict` for the Kubernetes versions k3s runs here.
- The rendered `dagster.yaml` passes Dagster's own instance-config validation and each of its
  configurable classes' schemas (Postgres storage, QueuedRunCoordinator, K8sRunLauncher), without
  connecting to Postgres or to a cluster.
- A run's Job is built by dagster-k8s's own `K8sRunLauncher.launch_run` (the Kubernetes API
  mocked): it carries the GPU toleration, the DGX node selector, the data volume, the resources.
- Every container has requests and limits; no Secret carries a value; every pod runs as non-root.
- The DGX rendering lands on a tainted DGX: the control plane tolerates the GPU taint and
  prefers CPU nodes; the RuntimeClass and NVIDIA's device plugin ship with it.
- A start that doesn't fight itself: the webserver and daemon wait for Postgres, generated
  ConfigMaps carry hash suffixes (dagster.yaml reads their names from env), the image is named
  once (an overlay's `images:` changes every place), run pods carry the sparky labels.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("local", "dgx")
# k3d's k3s image (deploy/k3d/cluster.yaml) is 1.31; a k3sup install today gets a newer one.
K8S_VERSIONS = ("1.31.0", "1.32.0")
NAMESPACE = "sparky"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
DGX_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}
# Secrets created out of band from deploy/k8s/base/secret-template.yaml (never rendered).
EXTERNAL_SECRETS = {"sparky-postgres", "sparky-tokens"}
# Pods allowed to run without runAsNonRoot, with the reason (deploy/README.md).
ROOT_EXCEPTIONS: dict[str, str] = {
    "DaemonSet/nvidia-device-plugin-daemonset": (
        "writes its socket into the kubelet's root-owned /var/lib/kubelet/device-plugins"
    ),
}
# Not Sparky's namespace: cluster-scoped objects and the device plugin (kube-system, where
# system-node-critical pods are admitted), both in the DGX rendering only.
OUTSIDE_NAMESPACE = {
    ("RuntimeClass", "nvidia"): None,
    ("DaemonSet", "nvidia-device-plugin-daemonset"): "kube-system",
}
# kustomize's content hash suffix on generated ConfigMaps: a dash and 10 characters.
HASHED = re.compile(r"^(?P<name>.+)-[a-z0-9]{10}$")
# ConfigMaps that must keep their plain name (named in dagster.yaml's launcher volumes).
UNHASHED_CONFIG_MAPS = {"sparky-config"}
POSTGRES_IMAGE = "postgres:16.4-alpine"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` renders the overlays")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


_RENDERED: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def objects(overlay: str) -> list[dict[str, Any]]:
    if overlay not in _RENDERED:
        _RENDERED[overlay] = _render(overlay)
    return _RENDERED[overlay]


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in objects:
        if o["kind"] in POD_KINDS:
            yield f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _config_map(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The generated ConfigMap `name`, whatever hash suffix kustomize gave it."""
    found = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and (o["metadata"]["name"] == name or _unhashed(o["metadata"]["name"]) == name)
    ]
    assert len(found) == 1, f"expected one ConfigMap {name}, found {len(found)}"
    return found[0]


def _unhashed(name: str) -> str:
    match = HASHED.match(name)
    return match["name"] if match else name


def _dagster_yaml(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(_config_map(objects, "dagster-instance")["data"]["dagster.yaml"])


def _container(objects: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    return _one(objects, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def _instance_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The env dagster.yaml's `{env: ...}` fields read in the daemon (which launches runs)."""
    env = _env(_container(objects, "dagster-daemon"))
    return {k: v for k, v in env.items() if k.startswith("SPARKY_") and isinstance(v, str)}


# --- rendering and Kubernetes schemas -----------------------------------------------------------


def test_overlay_renders_the_whole_stack(objects: list[dict[str, Any]]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for expected in [
        ("Namespace", NAMESPACE),
        ("StatefulSet", "postgres"),
        ("Service", "postgres"),
        ("Deployment", "dagster-webserver"),
        ("Service", "dagster-webserver"),
        ("Deployment", "dagster-daemon"),
        ("Deployment", "sparky-user-code"),
        ("Service", "sparky-user-code"),
        ("Deployment", "ollama"),
        ("Service", "ollama"),
        ("PersistentVolumeClaim", "sparky-data"),
        ("PersistentVolumeClaim", "ollama-models"),
        ("ServiceAccount", "sparky-dagster"),
        ("Role", "sparky-dagster"),
        ("RoleBinding", "sparky-dagster"),
    ]:
        assert expected in kinds, f"{expected} missing from the render"
    for name in ("dagster-instance", "dagster-workspace", "sparky-config", "sparky-env"):
        _config_map(objects, name)
    for o in objects:
        key = (o["kind"], o["metadata"]["name"])
        if key in OUTSIDE_NAMESPACE:
            assert o["metadata"].get("namespace") == OUTSIDE_NAMESPACE[key], key
        elif o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == NAMESPACE, o["metadata"]["name"]
    assert _one(objects, "Service", "postgres")["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_kubernetes_validate_strict(
    objects: list[dict[str, Any]], version: str
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for o in objects:
        kubernetes_validate.validate(o, version, strict=True)


# --- the Dagster instance ------------------------------------------------------------------------


def test_dagster_yaml_passes_dagsters_instance_validation(
    objects: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance schema and Dagster's cross-field checks (pools vs. the run coordinator), then
    each configurable class's own schema: what `DagsterInstance.from_config` would check, minus
    the connection to Postgres and to the cluster."""
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._serdes.config_class import class_from_code_pointer
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import DagsterPostgresStorage

    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-a-real-password")
    for key, value in _instance_env(objects).items():
        monkeypatch.setenv(key, value)
    raw = _config_map(objects, "dagster-instance")["data"]["dagster.yaml"]
    (tmp_path / "dagster.yaml").write_text(raw, encoding="utf-8")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert config["telemetry"]["enabled"] is False

    expected_classes = {
        "run_launcher": K8sRunLauncher,
        "run_coordinator": QueuedRunCoordinator,
        "compute_logs": NoOpComputeLogManager,
    }
    for section, cls in expected_classes.items():
        data = config[section]
        assert class_from_code_pointer(data["module"], data["class"]) is cls, section
        result = process_config(cls.config_type(), data.get("config") or {})
        assert result.success, f"{section}: {[e.message for e in result.errors]}"
        if cls is K8sRunLauncher:  # the hashed names, resolved from the daemon's env
            launcher = result.value
    assert (
        launcher["instance_config_map"]
        == _config_map(objects, "dagster-instance")["metadata"]["name"]
    )
    assert launcher["env_config_maps"] == [_config_map(objects, "sparky-env")["metadata"]["name"]]

    pg = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert pg.success, [e.message for e in pg.errors]
    db = pg.value["postgres_db"]
    assert db["password"] == "not-a-real-password"  # resolved from {env: DAGSTER_PG_PASSWORD}
    assert (db["hostname"], db["port"], db["db_name"]) == ("postgres", 5432, "dagster")
    # The URL dagster-postgres builds must name an installed driver: SQLAlchemy creates the
    # engine (importing the DBAPI) without connecting.
    import sqlalchemy
    from dagster_postgres.utils import pg_url_from_config

    engine = sqlalchemy.create_engine(pg_url_from_config(pg.value))
    assert engine.dialect.driver == "psycopg2"
    engine.dispose()
    statefulset = _one(objects, "StatefulSet", "postgres")
    pg_env = _env(statefulset["spec"]["template"]["spec"]["containers"][0])
    assert (pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"]) == (db["username"], db["db_name"])


def test_pools_serialize_ollama_and_runs_are_capped(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The concurrency section on a real (SQLite) instance: the `ollama` pool gets one slot."""
    from dagster._core.test_utils import instance_for_test

    config = _dagster_yaml(objects)
    overrides = {k: config[k] for k in ("concurrency", "run_coordinator")}
    with instance_for_test(overrides=overrides) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity.value == "op"
        assert (
            concurrency.run_queue_config.max_concurrent_runs
            == config["concurrency"]["runs"]["max_concurrent_runs"]
        )
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("ollama")
        assert storage.get_concurrency_info("ollama").slot_count == 1


def _launch_run_job(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The Job `K8sRunLauncher.launch_run` submits for a run of `daily_digest_job` launched from
    the code server, built by dagster-k8s itself (the launcher's config processed by its own
    schema; only the Kubernetes API is a mock)."""
    import kubernetes
    from dagster._config import process_config
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.test_utils import create_run_for_test, instance_for_test
    from dagster_k8s import K8sRunLauncher

    # The daemon's env: dagster.yaml reads the ConfigMaps' hashed names from it, and the
    # launcher passes them on to the run pod (env_vars).
    for key, value in _instance_env(objects).items():
        monkeypatch.setenv(key, value)
    config = _dagster_yaml(objects)["run_launcher"]["config"]
    processed = process_config(K8sRunLauncher.config_type(), config)
    assert processed.success, [e.message for e in processed.errors]
    code_server_env = _env(_container(objects, "sparky-user-code"))
    image = code_server_env["DAGSTER_CURRENT_IMAGE"]
    # What `dagster code-server start` reports as the location's container context
    # ($DAGSTER_CONTAINER_CONTEXT, dagster/_cli/code_server.py): the DGX's run pod settings.
    raw_context = code_server_env.get("DAGSTER_CONTAINER_CONTEXT")
    container_context = json.loads(raw_context) if raw_context else None

    batch_api = mock.MagicMock()
    # In-cluster config is what the pods use; here there is no cluster to read it from.
    monkeypatch.setattr("dagster_k8s.launcher.load_kubernetes_config", lambda **_: None)
    launcher = K8sRunLauncher(
        **processed.value, k8s_client_batch_api=batch_api, k8s_client_core_api=mock.MagicMock()
    )
    origin = JobPythonOrigin(
        "daily_digest_job",
        RepositoryPythonOrigin(
            executable_path="/opt/venv/bin/python",
            code_pointer=ModuleCodePointer(
                "sparky_assets.definitions", "defs", working_directory="/opt/sparky"
            ),
            container_image=image,  # what the code server reports ($DAGSTER_CURRENT_IMAGE)
            container_context=container_context,
        ),
    )
    with instance_for_test() as instance:
        launcher.register_instance(instance)
        run = create_run_for_test(instance, job_name="daily_digest_job", job_code_origin=origin)
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    (call,) = batch_api.create_namespaced_job.call_args_list
    assert call.kwargs["namespace"] == NAMESPACE
    body = call.kwargs["body"]
    return kubernetes.client.ApiClient().sanitize_for_serialization(body)


def test_run_pod_job_built_by_dagster_k8s(
    overlay: str, objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _launch_run_job(objects, monkeypatch)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert GPU_TOLERATION in pod["tolerations"]
    assert pod["tolerations"].count(GPU_TOLERATION) == 1  # the merge did not duplicate it
    if overlay == "dgx":  # from the code server's container context, merged over dagster.yaml
        assert pod["nodeSelector"] == DGX_NODE_SELECTOR
        assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
        assert container["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    else:  # k3d has no DGX label: a selector would leave every run Pending
        assert not pod.get("nodeSelector")
        assert container["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    # `just logs-follow` selects part-of=sparky; the NetworkPolicies select component=run.
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "sparky"
    assert labels["app.kubernetes.io/component"] == "run"

    user_code = _one(objects, "Deployment", "sparky-user-code")["spec"]["template"]["spec"]
    assert container["image"] == user_code["containers"][0]["image"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    # The run identity dagster.yaml names (its rights: engineer R's RBAC tests).
    launcher_sa = _dagster_yaml(objects)["run_launcher"]["config"]["service_account_name"]
    assert pod["serviceAccountName"] == launcher_sa

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts["/var/lib/sparky"]]["persistentVolumeClaim"]["claimName"] == (
        "sparky-data"
    )
    assert volumes[mounts["/etc/sparky"]]["configMap"]["name"] == "sparky-config"
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/opt/dagster/dagster_home"]]

    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["cpu"] and resources["limits"]["memory"]
    assert "nvidia.com/gpu" not in resources["limits"]  # the GPU is Ollama's, not the run's

    env = _env(container)
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    sparky_env = _config_map(objects, "sparky-env")["metadata"]["name"]
    assert sparky_env != "sparky-env"  # hashed
    assert env["SPARKY_ENV_CONFIG_MAP"] == sparky_env  # the run's own instance resolves it
    assert (
        env["SPARKY_INSTANCE_CONFIG_MAP"]
        == (_config_map(objects, "dagster-instance")["metadata"]["name"])
    )
    assert env["DAGSTER_PG_PASSWORD"] == {
        "secretKeyRef": {"name": "sparky-postgres", "key": "postgresql-password"}
    }
    env_from = container["envFrom"]
    assert {"configMapRef": {"name": sparky_env}} in env_from
    assert {"secretRef": {"name": "sparky-tokens", "optional": True}} in env_from

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["backoffLimit"] == 0
    # The Job the launcher submits is itself a valid Kubernetes object.
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)


# --- what every pod must carry -------------------------------------------------------------------


def test_every_container_has_requests_and_limits(objects: list[dict[str, Any]]) -> None:
    for where, pod in _pod_specs(objects):
        for c in _containers(pod):
            resources = c.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (
                    f"{where} container {c['name']} lacks resources.{part}.cpu/memory"
                )


def test_every_pod_runs_as_non_root_with_a_read_only_root(objects: list[dict[str, Any]]) -> None:
    for where, pod in _pod_specs(objects):
        if where in ROOT_EXCEPTIONS:
            continue
        assert pod.get("securityContext", {}).get("runAsNonRoot") is True, where
        assert pod["securityContext"].get("runAsUser", 0) != 0, where
        for c in _containers(pod):
            sc = c.get("securityContext", {})
            assert sc.get("runAsNonRoot", True) is True, f"{where}/{c['name']}"
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}/{c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, f"{where}/{c['name']}"


def test_no_secret_values_are_rendered_or_committed(objects: list[dict[str, Any]]) -> None:
    for o in objects:
        if o["kind"] == "Secret":
            assert not o.get("data") and not o.get("stringData"), o["metadata"]["name"]
    template = K8S / "base" / "secret-template.yaml"
    for doc in yaml.safe_load_all(template.read_text(encoding="utf-8")):
        assert doc["kind"] == "Secret"
        assert not doc.get("data") and not doc.get("stringData"), doc["metadata"]["name"]
        assert doc["metadata"]["name"] in EXTERNAL_SECRETS
    for path in K8S.rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "secret-template.yaml" not in kustomization.get("resources", []), path
        assert "secretGenerator" not in kustomization, path


def test_references_resolve(objects: list[dict[str, Any]]) -> None:
    """Every ConfigMap, PVC, Secret and ServiceAccount a pod names exists (Secrets: out of
    band, from the template); optional secret references are marked so."""
    present = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for where, pod in _pod_specs(objects):
        if "serviceAccountName" in pod:
            assert ("ServiceAccount", pod["serviceAccountName"]) in present, where
        for v in pod.get("volumes", []):
            if "configMap" in v:
                assert ("ConfigMap", v["configMap"]["name"]) in present, where
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in present, where
        for c in _containers(pod):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in present, where
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in EXTERNAL_SECRETS, where
                    assert source["secretRef"].get("optional") is True, where
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in EXTERNAL_SECRETS, where
    launcher = _dagster_yaml(objects)["run_launcher"]["config"]
    assert launcher["job_namespace"] == NAMESPACE
    assert ("ServiceAccount", launcher["service_account_name"]) in present
    # Names read from env ({env: VAR}) resolve in every pod that loads the instance.
    for deployment in ("dagster-webserver", "dagster-daemon", "sparky-user-code"):
        env = _env(_container(objects, deployment))
        for ref in [launcher["instance_config_map"], *launcher["env_config_maps"]]:
            name = env[ref["env"]] if isinstance(ref, dict) else ref
            assert ("ConfigMap", name) in present, (deployment, ref)
    for volume in launcher["volumes"]:
        if "config_map" in volume:
            assert ("ConfigMap", volume["config_map"]["name"]) in present
    assert launcher["postgres_password_secret"] in EXTERNAL_SECRETS


def test_rbac_lets_the_launcher_manage_jobs_and_read_pods(objects: list[dict[str, Any]]) -> None:
    role = _one(objects, "Role", "sparky-dagster")
    allowed: set[tuple[str, str, str]] = set()
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                allowed |= {(group, resource, verb) for verb in rule["verbs"]}
    # What the K8sRunLauncher calls (measured against a recording API server in
    # tests/test_deploy_security.py): launch, health, debug info, terminate. Nothing more.
    assert allowed == {
        ("batch", "jobs", "create"),
        ("batch", "jobs", "list"),
        ("batch", "jobs", "delete"),
        ("batch", "jobs/status", "get"),
        ("", "pods", "list"),
        ("", "pods", "delete"),
        ("", "pods/log", "get"),
        ("", "events", "list"),
    }
    binding = _one(objects, "RoleBinding", "sparky-dagster")
    assert binding["roleRef"]["name"] == "sparky-dagster"
    assert {"kind": "ServiceAccount", "name": "sparky-dagster", "namespace": NAMESPACE} in (
        binding["subjects"]
    )


# --- the Dagster services and Ollama ------------------------------------------------------------


def test_dagster_services_wiring(objects: list[dict[str, Any]]) -> None:
    workspace = yaml.safe_load(_config_map(objects, "dagster-workspace")["data"]["workspace.yaml"])
    (location,) = workspace["load_from"]
    grpc = location["grpc_server"]
    service = _one(objects, "Service", grpc["host"])
    assert [p["port"] for p in service["spec"]["ports"]] == [grpc["port"]] == [4000]

    user_code = _one(objects, "Deployment", "sparky-user-code")["spec"]["template"]["spec"]
    (container,) = user_code["containers"]
    env = _env(container)
    assert env["SPARKY_AUTOMATION"] == "on"
    assert env["DAGSTER_CURRENT_IMAGE"] == container["image"]
    assert container["args"][:3] == ["dagster", "code-server", "start"]
    assert "sparky_assets.definitions" in container["args"]
    sparky_env = _config_map(objects, "sparky-env")["data"]
    assert sparky_env["SPARKY_CONFIG"] == "/etc/sparky/sparky.toml"
    assert sparky_env["OLLAMA_HOST"] == "http://ollama:11434"

    web = _one(objects, "Deployment", "dagster-webserver")["spec"]["template"]["spec"]
    (web_container,) = web["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert web_container[probe]["httpGet"]["path"] == "/server_info"
    assert web_container["ports"][0]["containerPort"] == 3000
    daemon = _one(objects, "Deployment", "dagster-daemon")["spec"]["template"]["spec"]
    assert daemon["containers"][0]["args"][:2] == ["dagster-daemon", "run"]
    for spec in (web, daemon):
        args = spec["containers"][0]["args"]
        assert args[args.index("-w") + 1] == "/opt/dagster/workspace/workspace.yaml"


def test_cluster_sparky_toml_loads(
    objects: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparky_resources.config import load_config

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    path = tmp_path / "sparky.toml"
    path.write_text(_config_map(objects, "sparky-config")["data"]["sparky.toml"], encoding="utf-8")
    config = load_config(path)
    assert config.data_dir == Path("/var/lib/sparky/data")
    assert config.output_dir == Path("/var/lib/sparky/output")
    assert str(config.llm.base_url).rstrip("/") == "http://ollama:11434"
    monkeypatch.setenv("OLLAMA_HOST", _config_map(objects, "sparky-env")["data"]["OLLAMA_HOST"])
    assert config.ollama_url.rstrip("/") == "http://ollama:11434"

    ollama = _one(objects, "Deployment", "ollama")["spec"]["template"]["spec"]
    (init,) = ollama["initContainers"]
    assert _env(init)["SPARKY_MODEL"] == config.llm.model  # the model the init container pulls


def test_ollama_on_the_gpu(overlay: str, objects: list[dict[str, Any]]) -> None:
    deployment = _one(objects, "Deployment", "ollama")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("ollama/ollama:") and ":latest" not in container["image"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/version", "port": "http"}
    assert _env(container)["OLLAMA_MODELS"] == "/models"
    assert _one(objects, "Service", "ollama")["spec"]["ports"][0]["port"] == 11434
    limits = container["resources"]["limits"]
    if overlay == "dgx":
        assert limits["nvidia.com/gpu"] == 1
        assert pod["runtimeClassName"] == "nvidia"
        assert pod["nodeSelector"] == DGX_NODE_SELECTOR
        assert GPU_TOLERATION in pod["tolerations"]
    else:
        assert "nvidia.com/gpu" not in limits and "runtimeClassName" not in pod


def test_storage_per_overlay(overlay: str, objects: list[dict[str, Any]]) -> None:
    data = _one(objects, "PersistentVolumeClaim", "sparky-data")["spec"]
    # Both overlays are single-node local-path clusters: RWO (the base says RWX for the rest).
    assert data["storageClassName"] == "local-path"
    assert data["accessModes"] == ["ReadWriteOnce"]
    if overlay == "dgx":  # local-path data: the code server sits where the run pods land
        user_code = _one(objects, "Deployment", "sparky-user-code")["spec"]["template"]["spec"]
        assert user_code["nodeSelector"] == DGX_NODE_SELECTOR
    pg = _one(objects, "StatefulSet", "postgres")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert pg["storageClassName"] == "local-path"


def test_base_data_volume_is_read_write_many() -> None:
    pvc = yaml.safe_load((K8S / "base" / "data-pvc.yaml").read_text(encoding="utf-8"))
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


# --- the image and the k3d cluster --------------------------------------------------------------


def test_dockerfile_and_dockerignore() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "FROM ${PYTHON_IMAGE} AS install" in text
    assert "USER 10001:10001" in text
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in text
    assert "SPARKY_CONFIG=/etc/sparky/sparky.toml" in text
    assert "--no-install-recommends git" in text
    assert "EXPOSE 3000 4000" in text
    for path in ("sparky_assets", "sparky_resources", "docs/metrics.md", "workspace.yaml"):
        assert (ROOT / path).exists(), path
        assert f"COPY {path}" in text or f" {path} " in text, path
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", "data", "output", ".dagster"} <= ignored


def test_k3d_cluster_config_maps_the_webserver_port() -> None:
    cluster = yaml.safe_load((DEPLOY / "k3d" / "cluster.yaml").read_text(encoding="utf-8"))
    assert (cluster["apiVersion"], cluster["kind"]) == ("k3d.io/v1alpha5", "Simple")
    assert (cluster["servers"], cluster["agents"]) == (1, 1)
    objects = _RENDERED.get("local") or _render("local")
    node_port = _one(objects, "Service", "dagster-webserver")["spec"]["ports"][0]["nodePort"]
    assert any(p["port"].endswith(f":{node_port}") for p in cluster["ports"])


# --- a tainted DGX (issue 19, items 1 and 2) ---------------------------------------------------

CONTROL_PLANE = (
    ("StatefulSet", "postgres"),
    ("Deployment", "dagster-webserver"),
    ("Deployment", "dagster-daemon"),
)
AVOID_GPU_NODES = {
    "weight": 100,
    "preference": {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.present", "operator": "NotIn", "values": ["true"]}
        ]
    },
}


def test_dgx_control_plane_tolerates_the_taint_and_prefers_cpu_nodes() -> None:
    """Layout (a), one tainted DGX: Postgres, webserver and daemon tolerate the taint. Layout
    (b), GPU plus CPU nodes: they prefer nodes without the GPU label, and nothing requires one."""
    objects = _RENDERED.get("dgx") or _render("dgx")
    for kind, name in CONTROL_PLANE:
        pod = _one(objects, kind, name)["spec"]["template"]["spec"]
        assert GPU_TOLERATION in pod["tolerations"], name
        node_affinity = pod["affinity"]["nodeAffinity"]
        assert node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] == [
            AVOID_GPU_NODES
        ], name
        assert "requiredDuringSchedulingIgnoredDuringExecution" not in node_affinity, name
        assert not pod.get("nodeSelector"), name
    # GPU work and what shares its local-path volume stay on the GPU nodes.
    for name in ("ollama", "sparky-user-code"):
        pod = _one(objects, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == DGX_NODE_SELECTOR, name
        assert GPU_TOLERATION in pod["tolerations"], name


def test_local_control_plane_has_no_dgx_scheduling() -> None:
    objects = _RENDERED.get("local") or _render("local")
    for kind, name in CONTROL_PLANE:
        pod = _one(objects, kind, name)["spec"]["template"]["spec"]
        assert not pod.get("tolerations") and not pod.get("affinity"), name


def test_dgx_ships_the_runtime_class_and_the_device_plugin() -> None:
    """k3s registers the `nvidia` containerd runtime but not nvidia as the default, so the device
    plugin must start under runtimeClassName nvidia, on GPU nodes only, tolerating the taint."""
    objects = _RENDERED.get("dgx") or _render("dgx")
    runtime_class = _one(objects, "RuntimeClass", "nvidia")
    assert runtime_class["apiVersion"] == "node.k8s.io/v1"
    assert runtime_class["handler"] == "nvidia"
    plugin = _one(objects, "DaemonSet", "nvidia-device-plugin-daemonset")
    assert plugin["metadata"]["namespace"] == "kube-system"
    pod = plugin["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == runtime_class["metadata"]["name"]
    assert pod["nodeSelector"] == DGX_NODE_SELECTOR
    assert GPU_TOLERATION in pod["tolerations"]
    assert pod["priorityClassName"] == "system-node-critical"
    (container,) = pod["containers"]
    repository, _, tag = container["image"].rpartition(":")
    assert repository == "nvcr.io/nvidia/k8s-device-plugin"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), "pin a released version"
    (mount,) = container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert mount["mountPath"] == volume["hostPath"]["path"] == "/var/lib/kubelet/device-plugins"
    local = _RENDERED.get("local") or _render("local")
    assert not [o for o in local if o["kind"] in ("RuntimeClass", "DaemonSet")]


# --- a start that doesn't fight itself (issue 19, item 5) -----------------------------------------


def test_webserver_and_daemon_wait_for_postgres(objects: list[dict[str, Any]]) -> None:
    service = _one(objects, "Service", "postgres")
    port = service["spec"]["ports"][0]["port"]
    statefulset = _one(objects, "StatefulSet", "postgres")["spec"]["template"]["spec"]
    pg_image = statefulset["containers"][0]["image"]
    assert pg_image == POSTGRES_IMAGE
    for name in ("dagster-webserver", "dagster-daemon"):
        pod = _one(objects, "Deployment", name)["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["image"] == pg_image, name  # no new image to pull or bundle
        script = " ".join([*init.get("command", []), *init.get("args", [])])
        assert "until pg_isready" in script, name
        assert f"-h {service['metadata']['name']}" in script, name
        assert f"-p {port}" in script, name


def test_generated_config_maps_roll_the_pods(objects: list[dict[str, Any]]) -> None:
    """Every generated ConfigMap but sparky-config carries a hash suffix, and every pod
    reference names the hashed ConfigMap (a config change makes a new pod template)."""
    for path in K8S.rglob("kustomization.yaml"):
        assert "disableNameSuffixHash: true\n" not in path.read_text(encoding="utf-8").replace(
            "    options:\n      disableNameSuffixHash: true\n", ""
        ), path
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    for name in names:
        if name in UNHASHED_CONFIG_MAPS:
            continue
        assert HASHED.match(name), f"ConfigMap {name} has no hash suffix"
        assert _unhashed(name) in {"dagster-instance", "dagster-workspace", "sparky-env"}
    referenced: set[str] = set()
    for _, pod in _pod_specs(objects):
        referenced |= {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
        for c in _containers(pod):
            referenced |= {
                s["configMapRef"]["name"] for s in c.get("envFrom", []) if "configMapRef" in s
            }
    assert referenced <= names
    assert {_unhashed(n) for n in referenced} == {
        "dagster-instance",
        "dagster-workspace",
        "sparky-config",
        "sparky-env",
    }


def test_an_images_override_changes_every_sparky_image(tmp_path: Path) -> None:
    """A user's overlay on top of the DGX one with its own `images:` entry: every container
    running Sparky and the run pods' DAGSTER_CURRENT_IMAGE follow it."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    overlay = tmp_path / "mine"
    overlay.mkdir()
    base = Path(__import__("os").path.relpath(K8S / "overlays" / "dgx", overlay))
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [str(base)],
                "images": [
                    {"name": "sparky", "newName": "registry.example/sparky", "newTag": "9.9.9"}
                ],
            }
        ),
        encoding="utf-8",
    )
    out = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    mine = [doc for doc in yaml.safe_load_all(out) if doc]
    wanted = "registry.example/sparky:9.9.9"
    sparky_images = [
        c["image"]
        for _, pod in _pod_specs(mine)
        for c in _containers(pod)
        if "sparky" in c["image"].split("/")[-1]
    ]
    # The webserver, the daemon and the code server (the run pods: DAGSTER_CURRENT_IMAGE).
    assert len(sparky_images) == 3
    assert set(sparky_images) == {wanted}
    assert _env(_container(mine, "sparky-user-code"))["DAGSTER_CURRENT_IMAGE"] == wanted
    # Nothing else was renamed.
    assert (
        _one(mine, "StatefulSet", "postgres")["spec"]["template"]["spec"]["containers"][0]["image"]
        == POSTGRES_IMAGE
    )


def test_dgx_instance_is_the_base_instance() -> None:
    """The DGX has no dagster.yaml of its own: its run pods differ through the code server's
    container context (checked on the launched Job above), not through a copy of the file."""
    assert not (K8S / "overlays" / "dgx" / "dagster.yaml").exists()
    dgx = _RENDERED.get("dgx") or _render("dgx")
    local = _RENDERED.get("local") or _render("local")
    assert _dagster_yaml(dgx) == _dagster_yaml(local)
    base = yaml.safe_load((K8S / "base" / "dagster.yaml").read_text(encoding="utf-8"))
    assert _dagster_yaml(dgx) == base
    assert "node_selector" not in json.dumps(base)  # k3d has no GPU label
    context = json.loads(_env(_container(dgx, "sparky-user-code"))["DAGSTER_CONTAINER_CONTEXT"])
    pod_spec = context["k8s"]["run_k8s_config"]["pod_spec_config"]
    assert pod_spec["node_selector"] == DGX_NODE_SELECTOR
    assert "DAGSTER_CONTAINER_CONTEXT" not in _env(_container(local, "sparky-user-code"))
