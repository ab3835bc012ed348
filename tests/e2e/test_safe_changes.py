"""Changing a running cluster, through the real CLI on kwok nodes: the impact summary on every
preview and up, the changes refused because they lose quorum or data, the override, the roll
order, and the record of the last deploy surviving a refresh and a failed `up`.

The tests run in file order and share one stack: masters 3, data 2, client 1, as Deployments
with emptyDir storage (kwok nodes bind no volume claims)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from .conftest import PREBUILT_IMAGE, Kube, Stack

NS = "safe"
RECORD = "es-cluster:safe"
WORKLOADS = {g: f"safe-deployment-safe-{g}" for g in ("master", "data", "client")}
OTHER_IMAGE = "localhost:5000/es-kubernetes@sha256:" + "1" * 64


def config() -> dict[str, Any]:
    return {
        "clusterName": "safe",
        "namespace": NS,
        "image": {"reference": PREBUILT_IMAGE},
        "nodeGroups": {
            "master": {"roles": ["master"], "replicas": 3, "workload": "Deployment", "heapSize": "256m"},
            "data": {"roles": ["data"], "replicas": 2, "workload": "Deployment", "heapSize": "256m"},
            "client": {"roles": ["client"], "replicas": 1, "workload": "Deployment", "heapSize": "256m"},
        },
    }


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    return make_stack("safe", config())


def info(proc_json: str) -> list[str]:
    """The info diagnostics of `pulumi preview --json`: where the component prints its summary."""
    return [d["message"].rstrip("\n") for d in json.loads(proc_json).get("diagnostics", []) if d.get("severity") == "info"]


def summary_of(stack: Stack) -> str:
    [summary] = [m for m in info(stack.pulumi("preview", "--json").stdout) if m.startswith("es-cluster:")]
    return summary


def live_versions(kube: Kube) -> dict[str, str]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for kind in ("deployments", "services", "poddisruptionbudgets", "serviceaccounts", "roles", "rolebindings", "networkpolicies")
        for o in kube.items(kind, "-n", NS)
    }


def test_the_first_up_says_it_is_a_first_deploy_and_records_the_cluster(stack: Stack):
    out = stack.up().stdout
    assert "es-cluster: first deploy: masters 3 (quorum 2); creates data (2), client (1), master (3)" in out, out
    record = stack.outputs()[RECORD]
    assert record["impact"]["firstDeploy"] is True
    assert {g: r["replicas"] for g, r in record["deployed"]["groups"].items()} == {"master": 3, "data": 2, "client": 1}


def test_a_preview_without_changes_says_so_in_one_line(stack: Stack):
    assert summary_of(stack) == "es-cluster: no change to the running cluster"
    stack.pulumi("preview", "--expect-no-changes")


def test_the_record_survives_a_refresh(stack: Stack):
    stack.pulumi("refresh", "--yes", "--skip-preview")
    assert summary_of(stack) == "es-cluster: no change to the running cluster"


@pytest.mark.parametrize(
    "change, key, kind",
    [
        (lambda c: c["nodeGroups"]["master"].update(replicas=1), "nodeGroups.master.replicas", "quorumLoss"),
        (lambda c: c["nodeGroups"]["data"].update(replicas=0), "nodeGroups.data.replicas", "dataScaleDown"),
        (
            lambda c: c["nodeGroups"]["data"].update(workload="StatefulSet", storage={"size": "1Gi"}),
            "nodeGroups.data.workload",
            "dataReplace",
        ),
    ],
    ids=["quorumLoss", "dataScaleDown", "dataReplace"],
)
def test_a_change_that_loses_quorum_or_data_is_refused_and_touches_nothing(stack: Stack, kube: Kube, change, key, kind):
    original = stack.config()
    state_before, live_before = stack.export()["deployment"]["resources"], live_versions(kube)
    record_before = stack.outputs()[RECORD]
    changed = copy.deepcopy(original)
    change(changed)
    stack.write_config(changed)
    try:
        for command in (("preview",), ("up", "--yes", "--skip-preview")):
            proc = stack.pulumi(*command, check=False)
            out = proc.stdout + proc.stderr
            assert proc.returncode != 0, out
            # The key, the risk, and the override, in the error; no traceback.
            assert f"error: {key}: " in out and f"set es-cluster:allowDisruptive to [{kind}] (or true)" in out, out
            assert "Traceback" not in out, out
    finally:
        stack.write_config(original)
    assert stack.export()["deployment"]["resources"] == state_before
    assert live_versions(kube) == live_before
    assert stack.outputs()[RECORD] == record_before


def test_a_failed_rollout_of_the_first_group_stops_the_others_and_keeps_the_old_record(stack: Stack, kube: Kube):
    # A new image restarts every group; the data group, rolled first, cannot become ready.
    original = stack.config()
    broken = copy.deepcopy(original)
    broken["image"] = {"reference": OTHER_IMAGE}
    broken["rolloutTimeout"] = "15s"
    broken["nodeGroups"]["data"]["resources"] = {"requests": {"cpu": "1000"}}
    generations = {g: kube.get("deployment", f"safe-{g}", "-n", NS)["metadata"]["generation"] for g in ("client", "master")}
    stack.write_config(broken)
    try:
        proc = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    finally:
        stack.write_config(original)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "roll order: data -> client -> master" in out, out
    assert WORKLOADS["data"] in out and "timed out" in out, out
    # The client and master rollouts never started: their Deployments are as they were.
    for group, generation in generations.items():
        live = kube.get("deployment", f"safe-{group}", "-n", NS)
        assert live["metadata"]["generation"] == generation, group
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == PREBUILT_IMAGE, group
    # The record is still the last deploy that succeeded: the image there is the old one.
    template = stack.outputs()[RECORD]["deployed"]["groups"]["data"]["template"]
    assert template["spec"]["containers"][0]["image"] == PREBUILT_IMAGE


def rollout_events(engine_events: str) -> dict[tuple[str, str], int]:
    """(workload, "pre" | "outputs") -> the engine event's sequence number, for the updates, from
    the event stream `pulumi up --json` prints (one JSON event per line)."""
    seen: dict[tuple[str, str], int] = {}
    for line in engine_events.splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        for key, tag in (("resourcePreEvent", "pre"), ("resOutputsEvent", "outputs")):
            meta = (event.get(key) or {}).get("metadata") or {}
            name = meta.get("urn", "").rsplit("::", 1)[-1]
            if name in WORKLOADS.values() and meta.get("op") == "update":
                seen[(name, tag)] = event["sequence"]
    return seen


def test_the_override_lets_a_refused_change_through_and_groups_roll_data_first_masters_last(stack: Stack, kube: Kube):
    # The new image (what the failed up did not finish) and 3 -> 1 masters, allowed.
    changed = stack.config()
    changed["image"] = {"reference": OTHER_IMAGE}
    changed["nodeGroups"]["master"]["replicas"] = 1
    changed["allowDisruptive"] = ["quorumLoss"]
    stack.write_config(changed)
    summary = summary_of(stack)
    assert summary.splitlines() == [
        "es-cluster: what this change does to the running cluster:",
        "  quorum: masters 3 (quorum 2) -> 1 (quorum 1)",
        "  data: rolling restart, one pod at a time (image, env MIN_MASTERS 2 -> 1)",
        "  client: rolling restart, one pod at a time (image, env MIN_MASTERS 2 -> 1)",
        "  master: scaled 3 -> 1; rolling restart, one pod at a time (image, env MIN_MASTERS 2 -> 1)",
        "  roll order: data -> client -> master, each group's rollout finishing before the next starts",
        "  allowed by es-cluster:allowDisruptive (quorumLoss): this takes 2 of the 3 master-eligible nodes away at once, "
        "and the 1 left cannot reach the quorum of 2 they run with, so no master can be elected until the change "
        "completes, or ever if it fails.",
    ], summary
    seq = rollout_events(stack.pulumi("up", "--yes", "--skip-preview", "--json").stdout)
    # Each group's update starts only after the previous group's rollout finished.
    data, client, master = (WORKLOADS[g] for g in ("data", "client", "master"))
    assert seq[(data, "outputs")] < seq[(client, "pre")], seq
    assert seq[(client, "outputs")] < seq[(master, "pre")], seq
    for group in ("data", "client", "master"):
        live = kube.get("deployment", f"safe-{group}", "-n", NS)
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == OTHER_IMAGE
    record = stack.outputs()[RECORD]
    assert record["impact"]["allowed"] == ["quorumLoss"]
    assert record["deployed"]["groups"]["master"]["replicas"] == 1


def test_an_override_left_set_is_flagged_once_it_allows_nothing(stack: Stack):
    proc = stack.pulumi("preview", "--json")
    assert summary_of(stack) == "es-cluster: no change to the running cluster"
    warnings = [d["message"] for d in json.loads(proc.stdout).get("diagnostics", []) if d.get("severity") == "warning"]
    assert any("allowDisruptive allows quorumLoss, and this change needs none of it" in w for w in warnings), warnings
