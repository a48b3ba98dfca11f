"""A small model of kube-scheduler's filtering and scoring, for checking where rendered pods land.

Why: a manifest can pass every schema check and still leave pods Pending on a real cluster (a
DGX's `nvidia.com/gpu:NoSchedule` taint, GPU capacity, a local-path volume pinned to another
node). This module places every pod of a rendering on a described set of nodes, the way the
scheduler's filter plugins would, and says why a pod cannot land.

Modelled (each rule cites the Kubernetes documentation it follows):
- taints and tolerations (NoSchedule and NoExecute filter; PreferNoSchedule does not);
- `nodeSelector`, required node affinity (filter) and preferred node affinity (score);
- requests of cpu, memory and extended resources (`nvidia.com/gpu`) against node allocatable,
  consumed as pods are placed;
- `runtimeClassName`: the node's container runtime must have the handler; a RuntimeClass in the
  rendering contributes its `scheduling` (nodeSelector, tolerations) and `overhead`;
- local-path PersistentVolumeClaims (WaitForFirstConsumer): bound to the node of the first pod
  that mounts them, and later pods that mount them must land there;
- DaemonSets: one pod per node the template tolerates and selects.

Not modelled, and refused loudly (NotImplementedError) so that a manifest relying on them is
never "placed" by a model that ignored the rule: pod (anti-)affinity, topology spread
constraints, `nodeName`, host ports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity  # the Kubernetes client's own quantity parser

GPU = "nvidia.com/gpu"
# Effects the scheduler's TaintToleration filter enforces; PreferNoSchedule only scores.
# https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
FILTERED_EFFECTS = ("NoSchedule", "NoExecute")
# Storage classes whose volumes live on one node's disk and bind when the first pod that mounts
# them is scheduled (volumeBindingMode: WaitForFirstConsumer): k3s's local-path provisioner.
# https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode
# https://docs.k3s.io/storage (local-path is k3s's default StorageClass)
NODE_LOCAL_STORAGE_CLASSES = frozenset({"local-path"})
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
UNSUPPORTED_SPEC_FIELDS = ("nodeName", "topologySpreadConstraints")
UNSUPPORTED_AFFINITY = ("podAffinity", "podAntiAffinity")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def __str__(self) -> str:
        return f"{{{self.key}: {self.value}}}:{self.effect}"


@dataclass(frozen=True)
class Node:
    """A node as the scheduler sees it: labels, taints, allocatable, and the runtime handlers
    its containerd is configured with (k3s adds `nvidia` when it finds the NVIDIA toolkit)."""

    name: str
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    allocatable: Mapping[str, str]
    runtimes: frozenset[str] = frozenset({"runc"})

    def capacity(self) -> dict[str, Decimal]:
        return {k: parse_quantity(v) for k, v in self.allocatable.items()}

    @property
    def has_gpu(self) -> bool:
        return parse_quantity(self.allocatable.get(GPU, "0")) > 0


@dataclass(frozen=True)
class Pod:
    """One pod to place: `owner` names the template it comes from (e.g. `Deployment/ollama`),
    `claims` the PersistentVolumeClaims it mounts (StatefulSet claims resolved per ordinal)."""

    name: str
    owner: str
    spec: Mapping[str, Any]
    claims: tuple[str, ...] = ()


@dataclass
class Placement:
    pod: Pod
    node: str | None
    # Per node, why the pod cannot go there (empty when placed on the first try).
    refusals: dict[str, list[str]] = field(default_factory=dict)

    def reason(self) -> str:
        """Like the scheduler's FailedScheduling event: `0/2 nodes are available: ...`."""
        parts = [f"{node}: {'; '.join(why)}" for node, why in self.refusals.items()]
        return f"{self.pod.name}: 0/{len(self.refusals)} nodes are available: " + ", ".join(parts)


@dataclass
class Schedule:
    placements: list[Placement]

    def node_of(self, pod_name: str) -> str | None:
        (found,) = [p for p in self.placements if p.pod.name == pod_name]
        return found.node

    def unplaced(self) -> list[Placement]:
        return [p for p in self.placements if p.node is None]

    def by_owner(self, owner: str) -> list[Placement]:
        return [p for p in self.placements if p.pod.owner == owner]


# --- taints and tolerations ----------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/: a toleration matches
    a taint when keys and effects match and, with operator Equal (the default), the values match;
    operator Exists ignores the value. An empty key with Exists matches every key; an empty
    effect matches every effect."""
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    if operator == "Exists":
        return key in ("", taint.key)
    if operator == "Equal":
        return key == taint.key and (toleration.get("value") or "") == taint.value
    raise ValueError(f"toleration operator {operator!r} is not Equal or Exists")


def untolerated_taints(spec: Mapping[str, Any], node: Node) -> list[Taint]:
    tolerations = spec.get("tolerations") or []
    return [
        t
        for t in node.taints
        if t.effect in FILTERED_EFFECTS and not any(tolerates(tol, t) for tol in tolerations)
    ]


# --- nodeSelector and node affinity ---------------------------------------------------------------


def matches_expression(expression: Mapping[str, Any], values_of: Mapping[str, str]) -> bool:
    """One NodeSelectorRequirement (kubernetes.io/docs/concepts/scheduling-eviction/
    assign-pod-node/#operators): In, NotIn (also true when the label is absent), Exists,
    DoesNotExist, Gt and Lt (the label parsed as an integer; absent or not an integer: false)."""
    key = expression["key"]
    operator = expression["operator"]
    values = list(expression.get("values") or [])
    present = key in values_of
    value = values_of.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        (bound,) = values
        try:
            number = int(value) if value is not None else None
        except ValueError:
            return False
        if number is None:
            return False
        return number > int(bound) if operator == "Gt" else number < int(bound)
    raise ValueError(f"node selector operator {operator!r} is unknown")


def matches_term(term: Mapping[str, Any], node: Node) -> bool:
    """A NodeSelectorTerm: its expressions (and fields) are ANDed; an empty term matches no node
    (API reference, NodeSelectorTerm). matchFields supports only `metadata.name`."""
    expressions = list(term.get("matchExpressions") or [])
    fields = list(term.get("matchFields") or [])
    if not expressions and not fields:
        return False
    for f in fields:
        if f["key"] != "metadata.name":
            raise NotImplementedError(f"matchFields key {f['key']!r}")
    return all(matches_expression(e, node.labels) for e in expressions) and all(
        matches_expression(f, {"metadata.name": node.name}) for f in fields
    )


def node_selector_mismatch(spec: Mapping[str, Any], node: Node) -> list[str]:
    """nodeSelector: every label must be on the node with that value."""
    selector = spec.get("nodeSelector") or {}
    return [f"{k}={v}" for k, v in selector.items() if node.labels.get(k) != v]


def required_affinity_matches(spec: Mapping[str, Any], node: Node) -> bool:
    """requiredDuringSchedulingIgnoredDuringExecution: the terms are ORed."""
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    return any(matches_term(t, node) for t in required.get("nodeSelectorTerms") or [])


def preferred_affinity_score(spec: Mapping[str, Any], node: Node) -> int:
    """preferredDuringSchedulingIgnoredDuringExecution: the sum of the weights of the terms the
    node matches (kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
    #node-affinity-weight). An empty preference matches nothing (a no-op)."""
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    preferred = affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return sum(int(p["weight"]) for p in preferred if matches_term(p["preference"], node))


# --- resources -----------------------------------------------------------------------------------


def _container_requests(container: Mapping[str, Any]) -> dict[str, Decimal]:
    """A container's requests; a resource with only a limit is requested at the limit (the API
    server defaults requests to limits; extended resources must have request == limit)."""
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {k: parse_quantity(v) for k, v in merged.items()}


def pod_requests(
    spec: Mapping[str, Any], overhead: Mapping[str, Any] | None = None
) -> dict[str, Decimal]:
    """The pod's effective request per resource: the larger of the sum over app containers and
    the largest init container, plus the RuntimeClass overhead
    (kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers,
    kubernetes.io/docs/concepts/scheduling-eviction/pod-overhead/)."""
    total: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        for k, v in _container_requests(c).items():
            total[k] = total.get(k, Decimal(0)) + v
    for c in spec.get("initContainers") or []:
        for k, v in _container_requests(c).items():
            total[k] = max(total.get(k, Decimal(0)), v)
    for k, v in (overhead or {}).items():
        total[k] = total.get(k, Decimal(0)) + parse_quantity(v)
    return total


# --- RuntimeClass ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeClass:
    name: str
    handler: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    overhead: Mapping[str, str] = field(default_factory=dict)


def runtime_classes(objects: Iterable[Mapping[str, Any]]) -> dict[str, RuntimeClass]:
    found: dict[str, RuntimeClass] = {}
    for o in objects:
        if o["kind"] == "RuntimeClass":
            scheduling = o.get("scheduling") or {}
            found[o["metadata"]["name"]] = RuntimeClass(
                name=o["metadata"]["name"],
                handler=o["handler"],
                node_selector=dict(scheduling.get("nodeSelector") or {}),
                tolerations=tuple(scheduling.get("tolerations") or ()),
                overhead=dict((o.get("overhead") or {}).get("podFixed") or {}),
            )
    return found


def apply_runtime_class(
    spec: Mapping[str, Any], classes: Mapping[str, RuntimeClass]
) -> tuple[dict[str, Any], str | None, dict[str, str]]:
    """What the RuntimeClass admission controller does to a pod
    (kubernetes.io/docs/concepts/containers/runtime-class/#scheduling): the class's nodeSelector
    is merged into the pod's (a conflict is rejected), its tolerations are added. Returns the
    pod spec, the runtime handler the node must have (None: the default runtime) and the
    overhead. A class the rendering does not ship is taken as a cluster-provided one whose
    handler is its name (k3s registers `nvidia` with handler `nvidia`)."""
    name = spec.get("runtimeClassName")
    if not name:
        return dict(spec), None, {}
    rc = classes.get(name, RuntimeClass(name=name, handler=name))
    merged = dict(spec)
    selector = dict(spec.get("nodeSelector") or {})
    for k, v in rc.node_selector.items():
        if selector.get(k, v) != v:
            raise ValueError(f"RuntimeClass {name} nodeSelector {k}={v} conflicts with the pod's")
        selector[k] = v
    if selector:
        merged["nodeSelector"] = selector
    if rc.tolerations:
        merged["tolerations"] = [*(spec.get("tolerations") or []), *rc.tolerations]
    return merged, rc.handler, dict(rc.overhead)


# --- pods from a rendering ---------------------------------------------------------------------


def _check_supported(where: str, spec: Mapping[str, Any]) -> None:
    for name in UNSUPPORTED_SPEC_FIELDS:
        if spec.get(name):
            raise NotImplementedError(f"{where}: the scheduler model does not handle {name}")
    for name in UNSUPPORTED_AFFINITY:
        if (spec.get("affinity") or {}).get(name):
            raise NotImplementedError(f"{where}: the scheduler model does not handle {name}")
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if any(p.get("hostPort") for p in c.get("ports") or []):
            raise NotImplementedError(f"{where}: the scheduler model does not handle hostPort")


def _mounted_claims(spec: Mapping[str, Any]) -> list[str]:
    return [
        v["persistentVolumeClaim"]["claimName"]
        for v in spec.get("volumes") or []
        if "persistentVolumeClaim" in v
    ]


def pods_of(o: Mapping[str, Any]) -> list[Pod]:
    """The pods a workload object creates (DaemonSets excepted: they depend on the nodes).
    StatefulSet pods are `<name>-<ordinal>` and each mounts `<template>-<name>-<ordinal>`
    (kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-storage)."""
    kind, name = o["kind"], o["metadata"]["name"]
    owner = f"{kind}/{name}"
    if kind == "Job":
        spec = o["spec"]["template"]["spec"]
        count = int(o["spec"].get("parallelism", 1))
        return [Pod(f"{name}-{i}", owner, spec, tuple(_mounted_claims(spec))) for i in range(count)]
    spec = o["spec"]["template"]["spec"]
    replicas = int(o["spec"].get("replicas", 1))
    if kind == "StatefulSet":
        templates = [t["metadata"]["name"] for t in o["spec"].get("volumeClaimTemplates") or []]
        return [
            Pod(
                f"{name}-{i}",
                owner,
                spec,
                (*_mounted_claims(spec), *(f"{t}-{name}-{i}" for t in templates)),
            )
            for i in range(replicas)
        ]
    return [Pod(f"{name}-{i}", owner, spec, tuple(_mounted_claims(spec))) for i in range(replicas)]


def claim_storage_classes(
    objects: Iterable[Mapping[str, Any]], default_class: str | None
) -> dict[str, str | None]:
    """Each claim's storage class; a claim that names none gets the cluster's default class."""
    classes: dict[str, str | None] = {}
    for o in objects:
        if o["kind"] == "PersistentVolumeClaim":
            classes[o["metadata"]["name"]] = o["spec"].get("storageClassName") or default_class
        if o["kind"] == "StatefulSet":
            name = o["metadata"]["name"]
            for t in o["spec"].get("volumeClaimTemplates") or []:
                storage = t["spec"].get("storageClassName") or default_class
                for i in range(int(o["spec"].get("replicas", 1))):
                    classes[f"{t['metadata']['name']}-{name}-{i}"] = storage
    return classes


# --- the scheduler -------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Nodes and what has been consumed on them as pods are placed."""

    nodes: Sequence[Node]
    claim_classes: Mapping[str, str | None]
    runtime_classes: Mapping[str, RuntimeClass] = field(default_factory=dict)
    free: dict[str, dict[str, Decimal]] = field(init=False)
    bound_claims: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = {n.name: n.capacity() for n in self.nodes}

    def _node_local(self, claim: str) -> bool:
        if claim not in self.claim_classes:
            raise KeyError(f"PersistentVolumeClaim {claim} is not in the rendering")
        return self.claim_classes[claim] in NODE_LOCAL_STORAGE_CLASSES

    def filter(
        self, pod: Pod, spec: Mapping[str, Any], node: Node, requests: Mapping[str, Decimal]
    ) -> list[str]:
        """The scheduler's filter plugins for one node: why the pod cannot go there."""
        why: list[str] = []
        taints = untolerated_taints(spec, node)
        if taints:
            why.append("untolerated taint " + ", ".join(str(t) for t in taints))
        mismatched = node_selector_mismatch(spec, node)
        if mismatched:
            why.append("didn't match nodeSelector " + ", ".join(mismatched))
        if not required_affinity_matches(spec, node):
            why.append("didn't match required node affinity")
        free = self.free[node.name]
        for resource, amount in sorted(requests.items()):
            if amount > free.get(resource, Decimal(0)):
                why.append(f"Insufficient {resource}")
        for claim in pod.claims:
            if self._node_local(claim) and self.bound_claims.get(claim, node.name) != node.name:
                why.append(f"volume {claim} is bound to {self.bound_claims[claim]}")
        return why

    def _admit(self, pod: Pod) -> tuple[dict[str, Any], str | None, dict[str, Decimal]]:
        _check_supported(pod.name, pod.spec)
        spec, handler, overhead = apply_runtime_class(pod.spec, self.runtime_classes)
        return spec, handler, pod_requests(spec, overhead)

    def _bind(self, pod: Pod, node: Node, requests: Mapping[str, Decimal]) -> None:
        for resource, amount in requests.items():
            self.free[node.name][resource] = self.free[node.name].get(resource, Decimal(0)) - amount
        for claim in pod.claims:
            if self._node_local(claim):
                self.bound_claims.setdefault(claim, node.name)

    def place(self, pod: Pod) -> Placement:
        """Filter every node, score the feasible ones by preferred node affinity, take the best
        (ties: the first node listed). A pod with a runtimeClassName is refused when any
        feasible node lacks the handler: the scheduler does not look at runtimes, so it may pick
        that node, where the kubelet fails the sandbox ("no runtime for ... is configured")."""
        spec, handler, requests = self._admit(pod)
        refusals = {n.name: self.filter(pod, spec, n, requests) for n in self.nodes}
        feasible = [n for n in self.nodes if not refusals[n.name]]
        if handler is not None:
            lacking = [n for n in feasible if handler not in n.runtimes]
            if lacking:
                for n in lacking:
                    refusals[n.name] = [f"feasible, but its runtime has no handler {handler!r}"]
                return Placement(pod, None, refusals)
        if not feasible:
            return Placement(pod, None, refusals)
        best = max(feasible, key=lambda n: preferred_affinity_score(spec, n))  # first of ties
        self._bind(pod, best, requests)
        return Placement(pod, best.name, {})

    def place_daemon(self, o: Mapping[str, Any]) -> list[Placement]:
        """A DaemonSet gets a pod on each node its template tolerates and selects (taints,
        nodeSelector, required affinity); other nodes get no pod, which is not a failure
        (kubernetes.io/docs/concepts/workloads/controllers/daemonset/). On an eligible node the
        pod must still fit and find its runtime handler."""
        name = o["metadata"]["name"]
        template = o["spec"]["template"]["spec"]
        placements: list[Placement] = []
        for node in self.nodes:
            pod = Pod(
                f"{name}-{node.name}",
                f"DaemonSet/{name}",
                template,
                tuple(_mounted_claims(template)),
            )
            spec, handler, requests = self._admit(pod)
            eligible = (
                not untolerated_taints(spec, node)
                and not node_selector_mismatch(spec, node)
                and required_affinity_matches(spec, node)
            )
            if not eligible:
                continue
            why = self.filter(pod, spec, node, requests)
            if handler is not None and handler not in node.runtimes:
                why.append(f"its runtime has no handler {handler!r}")
            if why:
                placements.append(Placement(pod, None, {node.name: why}))
                continue
            self._bind(pod, node, requests)
            placements.append(Placement(pod, node.name, {}))
        return placements


def schedule(
    objects: Sequence[Mapping[str, Any]],
    nodes: Sequence[Node],
    extra_pods: Sequence[Pod] = (),
    default_storage_class: str | None = "local-path",
) -> Schedule:
    """Place every pod of a rendering, then `extra_pods` (e.g. run pods a launcher creates).
    DaemonSets go first (their pods usually run before the workloads and take their share of
    every node), then the other workloads in rendering order."""
    cluster = Cluster(
        nodes=nodes,
        claim_classes=claim_storage_classes(objects, default_storage_class),
        runtime_classes=runtime_classes(objects),
    )
    placements: list[Placement] = []
    for o in objects:
        if o["kind"] == "DaemonSet":
            placements += cluster.place_daemon(o)
    for o in objects:
        if o["kind"] in POD_TEMPLATE_KINDS and o["kind"] != "DaemonSet":
            placements += [cluster.place(p) for p in pods_of(o)]
        elif o["kind"] in ("Pod", "CronJob"):
            raise NotImplementedError(f"{o['kind']}/{o['metadata']['name']}: not modelled")
    placements += [cluster.place(p) for p in extra_pods]
    return Schedule(placements)
