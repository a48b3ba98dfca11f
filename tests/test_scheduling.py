"""Where the rendered pods land: the scheduler model (tests/k8s_scheduler.py) on three node sets.

- one DGX, tainted `nvidia.com/gpu=present:NoSchedule` (the usual DGX setup): everything on it;
- the same DGX plus an untainted CPU node: the control plane (Postgres, webserver, daemon) on
  the CPU node, the GPU pods on the DGX;
- k3d (deploy/k3d/cluster.yaml): a server and an agent, untainted, no GPU.

Every pod of the rendering lands, plus the run pods the real K8sRunLauncher builds from the
rendered dagster.yaml (as many as `max_concurrent_runs`). The model itself is unit-tested first
on hand-made cases, so that a bug in it cannot make the deploy checks pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from k8s_scheduler import (
    GPU,
    Node,
    Pod,
    Schedule,
    Taint,
    matches_expression,
    pod_requests,
    pods_of,
    schedule,
    tolerates,
)
from test_deploy import _dagster_yaml, _launch_run_job, _render

GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}

# --- node sets ---------------------------------------------------------------------------------


def _dgx() -> Node:
    """A DGX (8 GPUs, 224 CPUs, 2 TiB) under k3s with the NVIDIA toolkit: GPU feature discovery's
    label, the usual GPU taint, and k3s's `nvidia` runtime handler next to runc."""
    return Node(
        name="dgx",
        labels={
            "kubernetes.io/hostname": "dgx",
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "nvidia.com/gpu.present": "true",
        },
        taints=(GPU_TAINT,),
        allocatable={"cpu": "224", "memory": "2Ti", GPU: "8", "pods": "110"},
        runtimes=frozenset({"runc", "nvidia"}),
    )


def _cpu_node() -> Node:
    return Node(
        name="cpu",
        labels={
            "kubernetes.io/hostname": "cpu",
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        },
        taints=(),
        allocatable={"cpu": "16", "memory": "64Gi", "pods": "110"},
    )


def _k3d_node(name: str, server: bool) -> Node:
    """A k3d node (rancher/k3s:v1.31 in a container): untainted (k3s servers are schedulable by
    default, docs.k3s.io/datastore/ha), no GPU; each node reports the host's CPUs and memory,
    here a modest laptop's (8 CPUs, 16 GiB)."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    if server:
        labels["node-role.kubernetes.io/control-plane"] = "true"
        labels["node-role.kubernetes.io/master"] = "true"
    return Node(name, labels, (), {"cpu": "8", "memory": "16Gi", "pods": "110"})


NODE_SETS: dict[str, tuple[str, list[Node]]] = {
    "one-dgx": ("dgx", [_dgx()]),
    # The DGX is listed first: among equally scored nodes the model takes the first, so only a
    # real preference keeps the control plane off the GPUs.
    "dgx-plus-cpu": ("dgx", [_dgx(), _cpu_node()]),
    "k3d": (
        "local",
        [_k3d_node("k3d-sparky-server-0", True), _k3d_node("k3d-sparky-agent-0", False)],
    ),
}
CONTROL_PLANE = (
    "StatefulSet/postgres",
    "Deployment/dagster-webserver",
    "Deployment/dagster-daemon",
)

# --- the model on hand-made cases ---------------------------------------------------------------


def _node(name: str, taints: tuple[Taint, ...] = (), gpus: int = 0, **labels: str) -> Node:
    allocatable = {"cpu": "4", "memory": "8Gi"}
    if gpus:
        allocatable[GPU] = str(gpus)
    runtimes = frozenset({"runc", "nvidia"} if gpus else {"runc"})
    return Node(name, labels, taints, allocatable, runtimes)


def _pod(name: str = "p", claims: Sequence[str] = (), **spec: Any) -> Pod:
    spec.setdefault("containers", [{"name": "c", "resources": {"requests": {"cpu": "1"}}}])
    return Pod(name, f"Pod/{name}", spec, tuple(claims))


def _deployment(name: str, spec: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "resources": {"requests": {"cpu": "1"}}}])
    return {
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": spec}},
    }


def _place(
    pods: Sequence[Pod], nodes: Sequence[Node], objects: Sequence[dict[str, Any]] = ()
) -> Schedule:
    return schedule(list(objects), nodes, extra_pods=pods)


def test_a_tainted_node_refuses_a_pod_without_the_toleration() -> None:
    result = _place([_pod()], [_node("gpu", (GPU_TAINT,))])
    (placement,) = result.unplaced()
    assert placement.refusals == {"gpu": ["untolerated taint {nvidia.com/gpu: present}:NoSchedule"]}
    placed = _place([_pod(tolerations=[GPU_TOLERATION])], [_node("gpu", (GPU_TAINT,))])
    assert placed.node_of("p") == "gpu"


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"operator": "Exists"}, Taint("anything", "x", "NoExecute"), True),  # empty key: all
        ({"key": "k", "operator": "Equal", "value": "v"}, Taint("k", "v"), True),
        ({"key": "k", "value": "v"}, Taint("k", "v"), True),  # Equal is the default
        ({"key": "k", "operator": "Equal", "value": "w"}, Taint("k", "v"), False),
        ({"key": "k", "operator": "Exists"}, Taint("k", "v"), True),
        ({"key": "k", "operator": "Exists"}, Taint("other", "v"), False),
        ({"key": "k", "operator": "Exists"}, Taint("k", "v", "NoExecute"), True),  # any effect
        (
            {"key": "k", "operator": "Exists", "effect": "NoSchedule"},
            Taint("k", "v", "NoExecute"),
            False,
        ),
        (
            {"key": "k", "operator": "Exists", "effect": "NoExecute"},
            Taint("k", "v", "NoExecute"),
            True,
        ),
    ],
)
def test_toleration_matching(toleration: dict[str, str], taint: Taint, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_no_execute_filters_and_prefer_no_schedule_does_not() -> None:
    no_execute = _node("a", (Taint("k", "v", "NoExecute"),))
    assert _place([_pod()], [no_execute]).unplaced()
    prefer = _node("b", (Taint("k", "v", "PreferNoSchedule"),))
    assert _place([_pod()], [prefer]).node_of("p") == "b"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
        ({"key": "zone", "operator": "In", "values": ["b"]}, False),
        ({"key": "zone", "operator": "NotIn", "values": ["b"]}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
        ({"key": "absent", "operator": "NotIn", "values": ["a"]}, True),
        ({"key": "absent", "operator": "In", "values": ["a"]}, False),
        ({"key": "zone", "operator": "Exists"}, True),
        ({"key": "absent", "operator": "Exists"}, False),
        ({"key": "absent", "operator": "DoesNotExist"}, True),
        ({"key": "zone", "operator": "DoesNotExist"}, False),
        ({"key": "gpus", "operator": "Gt", "values": ["7"]}, True),
        ({"key": "gpus", "operator": "Gt", "values": ["8"]}, False),
        ({"key": "gpus", "operator": "Lt", "values": ["9"]}, True),
        ({"key": "gpus", "operator": "Lt", "values": ["8"]}, False),
        ({"key": "zone", "operator": "Gt", "values": ["1"]}, False),  # not an integer
        ({"key": "absent", "operator": "Lt", "values": ["1"]}, False),
    ],
)
def test_node_selector_operators(expression: dict[str, Any], expected: bool) -> None:
    assert matches_expression(expression, {"zone": "a", "gpus": "8"}) is expected


def _required(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": t} for t in terms]
            }
        }
    }


def test_required_affinity_terms_are_ored_and_expressions_anded() -> None:
    nodes = [_node("a", zone="a", disk="ssd"), _node("b", zone="b", disk="hdd")]
    not_a = _required([{"key": "zone", "operator": "NotIn", "values": ["a"]}])
    assert _place([_pod(affinity=not_a)], nodes).node_of("p") == "b"
    anded = _required(
        [
            {"key": "zone", "operator": "In", "values": ["a"]},
            {"key": "disk", "operator": "In", "values": ["hdd"]},
        ]
    )
    assert _place([_pod(affinity=anded)], nodes).unplaced()
    ored = _required(
        [{"key": "zone", "operator": "In", "values": ["x"]}],
        [{"key": "disk", "operator": "In", "values": ["hdd"]}],
    )
    assert _place([_pod(affinity=ored)], nodes).node_of("p") == "b"


def test_node_selector_must_match_every_label() -> None:
    nodes = [_node("a", zone="a"), _node("b", zone="b", disk="ssd")]
    assert _place([_pod(nodeSelector={"zone": "b", "disk": "ssd"})], nodes).node_of("p") == "b"
    refused = _place([_pod(nodeSelector={"zone": "a", "disk": "ssd"})], nodes).unplaced()
    assert refused[0].refusals["a"] == ["didn't match nodeSelector disk=ssd"]


def test_preferred_affinity_picks_the_best_score_and_ties_go_to_the_first_node() -> None:
    nodes = [_node("gpu", gpus=1, gpu="yes"), _node("cpu1"), _node("cpu2")]
    assert _place([_pod()], nodes).node_of("p") == "gpu"  # all score 0: the first
    avoid_gpu = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 10,
                    "preference": {
                        "matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]
                    },
                },
                {
                    "weight": 1,
                    "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
                },
            ]
        }
    }
    assert _place([_pod(affinity=avoid_gpu)], nodes).node_of("p") == "cpu1"


def test_gpu_capacity_is_consumed_and_then_exhausted() -> None:
    wants_gpu = {"containers": [{"name": "c", "resources": {"limits": {GPU: 1, "cpu": "1"}}}]}
    pods = [_pod(f"g{i}", **wants_gpu) for i in range(3)]
    result = _place(pods, [_node("cpu"), _node("gpu", gpus=2)])
    assert [result.node_of(f"g{i}") for i in range(3)] == ["gpu", "gpu", None]
    (refused,) = result.unplaced()
    assert refused.refusals == {
        "cpu": ["Insufficient nvidia.com/gpu"],
        "gpu": ["Insufficient nvidia.com/gpu"],
    }


def test_cpu_and_memory_requests_count_init_containers_as_the_max() -> None:
    spec = {
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}],
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "3Gi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "1", "memory": "3Gi"}}},
        ],
    }
    requests = pod_requests(spec)
    assert requests["cpu"] == 3  # max(1.5, 3)
    assert requests["memory"] == 6 * 2**30  # max(6Gi, 1Gi)
    # 4 CPUs: the first (3) fits, the second does not; memory 8Gi: 6Gi + 6Gi would not either.
    result = _place([_pod("x", **spec), _pod("y", **spec)], [_node("n")])
    assert result.node_of("x") == "n"
    assert result.unplaced()[0].refusals == {"n": ["Insufficient cpu", "Insufficient memory"]}


def test_runtime_class_needs_the_handler_on_every_node_the_scheduler_may_pick() -> None:
    nodes = [_node("cpu"), _node("gpu", gpus=1, gpu="yes")]
    loose = _place([_pod(runtimeClassName="nvidia")], nodes)
    assert loose.unplaced()[0].refusals["cpu"] == [
        "feasible, but its runtime has no handler 'nvidia'"
    ]
    pinned = _place([_pod(runtimeClassName="nvidia", nodeSelector={"gpu": "yes"})], nodes)
    assert pinned.node_of("p") == "gpu"
    # A RuntimeClass shipped with scheduling.nodeSelector pins the pod itself.
    runtime_class = {
        "kind": "RuntimeClass",
        "metadata": {"name": "nvidia"},
        "handler": "nvidia",
        "scheduling": {"nodeSelector": {"gpu": "yes"}, "tolerations": [GPU_TOLERATION]},
    }
    tainted = [_node("cpu"), _node("gpu", (GPU_TAINT,), gpus=1, gpu="yes")]
    via_class = _place([_pod(runtimeClassName="nvidia")], tainted, [runtime_class])
    assert via_class.node_of("p") == "gpu"


def test_a_local_path_claim_binds_to_the_first_consumer_node() -> None:
    pvc = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"storageClassName": "local-path"},
    }
    nfs = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "shared"},
        "spec": {"storageClassName": "nfs"},
    }
    nodes = [_node("a", zone="a"), _node("b", zone="b")]
    first = _pod("first", claims=["data", "shared"], nodeSelector={"zone": "b"})
    follower = _pod("follower", claims=["data"])  # would take "a" (first of ties) if unbound
    against = _pod("against", claims=["data"], nodeSelector={"zone": "a"})
    elsewhere = _pod("elsewhere", claims=["shared"], nodeSelector={"zone": "a"})
    result = _place([first, follower, against, elsewhere], nodes, [pvc, nfs])
    assert (result.node_of("first"), result.node_of("follower")) == ("b", "b")
    assert result.node_of("against") is None
    assert "volume data is bound to b" in result.unplaced()[0].refusals["a"]
    assert result.node_of("elsewhere") == "a"  # not node-local storage: no pin


def test_statefulset_claims_are_per_ordinal_and_default_to_the_default_class() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "c"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
        },
    }
    assert [(p.name, p.claims) for p in pods_of(sts)] == [
        ("db-0", ("data-db-0",)),
        ("db-1", ("data-db-1",)),
    ]
    result = schedule([sts], [_node("a"), _node("b")])
    assert result.node_of("db-0") == result.node_of("db-1") == "a"


def test_daemonset_runs_on_each_tolerated_node_and_skips_the_others() -> None:
    daemon = {
        "kind": "DaemonSet",
        "metadata": {"name": "plugin"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c"}], "tolerations": [GPU_TOLERATION]}}
        },
    }
    strict = {
        "kind": "DaemonSet",
        "metadata": {"name": "strict"},
        "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}},
    }
    nodes = [_node("cpu"), _node("gpu", (GPU_TAINT,), gpus=1), _node("tainted", (Taint("x", "y"),))]
    result = schedule([daemon, strict], nodes)
    assert not result.unplaced()
    assert sorted(p.node or "" for p in result.by_owner("DaemonSet/plugin")) == ["cpu", "gpu"]
    assert [p.node for p in result.by_owner("DaemonSet/strict")] == ["cpu"]


def test_deployment_replicas_each_take_their_share() -> None:
    deployment = _deployment("web", {}, replicas=5)  # 1 CPU each, 4 CPUs per node
    result = schedule([deployment], [_node("a"), _node("b")])
    assert [p.node for p in result.by_owner("Deployment/web")] == ["a", "a", "a", "a", "b"]


def test_unmodelled_scheduling_features_are_refused() -> None:
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"x": 1}]}}
    with pytest.raises(NotImplementedError):
        _place([_pod(affinity=anti)], [_node("a")])
    with pytest.raises(NotImplementedError):
        _place([_pod(topologySpreadConstraints=[{"maxSkew": 1}])], [_node("a")])


# --- the renderings on the three node sets ---------------------------------------------------

_RENDERINGS: dict[str, list[dict[str, Any]]] = {}


def _rendering(overlay: str) -> list[dict[str, Any]]:
    if overlay not in _RENDERINGS:
        _RENDERINGS[overlay] = _render(overlay)
    return _RENDERINGS[overlay]


def _max_concurrent_runs(objects: list[dict[str, Any]]) -> int:
    """How many run pods can exist at once: `concurrency.runs.max_concurrent_runs` (or the run
    coordinator's own setting) in the rendered dagster.yaml."""
    config = _dagster_yaml(objects)
    runs = (config.get("concurrency") or {}).get("runs") or {}
    coordinator = (config.get("run_coordinator") or {}).get("config") or {}
    limit = runs.get("max_concurrent_runs", coordinator.get("max_concurrent_runs"))
    assert isinstance(limit, int) and limit > 0, "dagster.yaml caps concurrent runs"
    return limit


@pytest.fixture(params=list(NODE_SETS))
def node_set(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def placed(node_set: str, monkeypatch: pytest.MonkeyPatch) -> Schedule:
    return _place_rendering(node_set, monkeypatch)


def _place_rendering(node_set: str, monkeypatch: pytest.MonkeyPatch) -> Schedule:
    """The node set's overlay, plus `max_concurrent_runs` run pods built by the real launcher."""
    overlay, nodes = NODE_SETS[node_set]
    objects = _rendering(overlay)
    job = _launch_run_job(objects, monkeypatch)
    job["metadata"]["name"] = "dagster-run"
    runs = [
        Pod(f"dagster-run-{i}", "Job/dagster-run", p.spec, p.claims)
        for i in range(_max_concurrent_runs(objects))
        for p in pods_of(job)
    ]
    return schedule(objects, nodes, extra_pods=runs)


def _gpu_nodes(node_set: str) -> set[str]:
    return {n.name for n in NODE_SETS[node_set][1] if n.has_gpu}


def test_every_pod_lands(node_set: str, placed: Schedule) -> None:
    owners = {p.pod.owner for p in placed.placements}
    for expected in (
        *CONTROL_PLANE,
        "Deployment/sparky-user-code",
        "Deployment/ollama",
        "Job/dagster-run",
    ):
        assert expected in owners, f"{expected} was not simulated"
    assert len(placed.by_owner("Job/dagster-run")) >= 1
    failures = [p.reason() for p in placed.unplaced()]
    assert not failures, f"on node set {node_set}:\n" + "\n".join(failures)


def test_gpu_pods_land_only_on_gpu_nodes(node_set: str, placed: Schedule) -> None:
    gpu_nodes = _gpu_nodes(node_set)
    checked = 0
    for p in placed.placements:
        wants_gpu = pod_requests(p.pod.spec).get(GPU, 0) > 0
        if (wants_gpu or p.pod.spec.get("runtimeClassName") == "nvidia") and p.node is not None:
            assert p.node in gpu_nodes, f"{p.pod.name} on {p.node}, not a GPU node"
            checked += 1
    if gpu_nodes:  # Ollama at least, once it lands
        assert checked >= 1 or placed.unplaced()


def test_the_dgx_overlay_gives_ollama_a_gpu(node_set: str, placed: Schedule) -> None:
    (ollama,) = placed.by_owner("Deployment/ollama")
    wants_gpu = pod_requests(ollama.pod.spec).get(GPU, 0) > 0
    assert wants_gpu is (NODE_SETS[node_set][0] == "dgx")


def test_the_control_plane_stays_off_the_gpus_when_a_cpu_node_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    placed = _place_rendering("dgx-plus-cpu", monkeypatch)
    for owner in CONTROL_PLANE:
        (p,) = placed.by_owner(owner)
        assert p.node == "cpu", f"{owner} on {p.node}: " + (p.reason() if p.node is None else "")


def test_pods_mounting_sparky_data_share_a_node(placed: Schedule) -> None:
    """Read from the pods' own volumes, not from the model's bindings."""
    sharing = [
        p
        for p in placed.placements
        if any(
            v.get("persistentVolumeClaim", {}).get("claimName") == "sparky-data"
            for v in p.pod.spec.get("volumes") or []
        )
    ]
    owners = {p.pod.owner for p in sharing}
    assert {"Deployment/sparky-user-code", "Job/dagster-run"} <= owners
    nodes = {p.node for p in sharing}
    assert len(nodes) == 1 and None not in nodes, {p.pod.name: p.node for p in sharing}
