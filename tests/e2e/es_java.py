"""What the tests that run Elasticsearch 2.3.4's own code share: JDK 17, Maven, and the env the
component gives a pod, with the values a kubelet fills in from the downward API."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from es_cluster import parse_stack_config, specs, validate

JAVA_HOME = Path("/usr/lib/jvm/java-17-openjdk-amd64")
ES_VERSION = "2.3.4"


def java_env() -> dict[str, str]:
    return {"PATH": f"{JAVA_HOME / 'bin'}:{os.environ['PATH']}", "JAVA_HOME": str(JAVA_HOME), "HOME": os.environ.get("HOME", "/root")}


def require_java() -> None:
    if shutil.which("mvn") is None or not (JAVA_HOME / "bin" / "javac").exists():
        pytest.fail("these tests need Maven and JDK 17 (mvn, /usr/lib/jvm/java-17-openjdk-amd64), as on the CI machine")


def mvn(*args: str) -> None:
    subprocess.run(["mvn", "-q", "-B", *args], check=True, env=java_env(), timeout=900)


def pod_env(config: dict[str, Any], group_name: str, pod: str) -> dict[str, str]:
    """The container env of `group_name`'s pods, as the kubelet would start pod `pod`."""
    cluster = validate(parse_stack_config(config))
    group = next(g for g in cluster.groups if g.name == group_name)
    filled = {"metadata.name": pod, "metadata.namespace": cluster.namespace}
    return {
        e["name"]: e["value"] if "value" in e else filled[e["valueFrom"]["fieldRef"]["fieldPath"]] for e in specs.pod_env(group, cluster)
    }
