"""What a change does to the running cluster: the record of a deployed cluster, the comparison
of the last deployed record with the new config, and the changes refused unless allowed.

Pure functions. The component keeps the record of its last successful deploy in a stack output
and reads it back through a StackReference to its own stack (see component.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import constants as c
from . import engines, specs
from .model import Cluster, Engine, NodeGroup, master_quorum

RECORD_VERSION = 1

# What `allowDisruptive` can name; `true` allows all of them.
QUORUM_LOSS = "quorumLoss"
DATA_REPLACE = "dataReplace"
DATA_SCALE_DOWN = "dataScaleDown"
# A major upgrade two majors past the one the cluster was first deployed on: its oldest indices
# must be dealt with first, which only the user can tell.
OLD_INDICES = "oldIndices"
DISRUPTIONS = (QUORUM_LOSS, DATA_REPLACE, DATA_SCALE_DOWN, OLD_INDICES)
ALLOW_KEY = "es-cluster:allowDisruptive"
# A version change the engines' upgrade rules refuse: no override, since none is safe.
ENGINE_CHANGE = "engineChange"
# What a record from before engines existed ran.
FIELD_REPORT_ENGINE = {"distribution": "elasticsearch", "version": "2.3.4"}

# The order groups roll in when one change restarts several: data first, masters last, so the
# cluster keeps its elected master while everything else restarts (as ECK does).
ROLL_CLASSES = ("data", "client", "master")


def roll_class(roles: tuple[str, ...] | list[str]) -> int:
    """0 for groups holding data without the master role, 1 for client-only, 2 for master-eligible."""
    if "master" in roles:
        return 2
    if "data" in roles:
        return 0
    return 1


def roll_order(cluster: Cluster) -> tuple[NodeGroup, ...]:
    """The cluster's groups in the order their rollouts run, each after the one before: by
    class, then by name."""
    return tuple(sorted(cluster.groups, key=lambda g: (roll_class(g.roles), g.name)))


# --- the record of a deployed cluster ---------------------------------------------------------


def record(cluster: Cluster, image: str, first_version: str | None = None) -> dict[str, Any]:
    """What the next change is compared with. `image` is the build's identity known before the
    build (the content tag, or the given reference), so a preview can compare it.
    `first_version`: the version the cluster was first deployed on (its oldest indices'), which
    the comparison carries over (Impact.first_version); None: this one."""
    engine = cluster.engine
    return {
        "version": RECORD_VERSION,
        "clusterName": cluster.name,
        "namespace": cluster.namespace,
        "engine": {"distribution": engine.distribution, "version": engine.version, "firstVersion": first_version or engine.version},
        # Records from before security existed: off.
        "security": {"enabled": cluster.security.enabled},
        "groups": {g.name: _group_record(g, cluster, image) for g in cluster.groups},
    }


def _group_record(group: NodeGroup, cluster: Cluster, image: str) -> dict[str, Any]:
    w = specs.workload(group, cluster, image)
    if group.storage.host_path is not None:
        storage: dict[str, Any] = {"type": "hostPath", "path": group.storage.host_path}
    elif group.storage.size is not None:
        storage = {"type": "volumeClaim", "size": group.storage.size, "storageClass": group.storage.storage_class}
    else:
        storage = {"type": "emptyDir"}
    return {
        "kind": group.workload,
        "workload": w["metadata"]["name"],
        "roles": list(group.roles),
        "replicas": group.replicas,
        "maxUnavailable": group.max_unavailable,
        "storage": storage,
        "selector": w["spec"]["selector"],
        "volumeClaimTemplates": w["spec"].get("volumeClaimTemplates"),
        "template": w["spec"]["template"],
    }


def canonical(value: Any) -> Any:
    """A record as read back from a stack output: whole floats are ints again, tuples lists."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


# --- the comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupImpact:
    name: str
    change: str  # added, removed, replaced, updated, unchanged
    scaled: tuple[int, int] | None = None
    restart: tuple[str, ...] = ()  # what changed in the pod template: a rolling restart
    replaced: tuple[str, ...] = ()  # the immutable fields that changed
    data: str | None = None  # what happens to the data of a replaced or removed group
    batch: int = 1  # pods a rolling restart takes down at once (maxUnavailable)
    step: tuple[Any, Any] | None = None  # maxUnavailable before and after, when it changed

    def line(self) -> str:
        if self.change == "added":
            return f"{self.name}: added, {self.scaled[1] if self.scaled else 0} pod(s)"
        if self.change == "removed":
            return f"{self.name}: removed, all {self.scaled[0] if self.scaled else 0} pod(s) go; {self.data}"
        if self.change == "replaced":
            return f"{self.name}: replaced ({', '.join(self.replaced)}): every pod of the group is down at once; {self.data}"
        parts = []
        if self.scaled:
            parts.append(f"scaled {self.scaled[0]} -> {self.scaled[1]}")
        if self.step:
            parts.append(f"maxUnavailable {self.step[0]} -> {self.step[1]} (no restart by itself)")
        if self.restart:
            at_once = "one pod" if self.batch == 1 else f"{self.batch} pods"
            parts.append(f"rolling restart, {at_once} at a time ({', '.join(self.restart)})")
        return f"{self.name}: {'; '.join(parts) or 'unchanged'}"


@dataclass(frozen=True)
class Disruption:
    """A change that loses quorum or data: refused unless `allowDisruptive` names its kind."""

    kind: str
    keys: tuple[str, ...]
    message: str
    # False for what no setting may allow (a version change the upgrade rules refuse).
    overridable: bool = True

    def refusal(self) -> str:
        if not self.overridable:
            return f"{', '.join(self.keys)}: {self.message} Refused, with no override."
        return (
            f"{', '.join(self.keys)}: {self.message} Refused; to do it anyway, set {ALLOW_KEY} to [{self.kind}] (or true) for this change."
        )


@dataclass(frozen=True)
class Impact:
    first_deploy: bool
    masters: tuple[int | None, int]
    groups: tuple[GroupImpact, ...] = ()
    order: tuple[str, ...] = ()
    refused: tuple[Disruption, ...] = ()
    allowed: tuple[Disruption, ...] = ()
    unchanged: bool = field(default=False)
    # (before, after) as "distribution version", when the engine changes: a rolling upgrade.
    engine: tuple[str, str] | None = None
    # The version the cluster was first deployed on, for the next record ("": the new one).
    first_version: str = ""

    def summary(self) -> str:
        """The text printed on every preview and up, on the component."""
        after = self.masters[1]
        if self.first_deploy:
            return f"es-cluster: first deploy: masters {after} (quorum {master_quorum(after)}); creates " + ", ".join(
                f"{g.name} ({g.scaled[1] if g.scaled else 0})" for g in self.groups
            )
        if self.unchanged:
            return "es-cluster: no change to the running cluster"
        before = self.masters[0] or 0
        lines = ["es-cluster: what this change does to the running cluster:"]
        quorum = f"masters {before} (quorum {master_quorum(before)}) -> {after} (quorum {master_quorum(after)})"
        lines.append(f"  quorum: {quorum}" if before != after else f"  quorum: unchanged, masters {after} (quorum {master_quorum(after)})")
        if self.engine:
            lines.append(f"  engine: rolling upgrade {self.engine[0]} -> {self.engine[1]}")
        lines += [f"  {g.line()}" for g in self.groups]
        if self.order:
            lines.append(f"  roll order: {' -> '.join(self.order)}, each group's rollout finishing before the next starts")
        for d in self.allowed:
            lines.append(f"  allowed by {ALLOW_KEY} ({d.kind}): {d.message}")
        return "\n".join(lines)

    def output(self) -> dict[str, Any]:
        """The same, as the structured stack output."""
        return {
            "firstDeploy": self.first_deploy,
            "changed": not self.unchanged,
            "masters": {"before": self.masters[0], "after": self.masters[1]},
            "groups": {
                g.name: {
                    "change": g.change,
                    **({"scaled": list(g.scaled)} if g.scaled and g.change == "updated" else {}),
                    **({"restart": list(g.restart)} if g.restart else {}),
                    **({"maxUnavailable": list(g.step)} if g.step else {}),
                    **({"replaced": list(g.replaced)} if g.replaced else {}),
                    **({"data": g.data} if g.data else {}),
                }
                for g in self.groups
            },
            "rollOrder": list(self.order),
            **({"engine": {"before": self.engine[0], "after": self.engine[1]}} if self.engine else {}),
            "allowed": [d.kind for d in self.allowed],
            "summary": self.summary(),
        }


def compare(before: Mapping[str, Any] | None, cluster: Cluster, image: str, allow: frozenset[str]) -> Impact:
    """The impact of deploying `cluster` over the cluster last deployed as `before` (a record,
    or None on a stack's first deploy)."""
    after = record(cluster, image)
    masters_after = cluster.master_eligible
    if not before or before.get("version") != RECORD_VERSION:
        return Impact(
            first_deploy=True,
            masters=(None, masters_after),
            groups=tuple(GroupImpact(g.name, "added", scaled=(0, g.replicas)) for g in roll_order(cluster)),
        )
    before = canonical(before)
    old_groups: Mapping[str, Any] = before["groups"]
    new_groups: Mapping[str, Any] = after["groups"]
    masters_before = sum(g["replicas"] for g in old_groups.values() if "master" in g["roles"])

    impacts: list[GroupImpact] = []
    masters_down = 0  # master-eligible pods gone at once: removed, replaced or scaled away
    master_keys: list[str] = []
    disruptions: list[Disruption] = []
    for name, new in new_groups.items():
        old = old_groups.get(name)
        if old is None:
            impacts.append(GroupImpact(name, "added", scaled=(0, new["replicas"])))
            continue
        replaced = _replaced_fields(before, after, old, new)
        if replaced:
            impacts.append(GroupImpact(name, "replaced", replaced=tuple(r for r, _ in replaced), data=_data_fate(old)))
            if "master" in old["roles"] and old["replicas"]:
                masters_down += old["replicas"]
                master_keys.append(replaced[0][1].format(group=name))
            if "data" in old["roles"] and old["replicas"]:
                disruptions.append(
                    Disruption(
                        DATA_REPLACE,
                        tuple(dict.fromkeys(key.format(group=name) for _, key in replaced)),
                        f"replacing data group {name} ({', '.join(r for r, _ in replaced)}) takes all "
                        f"{old['replicas']} of its pods down at once; {_data_fate(old)}.",
                    )
                )
            continue
        scaled = (old["replicas"], new["replicas"]) if old["replicas"] != new["replicas"] else None
        restart = tuple(restart_reasons(old["template"], new["template"]))
        # Records before maxUnavailable existed rolled one pod at a time.
        step = (old.get("maxUnavailable", 1), new["maxUnavailable"])
        step = step if step[0] != step[1] else None
        change = "updated" if scaled or restart or step else "unchanged"
        impacts.append(GroupImpact(name, change, scaled=scaled, restart=restart, batch=cluster.group(name).roll_batch, step=step))
        if scaled and scaled[1] < scaled[0]:
            if "master" in old["roles"]:
                masters_down += scaled[0] - scaled[1]
                master_keys.append(f"nodeGroups.{name}.replicas")
            if "data" in old["roles"] and scaled[0] - scaled[1] > 1:
                disruptions.append(_data_scale_down(name, f"nodeGroups.{name}.replicas", scaled[0], scaled[1]))
    for name, old in old_groups.items():
        if name in new_groups:
            continue
        impacts.append(GroupImpact(name, "removed", scaled=(old["replicas"], 0), data=_data_fate(old)))
        if "master" in old["roles"]:
            masters_down += old["replicas"]
            master_keys.append(f"nodeGroups.{name}")
        if "data" in old["roles"] and old["replicas"] > 1:
            disruptions.append(_data_scale_down(name, f"nodeGroups.{name}", old["replicas"], 0))

    if masters_before and masters_down and 2 * masters_down >= masters_before:
        survivors = masters_before - masters_down
        disruptions.insert(
            0,
            Disruption(
                QUORUM_LOSS,
                tuple(dict.fromkeys(master_keys)),
                f"this takes {masters_down} of the {masters_before} master-eligible nodes away at once, "
                f"and the {survivors} left cannot reach the quorum of {master_quorum(masters_before)} "
                "they run with, so no master can be elected until the change completes, or ever if it fails.",
            ),
        )

    engine_before = before.get("engine") or FIELD_REPORT_ENGINE
    # Records from before firstVersion existed: the version they ran is the oldest known.
    first_version = str(engine_before.get("firstVersion") or engine_before.get("version"))
    engine_change, refusal = engine_upgrade(engine_before, cluster.engine)
    if refusal is not None:
        disruptions.insert(0, refusal)
    elif engine_change is not None:
        stuck = _image_unchanged(engine_change, old_groups, new_groups, cluster) or _old_indices(
            engine_change, first_version, str(engine_before.get("version")), cluster.engine
        )
        if stuck is not None:
            disruptions.insert(0, stuck)
    was_secured = bool((before.get("security") or {}).get("enabled"))
    if was_secured != cluster.security.enabled and masters_before:
        disruptions.insert(0, security_switch(was_secured, masters_before))
    else:
        secrets = (_certificates(old_groups), _certificates(new_groups))
        if masters_before and None not in secrets and secrets[0] != secrets[1]:
            disruptions.insert(0, certificate_switch(*secrets, before["clusterName"]))

    # Groups are listed, and roll, data first and masters last (by name within each class): the
    # CLI hands the config over with its keys sorted, so the config's order is not the user's.
    roles_of = {**{name: g["roles"] for name, g in old_groups.items()}, **{name: g["roles"] for name, g in new_groups.items()}}
    impacts.sort(key=lambda g: (roll_class(roles_of[g.name]), g.name))
    order = tuple(g.name for g in impacts if g.change == "updated" and g.restart)
    return Impact(
        first_deploy=False,
        masters=(masters_before, masters_after),
        groups=tuple(impacts),
        order=order if len(order) > 1 else (),
        refused=tuple(d for d in disruptions if d.kind not in allow or not d.overridable),
        allowed=tuple(d for d in disruptions if d.kind in allow and d.overridable),
        unchanged=all(g.change == "unchanged" for g in impacts) and engine_change is None,
        engine=engine_change,
        first_version=first_version,
    )


def engine_upgrade(before: Mapping[str, Any], after: Engine) -> tuple[tuple[str, str] | None, Disruption | None]:
    """The engine change from a record's engine to the new one, as ("dist version", "dist
    version") or None when unchanged, and the refusal of the upgrade rules when they refuse it.
    The running version's profile judges: it knows what its data can become."""
    old_dist, old_version = str(before.get("distribution")), str(before.get("version"))
    if (old_dist, old_version) == (after.distribution, after.version):
        return None, None
    change = (f"{old_dist} {old_version}", str(after))
    if old_dist != after.distribution:
        key = "engine.distribution"
        why = (
            f"{old_dist} to {after.distribution} changes distribution, which is never done in place: deploy a new "
            f"cluster on {after.distribution} and copy the data into it (snapshot and restore, or reindex-from-remote)"
        )
    else:
        key = "engine.version"
        judge = engines.for_version(old_dist, old_version) or engines.profile(after)
        old, new = engines.parse_version(old_version), engines.parse_version(after.version)
        why = judge.upgrade_refusal(old, new) if old is not None and new is not None else f"the running version {old_version!r} is unknown"
    if why is None:
        return change, None
    return change, Disruption(ENGINE_CHANGE, (key,), f"{change[0]} -> {change[1]}: {why}.", overridable=False)


def _old_indices(change: tuple[str, str], first: str, before: str, after: Engine) -> Disruption | None:
    """An upgrade the indices of the cluster's first version would stop: refused until the user
    has dealt with them (allowDisruptive names it)."""
    parsed = [engines.parse_version(v) for v in (first, before, after.version)]
    if None in parsed:
        return None
    why = engines.profile(after).old_indices_refusal(*parsed)  # type: ignore[arg-type]
    if why is None:
        return None
    return Disruption(OLD_INDICES, ("engine.version",), f"{change[0]} -> {change[1]}: {why}.")


def _image_unchanged(
    change: tuple[str, str], old_groups: Mapping[str, Any], new_groups: Mapping[str, Any], cluster: Cluster
) -> Disruption | None:
    """A version change whose image stays the same (an image.baseImage or image.reference set
    for the old version and left): no pod would restart, the nodes would keep running the old
    version while the stack records the new one, and the next upgrade would be judged from the
    wrong version. None when some kept group's image changes, or no group is kept."""
    kept = [name for name in new_groups if name in old_groups]
    if not kept or any(
        _container(old_groups[n]["template"]).get("image") != _container(new_groups[n]["template"]).get("image") for n in kept
    ):
        return None
    if cluster.image.reference is not None:
        key, value = "image.reference", cluster.image.reference
    else:
        key, value = "image.baseImage", cluster.image.base_image
    return Disruption(
        ENGINE_CHANGE,
        ("engine.version", key),
        f"{change[0]} -> {change[1]}, but the image stays {value} ({key}): no node would restart, so the cluster would "
        f"keep running {change[0]} while the stack records {change[1]}. Set {key} to an image of {change[1]}, "
        "or unset it for the engine's own.",
        overridable=False,
    )


def security_switch(was_secured: bool, masters: int) -> Disruption:
    """Turning transport TLS on or off in a running cluster: nodes on either side of the switch
    cannot talk, so a rolling restart splits the cluster until its last node has restarted."""
    to = "off" if was_secured else "on"
    return Disruption(
        QUORUM_LOSS,
        ("security.enabled",),
        f"turns security {to} in a running cluster. A node with TLS on transport and a node without cannot talk, so "
        f"a rolling restart splits the cluster: once half of its {masters} master-eligible nodes have restarted, neither "
        "side has a quorum and no master is elected until the last node has restarted. Keep security.enabled "
        f"{'true' if was_secured else 'false'} to leave the running cluster as it is, or take it down for the switch.",
    )


def _certificates(groups: Mapping[str, Any]) -> str | None:
    """The Secret the nodes' certificates come from (None: no TLS)."""
    for g in groups.values():
        volume = _named(g["template"]["spec"].get("volumes"), specs.CERTS_VOLUME)
        if volume is not None:
            return volume["secret"]["secretName"]
    return None


def certificate_switch(old: str, new: str, cluster_name: str) -> Disruption:
    """Moving a running cluster's nodes to the certificates of another Secret: each restarted
    node presents a certificate the nodes not yet restarted may not trust, and trusts only the
    CA its new Secret holds."""

    def named(secret: str) -> str:
        return f"the component's (Secret {secret})" if secret == f"{cluster_name}-certs" else f"Secret {secret}'s"

    return Disruption(
        QUORUM_LOSS,
        ("security.certificateSecret",),
        f"moves the running cluster's nodes from {named(old)} certificates to {named(new)}. The pods restart one at a "
        "time, and a restarted node rejoins only if the nodes still on the old certificates trust its new one and it "
        "trusts theirs: with another CA it stays out, the roll stops there, and once half of the master-eligible nodes "
        "have restarted no side has a quorum. Allow it only when both Secrets' certificates come from a CA both their "
        "ca.crt hold. To move from the component's CA to yours, give yours first (security.caCertificate and "
        "security.caKey: a rotation in three ups, with no restart), then a Secret whose certificates it signed.",
    )


def _data_scale_down(name: str, key: str, old: int, new: int) -> Disruption:
    return Disruption(
        DATA_SCALE_DOWN,
        (key,),
        f"data group {name} goes from {old} to {new} nodes in one change; the shards of every node "
        "removed at once are lost unless each has a replica elsewhere. Scale down one node at a time, "
        "waiting for green in between.",
    )


# The fields of a workload Kubernetes cannot change in place, with the config key behind each.
def _replaced_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if before["namespace"] != after["namespace"]:
        out.append((f"namespace {before['namespace']} -> {after['namespace']}", "namespace"))
    if before["clusterName"] != after["clusterName"]:
        out.append((f"clusterName {before['clusterName']} -> {after['clusterName']}", "clusterName"))
    if old["kind"] != new["kind"]:
        out.append((f"workload kind {old['kind']} -> {new['kind']}", "nodeGroups.{group}.workload"))
    elif old["kind"] == "StatefulSet" and old["volumeClaimTemplates"] != new["volumeClaimTemplates"]:
        out.append((f"volumeClaimTemplates ({_claim(old)} -> {_claim(new)})", "nodeGroups.{group}.storage"))
    if old["selector"] != new["selector"] and not out:
        out.append(("selector", "nodeGroups.{group}"))
    return out


def _claim(group: Mapping[str, Any]) -> str:
    s = group["storage"]
    if s["type"] != "volumeClaim":
        return s["type"]
    return s["size"] + (f", class {s['storageClass']}" if s.get("storageClass") else "")


def _data_fate(old: Mapping[str, Any]) -> str:
    s = old["storage"]
    if s["type"] == "hostPath":
        return f"its hostPath data stays on the nodes, in {s['path']}"
    if s["type"] == "volumeClaim":
        return "its volume claims are kept; only a StatefulSet of the same name and namespace uses them again"
    return "its emptyDir data is lost"


# --- what restarts the pods --------------------------------------------------------------------

_KUBECONFIG_ENV = (c.ENV_TRY_KUBECONFIG, c.ENV_KUBECONFIG)


def _container(template: Mapping[str, Any]) -> Mapping[str, Any]:
    for cont in template.get("spec", {}).get("containers", []):
        if cont.get("name") == specs.ES_CONTAINER:
            return cont
    return {}


def _env(template: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for e in _container(template).get("env", []):
        out[e["name"]] = str(e["value"]) if "value" in e else "(from the pod)"
    return out


def _named(items: list[Mapping[str, Any]] | None, name: str) -> Any:
    return next((i for i in items or [] if i.get("name") == name), None)


def _kubeconfig(template: Mapping[str, Any]) -> Any:
    spec = template.get("spec", {})
    env = _env(template)
    return (
        _named(spec.get("volumes"), specs.KUBECONFIG_VOLUME),
        _named(_container(template).get("volumeMounts"), specs.KUBECONFIG_VOLUME),
        [env.get(k) for k in _KUBECONFIG_ENV],
    )


# Parts of the pod template, by the name a user knows them by. Any other difference is reported
# as "pod template".
_TEMPLATE_PARTS: tuple[tuple[str, Any], ...] = (
    ("image", lambda t: _container(t).get("image")),
    ("resources", lambda t: _container(t).get("resources")),
    ("kubeconfig mount", _kubeconfig),
    (
        "storage volume",
        lambda t: (_named(t["spec"].get("volumes"), specs.STORAGE_VOLUME), _named(_container(t).get("volumeMounts"), specs.STORAGE_VOLUME)),
    ),
    ("nodeSelector", lambda t: t["spec"].get("nodeSelector")),
    ("tolerations", lambda t: t["spec"].get("tolerations")),
    ("anti-affinity", lambda t: t["spec"].get("affinity")),
    ("probes", lambda t: (_container(t).get("readinessProbe"), _container(t).get("livenessProbe"))),
    ("security context", lambda t: (_container(t).get("securityContext"), t["spec"].get("securityContext"))),
    ("certificates", lambda t: _named(t["spec"].get("volumes"), specs.CERTS_VOLUME)),
    ("pod labels", lambda t: t.get("metadata", {}).get("labels")),
)


def restart_reasons(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why a changed pod template restarts the pods, named as the user knows each part."""
    if old == new:
        return []
    reasons = [name for name, part in _TEMPLATE_PARTS if part(old) != part(new)]
    old_env, new_env = _env(old), _env(new)
    for name in sorted(set(old_env) | set(new_env), key=lambda n: (n != c.ENV_HEAP_SIZE, n)):
        a, b = old_env.get(name, "(unset)"), new_env.get(name, "(unset)")
        if a == b or name in _KUBECONFIG_ENV:
            continue
        reasons.append(f"heap {a} -> {b}" if name == c.ENV_HEAP_SIZE else f"env {name} {a} -> {b}")
    return reasons or ["pod template"]


def parse_allow(value: Any) -> tuple[frozenset[str] | None, str | None]:
    """`allowDisruptive`: true, false, a list of DISRUPTIONS, or the same as one comma-separated
    string (what `pulumi config set es-cluster:allowDisruptive quorumLoss` stores). Returns
    (kinds, None) or (None, error)."""
    if value is None or value is False:
        return frozenset(), None
    if value is True:
        return frozenset(DISRUPTIONS), None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        unknown = [v for v in value if v not in DISRUPTIONS]
        if not unknown:
            return frozenset(value), None
        return None, f"unknown kind {', '.join(repr(u) for u in unknown)}; the kinds are {', '.join(DISRUPTIONS)}"
    return None, f"must be true, false or a list of {', '.join(DISRUPTIONS)}, got {value!r}"


# --- a DaemonSet's planned count against the nodes it runs on ----------------------------------


def daemonset_drift(group: NodeGroup, cluster: Cluster, scheduled: int) -> str | None:
    """A warning when a DaemonSet group's `replicas` (the nodes planned) differs from the nodes
    its controller schedules it on (status.desiredNumberScheduled: the nodes matching its
    nodeSelector whose taints it tolerates), saying what is wrong because of it and the fix."""
    if group.workload != "DaemonSet" or scheduled == group.replicas:
        return None
    key = f"nodeGroups.{group.name}.replicas"
    head = (
        f"{key} is {group.replicas}, but {scheduled} node(s) match the nodeSelector of DaemonSet "
        f"{cluster.namespace}/{specs.workload_name(cluster, group)}"
    )
    if group.master:
        running = cluster.master_eligible - group.replicas + scheduled
        if master_quorum(running) > cluster.quorum:
            risk = (
                f"with {running} master-eligible nodes, the quorum it runs with (MIN_MASTERS {cluster.quorum}) is not a "
                f"majority ({master_quorum(running)}), so a network split can elect two masters (split-brain)"
            )
        elif running < cluster.quorum:
            risk = f"only {running} master-eligible node(s) run, fewer than the quorum of {cluster.quorum}: no master can be elected"
        else:
            risk = (
                f"the quorum (MIN_MASTERS {cluster.quorum}) was set for {cluster.master_eligible} master-eligible nodes, and {running} run"
            )
        fix = f"set {key} to {scheduled} and run pulumi up (a master group's count sets the quorum, so it must be exact), or label nodes to match"
    else:
        floor = max(group.replicas - group.roll_batch, 0)
        evictable = max(scheduled - floor, 0)
        if evictable == 0:
            risk = f"its disruption budget (minAvailable {floor}) allows no eviction at all, so a node drain waits forever"
        else:
            risk = f"its disruption budget (minAvailable {floor}) lets {evictable} pod(s) be evicted at once, not {group.roll_batch}"
        fix = f"set {key} to {scheduled} and run pulumi up"
    return f"{head}: {risk}; {fix}."
