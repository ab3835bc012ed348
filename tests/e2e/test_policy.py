"""The policy pack through the real CLI: `pulumi preview --policy-pack` against the local
cluster. It passes the dev and local stacks, and each rule fires on a stack that breaks it,
whether the break comes from stack config or from a consumer patching the component's objects."""

from __future__ import annotations

import copy
import re
import textwrap
from typing import Any

import pytest

from es_cluster.stack import config_from_file

from .conftest import ROOT, Stack, seed_config

PACK = str(ROOT / "policy")
PRODUCTION = str(ROOT / "policy" / "production.json")

# A consumer's program that patches the component's workloads with a transformation, the way
# users bend a component's output; `policytest:patch` picks the patch.
PATCHED_PROGRAM = textwrap.dedent(
    """
    import copy

    import pulumi

    from es_cluster import EsCluster, parse_stack_config
    from es_cluster.stack import config_from_runtime


    def containers(props):
        return props["spec"]["template"]["spec"]["containers"]


    def privileged(props):
        sc = containers(props)[0]["securityContext"]
        sc["privileged"] = True
        sc["capabilities"]["add"].append("SYS_ADMIN")


    def writable_kubeconfig(props):
        for m in containers(props)[0]["volumeMounts"]:
            if m["mountPath"] == "/kubeconfig":
                m["readOnly"] = False


    def stale_min_masters(props):
        if props["metadata"]["name"].endswith("-client"):
            for e in containers(props)[0]["env"]:
                if e["name"] == "MIN_MASTERS":
                    e["value"] = "1"


    def tagged_image(props):
        containers(props)[0]["image"] = "localhost:5000/es-kubernetes:latest"


    PATCHES = {f.__name__: f for f in (privileged, writable_kubeconfig, stale_min_masters, tagged_image)}
    patch = PATCHES[pulumi.Config("policytest").require("patch")]


    def transform(args):
        if not args.type_.startswith("kubernetes:apps/v1:"):
            return None
        props = copy.deepcopy(args.props)
        patch(props)
        return pulumi.ResourceTransformationResult(props, args.opts)


    EsCluster("es-logging", parse_stack_config(config_from_runtime()), opts=pulumi.ResourceOptions(transformations=[transform]))
    """
)


def policy_report(output: str) -> dict[str, list[str]]:
    """Policy name -> the messages `pulumi preview` printed under Policies: (the indented block
    that follows it). Each entry is a `- [level]  policy  (resource)` line, maybe the rule's
    description, then the message as its last line."""
    report: dict[str, list[str]] = {}
    lines = output.split("Policies:", 1)[1].splitlines()[1:] if "Policies:" in output else []
    section = "\n".join(lines[: next((i for i, ln in enumerate(lines) if ln and not ln[0].isspace()), len(lines))])
    for block in re.split(r"\n\s+- \[", section)[1:]:
        head, *rest = block.splitlines()
        m = re.match(r"(\w+)\]\s+(\S+)", head)
        assert m, head
        report.setdefault(m.group(2), []).append([ln.strip() for ln in rest if ln.strip()][-1])
    return report


def preview(stack: Stack, *extra: str) -> tuple[int, dict[str, list[str]], str]:
    proc = stack.pulumi("preview", "--policy-pack", PACK, *extra, check=False)
    out = proc.stdout + proc.stderr
    return proc.returncode, policy_report(out), out


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    return make_stack("policy", seed_config())


@pytest.fixture(scope="module")
def patched(make_stack) -> Stack:
    s = make_stack("patched", seed_config())
    (s.dir / "__main__.py").write_text(PATCHED_PROGRAM)
    return s


def with_config(stack: Stack, config: dict[str, Any]) -> Stack:
    stack.write_config(config)
    return stack


def test_the_dev_stack_passes(stack):
    # The dev stack builds its image, so the digest is unknown in a preview: that rule says it
    # cannot run yet (advisory) and nothing else is reported.
    rc, report, out = preview(with_config(stack, config_from_file(ROOT / "Pulumi.dev.yaml")))
    assert rc == 0, out
    assert "es-cluster@v0.1.0" in out
    assert set(report) <= {"es-image-digest"}, report
    assert all("can't run policy 'es-image-digest'" in m for m in report.get("es-image-digest", [])), report


def test_the_binary_form_runs_the_same_pack(stack):
    config = seed_config()
    config["nodeGroups"]["master"]["replicas"] = 2
    with_config(stack, config)
    proc = stack.pulumi("preview", "--policy-pack", str(ROOT / "policy" / "run"), check=False)
    assert proc.returncode != 0, proc.stdout
    assert policy_report(proc.stdout + proc.stderr) == {
        "es-master-count": ["cluster elasticsearch/es-logging: 2 master-eligible nodes is an even number; use an odd count (3 is usual)"]
    }, proc.stdout


def test_the_local_stack_passes_as_production(stack):
    rc, report, out = preview(with_config(stack, seed_config()), "--policy-pack-config", PRODUCTION)
    assert rc == 0, out
    assert report == {}, out


@pytest.mark.parametrize(
    "masters, production, expected",
    [
        (2, False, "cluster elasticsearch/es-logging: 2 master-eligible nodes is an even number; use an odd count (3 is usual)"),
        (1, True, "cluster elasticsearch/es-logging: 1 master-eligible node(s) in a production stack; use at least 3"),
    ],
)
def test_master_count_fires(stack, masters, production, expected):
    config = seed_config()
    config["nodeGroups"]["master"]["replicas"] = masters
    rc, report, out = preview(with_config(stack, config), *(["--policy-pack-config", PRODUCTION] if production else []))
    assert rc != 0, out
    assert report == {"es-master-count": [expected]}, out


def test_one_master_passes_outside_production(stack):
    config = seed_config()
    config["nodeGroups"]["master"]["replicas"] = 1
    rc, report, out = preview(with_config(stack, config))
    assert (rc, report) == (0, {}), out


def test_heap_size_fires(stack):
    config = copy.deepcopy(seed_config())
    config["nodeGroups"]["client"].update(heapSize="2g", resources={"limits": {"memory": "3Gi"}})
    rc, report, out = preview(with_config(stack, config))
    assert rc != 0, out
    assert report == {
        "es-heap-size": [
            "Deployment elasticsearch/es-logging-client container elasticsearch: ES_HEAP_SIZE 2g is more than half "
            "the memory limit 3Gi; Lucene needs the rest"
        ]
    }, out


@pytest.mark.parametrize(
    "patch, policy, count, fragment",
    [
        ("privileged", "es-no-privilege", 6, "adds capabilities SYS_ADMIN; only CHOWN, IPC_LOCK, SETGID, SETUID are allowed"),
        ("writable_kubeconfig", "es-kubeconfig-read-only", 3, "the kubeconfig at /kubeconfig is mounted writable; set readOnly: true"),
        ("stale_min_masters", "es-min-masters", 1, "sets MIN_MASTERS=1, but 3 master-eligible node(s) need 2 (3/2+1)"),
        ("tagged_image", "es-image-digest", 3, "image 'localhost:5000/es-kubernetes:latest' is not pinned by digest"),
    ],
)
def test_patched_objects_fire(patched, patch, policy, count, fragment):
    patched.pulumi("config", "set", "policytest:patch", patch)
    rc, report, out = preview(patched)
    assert rc != 0, out
    assert set(report) == {policy}, out
    assert len(report[policy]) == count and all(fragment in m or "runs privileged" in m for m in report[policy]), report
