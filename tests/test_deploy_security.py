"""Least privilege in both renderings (issue 19, item 4): RBAC, tokens, NetworkPolicies.

- The Role grants exactly the Kubernetes API calls dagster-k8s's K8sRunLauncher makes. That set
  is measured, not copied: the real launcher runs launch_run, check_run_worker_health,
  get_run_worker_debug_info and terminate against a loopback API server that records each HTTP
  request, and each request is mapped to (API group, resource, verb) by Kubernetes' documented
  rules for request verbs.
- Only the launcher's ServiceAccount is bound; only the webserver and daemon mount a token; the run
  Job built by the real launcher mounts none and runs as a ServiceAccount with no Role.
- A small NetworkPolicy evaluator proves the intended allow/deny matrix for every (source pod,
  destination pod, port).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from test_deploy import (
    _RENDERED,
    NAMESPACE,
    OVERLAYS,
    _launch_run_job,
    _one,
    _pod_specs,
    _render,
)

LAUNCHER_SA = "sparky-dagster"
# The pods that call the K8sRunLauncher: the daemon (launch, health, debug info, terminate on a
# start timeout) and the webserver ("Terminate" in the UI deletes the run's Job and pods).
LAUNCHER_PODS = {"Deployment/dagster-webserver", "Deployment/dagster-daemon"}
RUN = "run"  # the run pod, built by the launcher, in the matrices below
EXTERNAL = "outside"  # port-forward, NodePort, anything not a pod of the namespace


@pytest.fixture(params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    if request.param not in _RENDERED:
        _RENDERED[request.param] = _render(request.param)
    return _RENDERED[request.param]


def _instance_yaml(objects: list[dict[str, Any]]) -> dict[str, Any]:
    import yaml

    (cm,) = [o for o in objects if o["kind"] == "ConfigMap" and "dagster.yaml" in o["data"]]
    return yaml.safe_load(cm["data"]["dagster.yaml"])


def _daemon_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The plain env of the daemon's container (envFrom ConfigMaps, then env values): what
    dagster.yaml's `{env: ...}` fields resolve against where the launcher runs."""
    present = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    spec = _one(objects, "Deployment", "dagster-daemon")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(present[source["configMapRef"]["name"]]["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


# --- the API calls dagster-k8s makes, measured ---------------------------------------------------


class _FakeKubernetes(ThreadingHTTPServer):
    """A loopback Kubernetes API server: one Job whose single pod failed, answered in the API's
    JSON, and every request recorded as (method, path, query)."""

    def __init__(self, with_pods: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.with_pods = with_pods
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _FakeKubernetes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.server.requests.append((method, url.path, urllib.parse.parse_qs(url.query)))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        status, payload = self._route(method, url.path.strip("/").split("/"), body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        content_type = "text/plain" if isinstance(payload, bytes) else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        pod = {
            "metadata": {"name": "run-pod"},
            "spec": {"containers": [{"name": "dagster"}]},
            "status": {
                "phase": "Failed",
                "containerStatuses": [
                    {
                        "name": "dagster",
                        "image": "sparky",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"exitCode": 1}},
                    }
                ],
            },
        }
        job = {
            "metadata": {"name": "the-job"},
            "status": {"failed": 1, "startTime": "2025-01-06T06:00:00Z"},
        }
        rest = parts[parts.index("namespaces") + 2 :]  # <resource>[/<name>[/<subresource>]]
        resource, subresource = rest[0], rest[2] if len(rest) > 2 else None
        if subresource == "log":
            return 200, b"Traceback: boom\n"
        if method == "POST":
            return 201, body
        if method == "DELETE":
            return 200, pod if resource == "pods" else {"kind": "Status", "status": "Success"}
        if subresource == "status":
            return 200, job
        if resource == "pods":
            return 200, {"items": [pod] if self.server.with_pods else []}
        if resource == "jobs":
            return 200, {"items": [job]}
        if resource == "events":
            return 200, {"items": []}
        return 404, {"kind": "Status", "status": "Failure", "code": 404}

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_PATCH(self) -> None:
        self._answer("PATCH")


def _rbac_of(method: str, path: str, query: dict[str, list[str]]) -> tuple[str, str, str]:
    """(API group, resource[/subresource], verb) of one request, by Kubernetes' rules:
    https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb
    (a GET of a collection is `list`, or `watch` with ?watch=true; a DELETE of a collection is
    `deletecollection`; POST is `create`, PUT `update`, PATCH `patch`)."""
    parts = path.strip("/").split("/")
    # /api/v1/namespaces/<ns>/<resource>[/<name>[/<sub>]] or /apis/<group>/<version>/namespaces/...
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[parts.index("namespaces") + 2 :]
    resource = "/".join([rest[0], *rest[2:]])
    named = len(rest) > 1
    if method == "GET":
        verb = "get" if named else ("watch" if query.get("watch") == ["true"] else "list")
    elif method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]
    return group, resource, verb


def _origin() -> Any:
    """Where the run's code lives (the code server's module, its image)."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin

    return JobPythonOrigin(
        "daily_digest_job",
        RepositoryPythonOrigin(
            executable_path="/opt/venv/bin/python",
            code_pointer=ModuleCodePointer(
                "sparky_assets.definitions", "defs", working_directory="/opt/sparky"
            ),
            container_image="sparky:0.1.0",
        ),
    )


def _calls_of_the_launcher(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) the rendered K8sRunLauncher uses: a run launched, its health
    checked, its debug info read (with and without pods), then terminated."""
    import kubernetes
    from dagster._config import process_config
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.test_utils import create_run_for_test, instance_for_test
    from dagster_k8s import K8sRunLauncher

    for name, value in _daemon_env(objects).items():
        monkeypatch.setenv(name, value)
    config = _instance_yaml(objects)["run_launcher"]["config"]
    processed = process_config(K8sRunLauncher.config_type(), config)
    assert processed.success, [e.message for e in processed.errors]
    monkeypatch.setattr("dagster_k8s.launcher.load_kubernetes_config", lambda **_: None)

    seen: set[tuple[str, str, str]] = set()
    for with_pods in (True, False):
        server = _FakeKubernetes(with_pods)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            api = kubernetes.client.ApiClient(
                kubernetes.client.Configuration(host=f"http://127.0.0.1:{server.server_port}")
            )
            launcher = K8sRunLauncher(
                **processed.value,
                k8s_client_batch_api=kubernetes.client.BatchV1Api(api),
                k8s_client_core_api=kubernetes.client.CoreV1Api(api),
            )
            with instance_for_test() as instance:
                launcher.register_instance(instance)
                run = create_run_for_test(
                    instance, job_name="daily_digest_job", job_code_origin=_origin()
                )
                launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
                health = launcher.check_run_worker_health(run)
                assert health.status.value == "FAILED"  # the fake's Job failed: nothing skipped
                info = launcher.get_run_worker_debug_info(run) or ""
                if with_pods:
                    assert "Traceback: boom" in info  # the pod log was fetched
                assert launcher.terminate(run.run_id) is True
        finally:
            server.shutdown()
            server.server_close()
        assert server.requests, "the launcher made no request"
        for method, path, query in server.requests:
            assert f"/namespaces/{NAMESPACE}/" in path, path
            seen.add(_rbac_of(method, path, query))
    return seen


def _granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_role_grants_exactly_what_the_launcher_calls(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    used = _calls_of_the_launcher(objects, monkeypatch)
    # Sanity of the measurement: launching creates a Job; terminating deletes it.
    assert {("batch", "jobs", "create"), ("batch", "jobs", "delete")} <= used
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    assert [r["metadata"]["name"] for r in roles] == [LAUNCHER_SA]
    granted = _granted(roles[0])
    assert granted == used, (
        f"granted but unused: {sorted(granted - used)}; used but not granted: {used - granted}"
    )
    for rule in roles[0]["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        assert not {"secrets", "configmaps"} & set(rule["resources"]), rule


def test_only_the_launchers_service_account_is_bound(objects: list[dict[str, Any]]) -> None:
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert len(bindings) == 1
    (binding,) = bindings
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": LAUNCHER_SA,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": LAUNCHER_SA, "namespace": NAMESPACE}
    ]


def _mounts_token(pod: dict[str, Any], accounts: dict[str, dict[str, Any]]) -> bool:
    """The pod's field wins over its ServiceAccount's; both default to true.
    https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting"""
    if "automountServiceAccountToken" in pod:
        return bool(pod["automountServiceAccountToken"])
    account = accounts.get(pod.get("serviceAccountName", "default"), {})
    return bool(account.get("automountServiceAccountToken", True))


def test_only_the_webserver_and_daemon_mount_a_token(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    pods = dict(_pod_specs(objects))
    assert set(pods) >= LAUNCHER_PODS
    for where, pod in pods.items():
        if where in LAUNCHER_PODS:
            assert pod["serviceAccountName"] == LAUNCHER_SA, where
            assert _mounts_token(pod, accounts), where
        else:
            assert not _mounts_token(pod, accounts), f"{where} mounts an API token"
            assert pod.get("serviceAccountName", "default") != LAUNCHER_SA, where
    code = pods["Deployment/sparky-user-code"]
    assert code["serviceAccountName"] in accounts
    assert accounts[code["serviceAccountName"]].get("automountServiceAccountToken") is False

    # The run pod, as the real launcher builds it from the rendered dagster.yaml.
    for name, value in _daemon_env(objects).items():
        monkeypatch.setenv(name, value)
    run = _launch_run_job(objects, monkeypatch)["spec"]["template"]["spec"]
    assert run["automountServiceAccountToken"] is False
    assert run["serviceAccountName"] in accounts
    assert run["serviceAccountName"] != LAUNCHER_SA
    assert not _mounts_token(run, accounts)
    bound = {s["name"] for o in objects if o["kind"] == "RoleBinding" for s in o["subjects"]}
    assert run["serviceAccountName"] not in bound
    assert code["serviceAccountName"] not in bound


# --- NetworkPolicies -----------------------------------------------------------------------------


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels AND matchExpressions); {} selects every pod."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


Source = tuple[str | None, dict[str, str] | None]  # (namespace, labels); (None, None): no pod


def _peer_matches(peer: dict[str, Any], namespace: str, source: Source) -> bool:
    """One `from` peer of a policy in `namespace`. A podSelector alone selects pods of the
    policy's own namespace; other peers (namespaceSelector, ipBlock) fail the test rather than
    being guessed at."""
    assert set(peer) == {"podSelector"}, f"unsupported peer {peer}"
    source_namespace, labels = source
    return (
        source_namespace == namespace
        and labels is not None
        and _selects(peer["podSelector"], labels)
    )


def _port_matches(rule: dict[str, Any], port: int, container_ports: dict[str, int]) -> bool:
    if "ports" not in rule:
        return True
    for p in rule["ports"]:
        if p.get("protocol", "TCP") != "TCP":
            continue
        wanted = p.get("port")
        if wanted is None or wanted == port or container_ports.get(str(wanted)) == port:
            return True
    return False


def _allowed(
    policies: list[dict[str, Any]],
    source: Source,
    dest: dict[str, str],
    port: int,
    container_ports: dict[str, int],
) -> bool:
    """Kubernetes' ingress semantics: a pod no Ingress policy selects accepts everything; a
    selected pod accepts what any rule of any selecting policy allows (the union).
    https://kubernetes.io/docs/concepts/services-networking/network-policies/
    `dest` is a pod of the policies' namespace."""
    selecting = [
        p
        for p in policies
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], dest)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            namespace = policy["metadata"].get("namespace", NAMESPACE)
            from_ok = not peers or any(_peer_matches(peer, namespace, source) for peer in peers)
            if from_ok and _port_matches(rule, port, container_ports):
                return True
    return False


# The intended matrix (issue 19): (destination, port) -> the sources allowed; everything else
# is denied. EXTERNAL stands for anything that is not a pod (port-forward, NodePort); ANYONE
# for every source, pods of other namespaces included.
ANYONE = "*"
INTENDED: dict[tuple[str, int], set[str]] = {
    ("dagster-webserver", 3000): {ANYONE},
    ("sparky-user-code", 4000): {"dagster-webserver", "dagster-daemon"},
    ("postgres", 5432): {"dagster-webserver", "dagster-daemon", "sparky-user-code", RUN},
    ("ollama", 11434): {RUN, "sparky-user-code"},
}


def _pods_by_name(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, dict[str, str], dict[str, int]]]:
    """(name, namespace, labels, named container ports) of every pod template and the run pod."""
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            template = o["spec"]["template"]
            ports = {
                p["name"]: p["containerPort"]
                for c in template["spec"]["containers"]
                for p in c.get("ports", [])
                if "name" in p
            }
            namespace = o["metadata"].get("namespace", NAMESPACE)
            yield o["metadata"]["name"], namespace, template["metadata"].get("labels", {}), ports
    for name, value in _daemon_env(objects).items():
        monkeypatch.setenv(name, value)
    run = _launch_run_job(objects, monkeypatch)["spec"]["template"]
    yield RUN, NAMESPACE, run["metadata"]["labels"], {}


def test_network_policies_allow_exactly_the_intended_matrix(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert policies and all(p["metadata"]["namespace"] == NAMESPACE for p in policies)
    pods = {name: rest for name, *rest in _pods_by_name(objects, monkeypatch)}
    ours = {name: pod for name, pod in pods.items() if pod[0] == NAMESPACE}
    assert {dest for dest, _ in INTENDED} | {"dagster-daemon", RUN} <= set(ours)
    # Every policy selects some pod (a renamed label would silently select nothing).
    for policy in policies:
        selector = policy["spec"]["podSelector"]
        assert any(_selects(selector, labels) for _, labels, _ in ours.values()), policy[
            "metadata"
        ]["name"]
    ports = sorted({port for _, port in INTENDED} | {8080})  # 8080: a port nobody serves
    sources: dict[str, Source] = {name: (ns, labels) for name, (ns, labels, _) in pods.items()}
    sources[EXTERNAL] = (None, None)
    wrong = []
    for dest, (_, dest_labels, container_ports) in ours.items():
        for port in ports:
            for source, where in sources.items():
                got = _allowed(policies, where, dest_labels, port, container_ports)
                allowed = INTENDED.get((dest, port), set())
                want = ANYONE in allowed or source in allowed
                if got != want:
                    wrong.append(f"{source} -> {dest}:{port} {'allowed' if got else 'denied'}")
    assert not wrong, wrong


def test_the_evaluator_denies_without_policies_only_what_kubernetes_does() -> None:
    """The evaluator itself: no policy allows everything; default-deny alone denies everything;
    a rule without `from` admits every source on its port only."""
    web = {"app.kubernetes.io/name": "dagster-webserver"}
    outside: Source = (None, None)
    assert _allowed([], outside, web, 3000, {})
    meta = {"namespace": NAMESPACE}
    deny = {"metadata": meta, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    assert not _allowed([deny], (NAMESPACE, web), web, 3000, {})
    ui = {"podSelector": {"matchLabels": web}, "ingress": [{"ports": [{"port": "http"}]}]}
    open_ui = {"metadata": meta, "spec": ui}
    assert _allowed([deny, open_ui], outside, web, 3000, {"http": 3000})
    assert not _allowed([deny, open_ui], outside, web, 4000, {"http": 3000})
    # A podSelector peer admits pods of the policy's namespace only.
    db = {"app.kubernetes.io/name": "postgres"}
    only_web = {"from": [{"podSelector": {"matchLabels": web}}]}
    pg = {"metadata": meta, "spec": {"podSelector": {"matchLabels": db}, "ingress": [only_web]}}
    assert _allowed([deny, pg], (NAMESPACE, web), db, 5432, {})
    assert not _allowed([deny, pg], ("kube-system", web), db, 5432, {})
