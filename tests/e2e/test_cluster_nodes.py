"""`scripts/cluster.sh down` after a real node ran a pod leaves the machine as it was: no
process, mount, interface, iptables rule, cgroup or sysctl of ours.

It runs a one-node cluster of its own (state, ports, pod network), before the session's cluster
starts: kube-proxy rewrites the machine's KUBE-* chains, so only one cluster with real nodes can
run at a time (scripts/cluster-nodes.sh refuses a second), and this module's name sorts first."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import ROOT, run, wait_until

STATE = ROOT / ".state" / "e2e-down"
BASE = "16480"
POD_NET = "10.91"


def machine() -> dict[str, object]:
    """What a node could leave behind, as the host sees it."""
    path = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    rules = run(["iptables-save"], env=path).stdout + run(["ip6tables-save"], env=path).stdout
    return {
        "processes": sorted(
            p.name for p in Path("/proc").iterdir() if p.name.isdigit() and str(STATE) in _read(p / "cmdline").replace("\0", " ")
        ),
        "mounts": [line for line in _read(Path("/proc/self/mountinfo")).splitlines() if str(STATE) in line],
        "interfaces": sorted(re.findall(r"^\d+: ([^:@]+)", run(["ip", "-o", "link"], env=path).stdout, re.M)),
        # Rules and chains, without the packet counters that move on their own.
        "iptables": [re.sub(r"\[\d+:\d+\]", "", line) for line in rules.splitlines() if not line.startswith("#")],
        "cgroups": sorted(str(d) for d in Path("/sys/fs/cgroup").glob(f"*/es-{BASE}-node-*")),
        "sysctl": {
            k: _read(Path("/proc/sys") / k.replace(".", "/")) for k in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables")
        },
        "paths": {p: Path(p).exists() for p in ("/tenxcloud", "/srv/kubernetes")},
        "netns": sorted(p.name for p in Path("/run/netns").glob("*")),
    }


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def test_cluster_down_leaves_nothing_after_a_real_node_ran_a_pod(tool_env):
    env = {
        **tool_env,
        "ES_CLUSTER_STATE": str(STATE),
        "ES_CLUSTER_PORT_BASE": BASE,
        "ES_CLUSTER_POD_NET": POD_NET,
        "REAL_NODES": "1",
        "KWOK_NODES": "0",
    }
    script = str(ROOT / "scripts" / "cluster.sh")
    run([script, "down"], env=env)
    before = machine()
    try:
        run([script, "up"], env=env, timeout=900)
        kube = {**env, "KUBECONFIG": str(STATE / "kubeconfig")}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sleeper", "namespace": "default"},
            # The node's own pause image, imported at start: this needs no registry.
            "spec": {"containers": [{"name": "c", "image": "es-cluster.local/pause:1", "imagePullPolicy": "Never"}]},
        }
        run(["kubectl", "apply", "-f", "-"], env=kube, input_bytes=json.dumps(pod).encode())

        def running():
            status = json.loads(run(["kubectl", "get", "pod", "sleeper", "-o", "json"], env=kube).stdout)["status"]
            return status.get("phase") == "Running" and status.get("podIP", "").startswith(POD_NET + ".")

        wait_until("a pod running on the real node", running, timeout=120)
        during = machine()
        # Something really was there to clean up.
        assert during["processes"] and during["cgroups"] and f"esbr{BASE}" in during["interfaces"]
    finally:
        run([script, "down"], env=env, check=False)
    after = machine()
    for key in before:
        assert after[key] == before[key], key
