"""Faults in the middle of a deployment, through the real CLI on kwok nodes: the CLI killed
during a rolling update, and the API server stopping during `pulumi up`. After each, the
recovery in docs/changing.md converges, a following preview has nothing to do, and nothing is orphaned.

The tests run in file order and share one stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import PREBUILT_IMAGE, ROOT, Kube, Stack, run, wait_until

NS = "faults"
IMAGES = ["localhost:5000/es-kubernetes@sha256:" + c * 64 for c in "234"]


def config(image: str = PREBUILT_IMAGE) -> dict[str, Any]:
    """One pod with every role: the faults hit the CLI and the API server, not the cluster's
    shape, and each rolling update is one pod long."""
    return {
        "clusterName": "faults",
        "namespace": NS,
        "image": {"reference": image},
        "nodeGroups": {"all": {"roles": ["master", "data", "client"], "replicas": 1, "workload": "Deployment", "heapSize": "256m"}},
    }


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    s = make_stack("faults", config())
    s.up()
    return s


def start_up(stack: Stack) -> subprocess.Popen:
    """`pulumi up` in a session of its own, so the plugins it starts can be found afterwards."""
    return subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", stack.name, "--non-interactive"],
        cwd=stack.dir,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def session_processes(sid: int) -> list[tuple[int, str]]:
    """Live processes of session `sid`: the CLI and every plugin it started."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append((int(entry.name), cmd))
    return out


def kill_if_alive(pid: int) -> None:
    """SIGKILL a left-behind plugin; one may have noticed its CLI was gone and exited already."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def rollout_started(kube: Kube, image: str) -> bool:
    """The Deployment has a pod template with `image`: the update is under way."""
    live = kube.get("deployment", "faults-all", "-n", NS)
    return live["spec"]["template"]["spec"]["containers"][0]["image"] == image


def images(kube: Kube) -> dict[str, str]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"] for d in kube.items("deployments", "-n", NS)}


def managed_objects(kube: Kube) -> set[tuple[str, str]]:
    """The namespace's objects the component declares, as the API server holds them."""
    kinds = ("deployments", "services", "poddisruptionbudgets", "serviceaccounts", "roles", "rolebindings", "networkpolicies")
    return {
        (o["kind"], o["metadata"]["name"])
        for kind in kinds
        for o in kube.items(kind, "-n", NS, "-l", "app.kubernetes.io/managed-by=es-cluster")
    }


def declared_objects(stack: Stack) -> set[tuple[str, str]]:
    """The Kubernetes objects the stack's state holds."""
    state = stack.export()["deployment"]["resources"]
    return {
        (r["type"].rsplit(":", 1)[1], r["outputs"]["metadata"]["name"])
        for r in state
        if r["type"].startswith("kubernetes:") and r["type"] != "kubernetes:core/v1:Namespace" and "pulumi:providers" not in r["type"]
    }


def test_after_the_cli_is_killed_mid_rollout_the_documented_recovery_converges(stack: Stack, kube: Kube):
    stack.write_config(config(IMAGES[0]))
    proc = start_up(stack)
    try:
        wait_until("the rollout to start", lambda: rollout_started(kube, IMAGES[0]) or proc.poll() is not None, timeout=300, interval=0.2)
        assert proc.poll() is None, proc.communicate()[0].decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        # The kill leaves the language host, the program and the provider running: end them.
        left = session_processes(proc.pid)
        for pid, _ in left:
            kill_if_alive(pid)
    print("left behind by the kill:", left)

    # The lock of the killed run refuses the next one, naming `pulumi cancel`.
    locked = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    assert locked.returncode != 0 and "pulumi cancel" in locked.stdout + locked.stderr, locked
    # The recovery docs/changing.md gives: cancel, refresh, up.
    stack.pulumi("cancel", "--yes")
    stack.pulumi("refresh", "--yes", "--skip-preview")
    stack.up()
    stack.pulumi("preview", "--expect-no-changes")
    assert set(images(kube).values()) == {IMAGES[0]}
    assert managed_objects(kube) == declared_objects(stack)
    assert session_processes(proc.pid) == []


def test_an_api_server_outage_during_up_fails_clearly_or_resumes_and_a_rerun_converges(stack: Stack, kube: Kube, cluster_env):
    script = str(ROOT / "scripts" / "cluster.sh")
    stack.write_config(config(IMAGES[1]))
    proc = start_up(stack)
    try:
        wait_until("the rollout to start", lambda: rollout_started(kube, IMAGES[1]) or proc.poll() is not None, timeout=300)
        run([script, "apiserver-stop"], env=cluster_env)
        assert kube.run("get", "--raw", "/readyz", check=False).returncode != 0
        # The fault: 20 s without an API server while the provider waits on the rollout. Its
        # length is the experiment's input; the verdict comes from what happens after it.
        time.sleep(20)
    finally:
        run([script, "apiserver-start"], env=cluster_env)
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        for pid, _ in session_processes(proc.pid):
            kill_if_alive(pid)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        # A clear failure: the provider's words about the connection, no Python traceback.
        assert "Traceback" not in text, text
        assert "connection refused" in text or "the server is currently unable" in text or "timed out" in text, text
    stack.up()
    stack.pulumi("preview", "--expect-no-changes")
    assert set(images(kube).values()) == {IMAGES[1]}
    assert managed_objects(kube) == declared_objects(stack)
    report = {"returncode": proc.returncode, "tail": text[-1500:]}
    print(json.dumps(report))
