"""The image pipeline with a real Docker engine and registry, through the real engine: build
from image/, push, pods by digest; nothing rebuilt when image/ is unchanged; one changed byte
rolls every Elasticsearch workload.

The field report's base image cannot be pulled here, so the build runs on a stand-in base made
with `docker import` (only the folders the Dockerfile copies into): this proves our build,
push and digest wiring, not Elasticsearch itself."""

from __future__ import annotations

import io
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import REGISTRY_PORT, ROOT, Kube, Stack, building_from_own_copy, run, seed_config

NS = "elasticsearch"
REPOSITORY = f"localhost:{REGISTRY_PORT}/es-kubernetes"
STAND_IN_BASE = "es-cluster-e2e/stand-in-base:1"
WORKLOADS = [("daemonset", "es-logging-master"), ("daemonset", "es-logging-data"), ("deployment", "es-logging-client")]


@pytest.fixture(scope="module")
def stand_in_base(docker_env) -> str:
    """A base image holding just the folders our Dockerfile copies into."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in [
            "elasticsearch",
            "elasticsearch/config",
            "usr",
            "usr/lib",
            "usr/lib/jvm",
            "usr/lib/jvm/default-jvm",
            "usr/lib/jvm/default-jvm/jre",
            "usr/lib/jvm/default-jvm/jre/lib",
            "usr/lib/jvm/default-jvm/jre/lib/security",
        ]:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    proc = run(["docker", "import", "-", STAND_IN_BASE], env=docker_env, check=False, input_bytes=buf.getvalue())
    assert proc.returncode == 0, proc.stderr
    return STAND_IN_BASE


@pytest.fixture(scope="module")
def stack(make_stack, docker_env, stand_in_base) -> Stack:
    config = seed_config()
    config["image"] = {"repository": REPOSITORY, "baseImage": stand_in_base, "push": True}
    s = building_from_own_copy(make_stack("image", config), docker_env)
    # With the policy pack: during up the digest is known, so es-image-digest really checks it.
    s.first_up = s.pulumi("up", "--yes", "--skip-preview", "--policy-pack", str(ROOT / "policy" / "run"))
    return s


def registry_digest(tag: str) -> str:
    req = urllib.request.Request(
        f"http://127.0.0.1:{REGISTRY_PORT}/v2/es-kubernetes/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"]


def built_tag(stack: Stack) -> str:
    [res] = [r for r in stack.export()["deployment"]["resources"] if r["type"] == "pulumi-python:dynamic:Resource"]
    return res["outputs"]["tag"]


def image_state(stack: Stack) -> dict[str, Any]:
    """The build resource's id and outputs, less the dynamic provider's pickled code, which the
    engine re-encrypts (new nonce) on every run."""
    [res] = [r for r in stack.export()["deployment"]["resources"] if r["type"] == "pulumi-python:dynamic:Resource"]
    return {"id": res["id"], **{k: v for k, v in res["outputs"].items() if k != "__provider"}}


def rollout_state(kube: Kube) -> tuple[dict[str, int], set[str]]:
    """Each workload's spec generation, and the pods' names: any roll changes one of them."""
    generations = {name: kube.get(kind, name, "-n", NS)["metadata"]["generation"] for kind, name in WORKLOADS}
    pods = {p["metadata"]["name"] for p in kube.items("pods", "-n", NS)}
    return generations, pods


def live_images(kube: Kube) -> dict[str, str]:
    out = {}
    for kind, name in WORKLOADS:
        spec: dict[str, Any] = kube.get(kind, name, "-n", NS)["spec"]["template"]["spec"]
        out[name] = spec["containers"][0]["image"]
    return out


def test_up_builds_pushes_and_pods_use_the_pushed_digest(stack: Stack, kube: Kube):
    ref = stack.outputs()["imageRef"]
    tag = built_tag(stack)
    assert ref == f"{REPOSITORY}@{registry_digest(tag)}"
    assert set(live_images(kube).values()) == {ref}
    out = stack.first_up.stdout
    assert "es-cluster@v0.1.0" in out and "can't run policy" not in out and "[mandatory]" not in out, out


def test_built_image_holds_our_files_where_es_and_the_jvm_read_them(stack: Stack, docker_env):
    container = run(["docker", "create", stack.outputs()["imageRef"], "none"], env=docker_env).stdout.strip()
    try:
        for src, dest in [
            ("elasticsearch.yml", "/elasticsearch/config/elasticsearch.yml"),
            ("java.policy", "/usr/lib/jvm/default-jvm/jre/lib/security/java.policy"),
        ]:
            proc = run(["docker", "cp", f"{container}:{dest}", "-"], env=docker_env, binary=True)
            with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
                member = tar.extractfile(Path(dest).name)
                assert member is not None and member.read() == (stack.dir / "image" / src).read_bytes()
    finally:
        run(["docker", "rm", container], env=docker_env, check=False)


def test_unchanged_image_dir_builds_nothing_and_changes_nothing(stack: Stack, kube: Kube):
    image_before, rollout_before = image_state(stack), rollout_state(kube)
    stack.pulumi("preview", "--expect-no-changes")
    # The engine fails this run if any step would build, push or update anything.
    stack.pulumi("up", "--yes", "--expect-no-changes")
    assert image_state(stack) == image_before
    assert rollout_state(kube) == rollout_before


def test_one_changed_byte_rolls_every_es_workload(stack: Stack, kube: Kube):
    old_ref, old_tag = stack.outputs()["imageRef"], built_tag(stack)
    yml = stack.dir / "image" / "elasticsearch.yml"
    yml.write_bytes(yml.read_bytes() + b"\n")
    steps = stack.preview_steps()
    changed = sorted((s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps)
    assert changed == sorted(
        [
            ("replace", "es-logging-image"),
            ("update", "es-logging-daemonset-es-logging-data"),
            ("update", "es-logging-daemonset-es-logging-master"),
            ("update", "es-logging-deployment-es-logging-client"),
        ]
    ), changed
    stack.up()
    new_ref, new_tag = stack.outputs()["imageRef"], built_tag(stack)
    assert new_tag != old_tag and new_ref != old_ref
    assert new_ref == f"{REPOSITORY}@{registry_digest(new_tag)}"
    assert set(live_images(kube).values()) == {new_ref}
