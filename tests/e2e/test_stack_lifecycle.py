"""The seed layout through its whole life with the real engine against a real API server:
up, placement by node labels, discovery Endpoints, no-op and targeted changes, a rejected
config, destroy. The tests run in file order and share one stack."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from es_cluster import parse_stack_config, validate
from es_cluster.render import render

from .conftest import Kube, Stack, seed_config, wait_until

NS = "elasticsearch"
MASTER_LABEL = "kube-system/es-master-node"
MANAGED = "app.kubernetes.io/managed-by=es-cluster"


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    s = make_stack("seed", seed_config())
    # --json: the engine's events, one per line, kept for the tests that read what happened.
    (s.dir / "up-events.json").write_text(s.pulumi("up", "--yes", "--skip-preview", "--json").stdout)
    return s


def subset_mismatches(declared: Any, live: Any, path: str = "") -> list[str]:
    """Where `live` lacks or differs from what `declared` says; the API server may add fields."""
    if isinstance(declared, dict):
        if not isinstance(live, dict):
            return [f"{path}: declared an object, live has {live!r}"]
        return [m for k, v in declared.items() for m in subset_mismatches(v, live.get(k), f"{path}.{k}")]
    if isinstance(declared, list):
        if not isinstance(live, list) or len(live) != len(declared):
            return [f"{path}: declared {declared!r}, live has {live!r}"]
        return [m for i, (d, lv) in enumerate(zip(declared, live, strict=True)) for m in subset_mismatches(d, lv, f"{path}[{i}]")]
    return [] if declared == live else [f"{path}: declared {declared!r}, live has {live!r}"]


def wait_until_ns(kube: Kube, what: str, probe: Any, **kw: Any) -> Any:
    """wait_until that, on a timeout, shows the namespace's objects and the nodes' labels."""
    return wait_until(what, probe, explain=lambda: kube.describe(NS) + kube.run("get", "nodes", "--show-labels", check=False).stdout, **kw)


def without_template(inputs: dict[str, Any]) -> dict[str, Any]:
    return {**inputs, "spec": {k: v for k, v in inputs["spec"].items() if k != "template"}}


def pods(kube: Kube, group: str) -> list[dict[str, Any]]:
    return kube.items("pods", "-n", NS, "-l", f"app.kubernetes.io/component={group}")


def running_pods(kube: Kube, group: str) -> list[dict[str, Any]]:
    return [p for p in pods(kube, group) if p["status"].get("phase") == "Running" and p["status"].get("podIP")]


def endpoint_view(kube: Kube, service: str) -> tuple[set[str], set[int]]:
    ep = kube.get("endpoints", service, "-n", NS)
    subsets = ep.get("subsets") or []
    ips = {a["ip"] for s in subsets for a in s.get("addresses", []) + s.get("notReadyAddresses", [])}
    ports = {p["port"] for s in subsets for p in s.get("ports", [])}
    return ips, ports


def test_up_creates_every_declared_object_as_declared(stack: Stack, kube: Kube):
    cluster = validate(parse_stack_config(stack.config()))
    declared = render(cluster)
    assert len(declared) == 13  # with the NetworkPolicy
    for manifest in declared:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        args = [kind.lower(), name] + ([] if kind == "Namespace" else ["-n", NS])
        live = kube.get(*args)
        body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
        mismatches = subset_mismatches(body, live)
        assert not mismatches, f"{kind}/{name} differs from what was declared:\n" + "\n".join(mismatches)
    outputs = stack.outputs()
    assert outputs["transportService"] == "es-logging-transport"
    assert outputs["httpUrl"] == "http://es-logging-http.elasticsearch.svc:9200"
    assert outputs["workloads"] == {"master": "es-logging-master", "data": "es-logging-data", "client": "es-logging-client"}


def provider_statuses(stack: Stack) -> dict[str, list[str]]:
    """What the Kubernetes provider said while awaiting each object during the first `up`, by
    the object's name in the stack (from the engine's event log)."""
    said: dict[str, list[str]] = {}
    for line in (stack.dir / "up-events.json").read_text().splitlines():
        if not line.startswith("{"):
            continue
        diag = json.loads(line).get("diagnosticEvent") or {}
        if diag.get("urn"):
            said.setdefault(diag["urn"].rsplit("::", 1)[-1], []).append(diag.get("message", ""))
    return said


def test_up_awaits_the_workloads_and_not_the_http_services_endpoints(stack: Stack):
    # The provider's Service await ends 10 s after the Endpoints' last change; it held every
    # `up` that long after the workloads were ready. The client Deployment's own await, which
    # the provider reports as it goes, is what proves the HTTP Service's pods ready.
    said = provider_statuses(stack)
    assert any("ReplicaSet" in m or "Deployment" in m for m in said.get("es-logging-deployment-es-logging-client", [])), said.keys()
    http = said.get("es-logging-service-es-logging-http", [])
    assert any("Skipping await" in m for m in http), http
    assert not any("direct traffic" in m for m in http), http


def test_daemonset_pods_land_only_on_labelled_nodes(stack: Stack, kube: Kube):
    for group, label in (("master", MASTER_LABEL), ("data", "kube-system/es-data-node")):
        labelled = {n["metadata"]["name"] for n in kube.items("nodes", "-l", f"{label}=true")}
        assert labelled, f"no node carries {label}"

        def placed(group: str = group, labelled: set[str] = labelled) -> list[dict[str, Any]] | None:
            running = running_pods(kube, group)
            return running if {p["spec"]["nodeName"] for p in running} == labelled else None

        got = wait_until_ns(kube, f"{group} pods Running on exactly {sorted(labelled)}", placed)
        assert len(got) == len(labelled), kube.describe(NS)
        assert all(p["spec"]["nodeName"] in labelled for p in pods(kube, group)), kube.describe(NS)


def test_discovery_endpoints_are_the_master_pods_on_9300_only(stack: Stack, kube: Kube):
    master_ips = {p["status"]["podIP"] for p in running_pods(kube, "master")}
    assert len(master_ips) == 3
    ips, ports = wait_until_ns(
        kube, "transport endpoints", lambda: (v := endpoint_view(kube, "es-logging-transport"))[0] == master_ips and v
    )
    assert (ips, ports) == (master_ips, {9300}), kube.describe(NS)
    client_ips = {
        p["status"]["podIP"]
        for p in wait_until_ns(kube, "2 clients", lambda: len(running_pods(kube, "client")) == 2 and running_pods(kube, "client"))
    }
    ips, ports = wait_until_ns(kube, "http endpoints", lambda: (v := endpoint_view(kube, "es-logging-http"))[0] == client_ips and v)
    assert (ips, ports) == (client_ips, {9200}), kube.describe(NS)


def test_second_preview_reports_no_changes(stack: Stack):
    stack.pulumi("preview", "--expect-no-changes")


def test_changing_client_replicas_changes_only_that_deployment(stack: Stack, kube: Kube):
    stack.pulumi("config", "set", "--path", "nodeGroups.client.replicas", "3")
    steps = stack.preview_steps()
    assert [(s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps] == [("update", "es-logging-deployment-es-logging-client")], steps
    stack.up()
    assert kube.get("deployment", "es-logging-client", "-n", NS)["spec"]["replicas"] == 3
    wait_until_ns(kube, "3 client pods", lambda: len(running_pods(kube, "client")) == 3)


def test_changing_kubeconfig_updates_only_pod_templates(stack: Stack):
    stack.pulumi("config", "set", "--path", "kubeconfig.hostPath", "/etc/kubernetes/kubelet.conf")
    try:
        steps = stack.preview_steps()
        changed = sorted((s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps)
        assert changed == [
            ("update", "es-logging-daemonset-es-logging-data"),
            ("update", "es-logging-daemonset-es-logging-master"),
            ("update", "es-logging-deployment-es-logging-client"),
        ], steps
        for s in steps:
            old, new = s["oldState"]["inputs"], s["newState"]["inputs"]
            assert old["spec"]["template"] != new["spec"]["template"], s["urn"]
            assert without_template(old) == without_template(new), s["urn"]
    finally:
        stack.pulumi("config", "set", "--path", "kubeconfig.hostPath", "/srv/kubernetes/kubeconfig")
    stack.pulumi("preview", "--expect-no-changes")


def test_bad_config_fails_with_the_components_message_and_leaves_the_stack_untouched(stack: Stack, kube: Kube):
    before = stack.export()["deployment"]["resources"]
    live_before = kube.get("daemonset", "es-logging-master", "-n", NS)["metadata"]["resourceVersion"]
    stack.pulumi("config", "set", "--path", "nodeGroups.master.replicas", "--", "-1")
    try:
        for command in (("preview",), ("up", "--yes", "--skip-preview")):
            proc = stack.pulumi(*command, check=False)
            out = proc.stdout + proc.stderr
            assert proc.returncode != 0, out
            assert "nodeGroups.master.replicas: must be a whole number >= 0, got -1" in out, out
            assert "Traceback" not in out, out
    finally:
        stack.pulumi("config", "set", "--path", "nodeGroups.master.replicas", "3")
    assert stack.export()["deployment"]["resources"] == before
    assert kube.get("daemonset", "es-logging-master", "-n", NS)["metadata"]["resourceVersion"] == live_before


def test_a_rollout_that_cannot_succeed_fails_within_its_bound_and_the_others_keep_serving(stack: Stack, kube: Kube):
    config = stack.config()
    before = {p["metadata"]["name"] for p in running_pods(kube, "data")}
    broken = copy.deepcopy(config)
    broken["rolloutTimeout"] = "15s"
    # No node can hold a pod asking for 1000 CPUs: the updated pod stays Pending.
    broken["nodeGroups"]["data"]["resources"]["requests"]["cpu"] = "1000"
    stack.write_config(broken)
    try:
        start = time.monotonic()
        proc = stack.pulumi("up", "--yes", "--skip-preview", check=False)
        elapsed = time.monotonic() - start
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out
        # The data DaemonSet (2 planned pods) had 2 x 15 s, not the provider's ten minutes.
        assert elapsed < 180, (elapsed, out)
        # The provider names the workload, how far it got (the new pod is not scheduled, so the
        # controller may count it updated or not yet), and that it timed out.
        assert "es-logging-daemonset-es-logging-data" in out and "timed out" in out, out
        assert re.search(r"Updated: [01]/2", out), out
        # One pod at a time: the other data pod was never touched and still serves; the new
        # one is Pending, unschedulable for lack of CPU (what kubectl get pods shows).
        still = {p["metadata"]["name"] for p in running_pods(kube, "data")}
        assert len(still & before) == len(before) - 1, (before, still, kube.describe(NS))
        [pending] = [p for p in pods(kube, "data") if p["status"].get("phase") == "Pending"]
        [scheduled] = [c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled"]
        assert scheduled["reason"] == "Unschedulable" and "Insufficient cpu" in scheduled["message"], scheduled
    finally:
        # Converge even when an assertion above failed, so the tests after this one start from
        # a healthy cluster.
        stack.write_config(config)
        stack.up()
    wait_until_ns(kube, "both data pods running", lambda: len(running_pods(kube, "data")) == 2)
    stack.pulumi("preview", "--expect-no-changes")


def test_labelling_a_node_adds_exactly_one_master_pod_without_pulumi(stack: Stack, kube: Kube):
    # A kwok node: the session's real nodes are tainted, and this group does not tolerate it.
    spare = [n["metadata"]["name"] for n in kube.items("nodes", "-l", f"type=kwok,!{MASTER_LABEL},!kube-system/es-data-node")]
    assert spare, "the local cluster should have an unlabelled kwok node"
    before = {p["metadata"]["name"] for p in running_pods(kube, "master")}
    kube.run("label", "node", spare[0], f"{MASTER_LABEL}=true")
    try:
        after = wait_until_ns(kube, "a fourth master pod", lambda: len(running_pods(kube, "master")) == 4 and running_pods(kube, "master"))
        new = [p for p in after if p["metadata"]["name"] not in before]
        assert len(new) == 1 and new[0]["spec"]["nodeName"] == spare[0], kube.describe(NS)
        ips, _ = wait_until_ns(kube, "4 transport endpoints", lambda: len((v := endpoint_view(kube, "es-logging-transport"))[0]) == 4 and v)
        assert new[0]["status"]["podIP"] in ips
    finally:
        kube.run("label", "node", spare[0], f"{MASTER_LABEL}-")
    wait_until_ns(kube, "back to 3 master pods", lambda: len(pods(kube, "master")) == 3)


def evict_all_at_once(kube: Kube, pods: list[str], tmp: Path) -> list[subprocess.CompletedProcess]:
    """Ask the eviction API (what kubectl drain uses) to evict every pod, all requests at once."""

    def evict(pod: str) -> subprocess.CompletedProcess:
        body = tmp / f"eviction-{pod}.json"
        body.write_text(json.dumps({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": NS}}))
        return kube.run("create", "--raw", f"/api/v1/namespaces/{NS}/pods/{pod}/eviction", "-f", str(body), check=False)

    with ThreadPoolExecutor(len(pods)) as pool:
        return list(pool.map(evict, pods))


@pytest.mark.parametrize("group, healthy", [("master", 3), ("data", 2)])
def test_evictions_stop_at_the_quorum_and_at_the_data_budget(stack: Stack, kube: Kube, tmp_path: Path, group: str, healthy: int):
    # Masters: 3 with a quorum of 2, so one may go. Data: 2 planned, one at a time.
    budget = f"es-logging-{group}"
    wait_until_ns(
        kube,
        f"{budget} healthy with one disruption allowed",
        lambda: (st := kube.get("pdb", budget, "-n", NS)["status"]).get("currentHealthy") == healthy and st.get("disruptionsAllowed") == 1,
    )
    names = sorted(p["metadata"]["name"] for p in running_pods(kube, group))
    assert len(names) == healthy
    results = evict_all_at_once(kube, names, tmp_path)
    evicted = [r for r in results if r.returncode == 0]
    refused = [r for r in results if r.returncode != 0]
    assert len(evicted) == 1, [(r.returncode, r.stderr) for r in results]
    assert all("disruption budget" in r.stderr for r in refused), [r.stderr for r in refused]
    wait_until_ns(kube, f"{group} pods back to {healthy}", lambda: len(running_pods(kube, group)) == healthy)


def test_destroy_removes_every_object(stack: Stack, kube: Kube):
    stack.pulumi("destroy", "--yes", "--skip-preview")
    wait_until_ns(kube, "the namespace to be gone", lambda: not kube.exists("namespace", NS), timeout=120)
    leftovers = kube.run("get", "all,pdb,sa,role,rolebinding,endpoints", "-A", "-l", MANAGED, "-o", "name").stdout.strip()
    assert leftovers == ""
    assert stack.export()["deployment"].get("resources") in (None, [])
