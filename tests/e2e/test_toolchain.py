"""scripts/toolchain.sh (docs/local-cluster.md, Toolchain): a tool already built at its pin is reused without a
build, and a build that fails fails the script with Go's own error, without recording the tool
as built, so the next run builds it again. Every tool is "built" here as a stub with its stamp, but
for the one under test, and Go is cut off from the module proxy, so the real failure is Go's own
and the test takes seconds."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "toolchain.sh"
TEXT = SCRIPT.read_text()


def pin(name: str) -> str:
    return re.search(rf"^{name}=(\S+)", TEXT, re.M)[1]


def docker_bridge_stamp() -> str:
    glue = hashlib.sha256((ROOT / "scripts" / "docker-bridge" / "main.go").read_bytes()).hexdigest()[:12]
    module_version = pin("TF_DOCKER_MODULE").split("@", 1)[1]
    return f"{pin('DOCKER_PROVIDER_VERSION')}+{module_version}+bridge-{pin('TF_BRIDGE_VERSION')}+glue-{glue}"


def language_host_stamp() -> str:
    stamp = re.search(r'^LANGUAGE_HOST_STAMP="(.+)"', TEXT, re.M)[1]
    return stamp.replace("$LANGUAGE_HOST_SDK_VERSION", pin("LANGUAGE_HOST_SDK_VERSION")).replace("$PULUMI_VERSION", pin("PULUMI_VERSION"))


def stubbed_cache(tmp_path: Path, leave_out: str) -> tuple[Path, dict[str, str]]:
    """A cache whose every tool is a stub stamped at its pin, but `leave_out`."""
    cache, bin_dir, home = tmp_path / "cache", tmp_path / "cache" / "bin", tmp_path / "cache" / "pulumi-home"
    bin_dir.mkdir(parents=True)
    k8s = pin("KUBERNETES_VERSION")
    stamps = {
        "pulumi": pin("PULUMI_VERSION"),
        "pulumi-language-python": language_host_stamp(),
        "pulumi-language-python-exec": pin("PULUMI_VERSION"),
        "pulumi-language-yaml": pin("YAML_HOST_VERSION"),
        **{c: k8s for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl")},
        "kwok": pin("KWOK_VERSION"),
        "coredns": pin("COREDNS_VERSION"),
        "kube-score": pin("KUBE_SCORE_VERSION"),
        "checkov": pin("CHECKOV_VERSION"),
    }
    for name, version in stamps.items():
        if name == leave_out:
            continue
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
        (bin_dir / f".{name}.version").write_text(version + "\n")
    (bin_dir / ".kwok-stages.version").write_text(f"{pin('KWOK_VERSION')}-prompt-delete-1s-jitter\n")
    k8s_plugin = home / "plugins" / f"resource-kubernetes-v{pin('K8S_PROVIDER_VERSION')}"
    docker_plugin = home / "plugins" / f"resource-docker-v{pin('DOCKER_PROVIDER_VERSION')}"
    for plugin, binary in ((k8s_plugin, "pulumi-resource-kubernetes"), (docker_plugin, "pulumi-resource-docker")):
        plugin.mkdir(parents=True)
        (plugin / binary).write_text("#!/bin/sh\nexit 0\n")
        (plugin / binary).chmod(0o755)
    (docker_plugin / ".es-cluster-stamp").write_text(docker_bridge_stamp() + "\n")
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{Path(go).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
        "ES_CLUSTER_CACHE": str(cache),
        "PULUMI_HOME": str(home),
        # No module can be fetched: a build that is attempted fails, in seconds.
        "GOPROXY": "off",
        "GOMODCACHE": str(tmp_path / "gomod"),
        "GOCACHE": str(tmp_path / "gocache"),
    }
    return bin_dir, env


def toolchain(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(autouse=True)
def _needs_etcd():
    if not shutil.which("etcd", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        pytest.skip("etcd (Debian's etcd-server) is not installed; the script would install it")


def test_every_tool_built_at_its_pin_is_reused_without_a_build(tmp_path):
    bin_dir, env = stubbed_cache(tmp_path, leave_out="")
    proc = toolchain(env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(bin_dir)
    assert "building" not in proc.stderr and proc.stderr.rstrip().endswith("done")


@pytest.mark.parametrize("tool", ["kwok", "kube-score"])
def test_a_failed_build_fails_the_script_and_records_nothing(tmp_path, tool):
    bin_dir, env = stubbed_cache(tmp_path, leave_out=tool)
    proc = toolchain(env)
    assert proc.returncode != 0
    assert f"building {tool}" in proc.stderr
    assert "GOPROXY=off" in proc.stderr, proc.stderr  # Go's own failure, shown
    assert not (bin_dir / f".{tool}.version").exists()
    assert "done" not in proc.stderr.splitlines()[-1]
    assert os.access(bin_dir / "pulumi", os.X_OK)  # what was built before is left as it was
