"""The image pipeline with a real Docker engine and registry, through the real engine: build
from image/, push, pods by digest; nothing rebuilt when image/ is unchanged; one changed byte
rolls every Elasticsearch workload.

The field report's base image cannot be pulled here, so the build runs on a stand-in base made
with `docker import` (only the folders the Dockerfile copies into): this proves our build,
push and digest wiring, not Elasticsearch itself."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import REGISTRY_PORT, ROOT, Kube, Stack, building_from_own_copy, registry_digest, run, seed_config

NS = "elasticsearch"
REPOSITORY = f"localhost:{REGISTRY_PORT}/es-kubernetes"
# One pod per role, each group its own Deployment: every image change rolls three workloads, one
# pod each (a kwok pod roll is what costs time here).
WORKLOADS = [("deployment", "es-logging-master"), ("deployment", "es-logging-data"), ("deployment", "es-logging-client")]


@pytest.fixture(scope="module")
def stack(make_stack, docker_env, stand_in_base) -> Stack:
    config = seed_config()
    config["image"] = {"repository": REPOSITORY, "baseImage": stand_in_base, "push": True, "insecureRegistry": True}
    config["nodeGroups"] = {
        role: {"roles": [role], "replicas": 1, "workload": "Deployment", "heapSize": "256m"} for role in ("master", "data", "client")
    }
    s = building_from_own_copy(make_stack("image", config), docker_env)
    # With the policy pack: during up the digest is known, so es-image-digest really checks it.
    s.first_up = s.pulumi("up", "--yes", "--skip-preview", "--policy-pack", str(ROOT / "policy" / "run"))
    return s


REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
REGISTRY_IMAGE = "docker:index/registryImage:RegistryImage"


def resource_of(stack: Stack, typ: str) -> dict[str, Any]:
    [res] = [r for r in stack.export()["deployment"]["resources"] if r["type"] == typ]
    return res


def built_tag(stack: Stack) -> str:
    return resource_of(stack, REMOTE_IMAGE)["outputs"]["name"].rsplit(":", 1)[1]


def image_state(stack: Stack) -> dict[str, Any]:
    """The build's and the push's ids and what they produced (secret fields are left out: the
    engine re-encrypts them with a new nonce whenever it writes the state)."""
    build, push = resource_of(stack, REMOTE_IMAGE), resource_of(stack, REGISTRY_IMAGE)
    return {
        "build": (build["id"], build["outputs"]["name"], build["outputs"]["imageId"]),
        "push": (push["id"], push["outputs"]["name"], push["outputs"]["sha256Digest"]),
    }


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
    assert ref == f"{REPOSITORY}@{registry_digest('es-kubernetes', tag)}"
    assert set(live_images(kube).values()) == {ref}
    # Built and pushed by pulumi-docker's resources, through the bridged docker plugin.
    assert resource_of(stack, REGISTRY_IMAGE)["outputs"]["sha256Digest"] == registry_digest("es-kubernetes", tag)
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


def test_same_context_in_another_folder_changes_nothing(stack: Stack):
    moved = stack.dir / "image-elsewhere"
    shutil.copytree(stack.dir / "image", moved)
    config = stack.config()
    config["image"]["context"] = str(moved)
    stack.write_config(config)
    try:
        stack.pulumi("preview", "--expect-no-changes")
    finally:
        config["image"]["context"] = str(stack.dir / "image")
        stack.write_config(config)
        shutil.rmtree(moved)


def test_one_changed_byte_rolls_every_es_workload(stack: Stack, kube: Kube):
    old_ref, old_tag = stack.outputs()["imageRef"], built_tag(stack)
    yml = stack.dir / "image" / "elasticsearch.yml"
    yml.write_bytes(yml.read_bytes() + b"\n")
    steps = stack.preview_steps()
    changed = sorted((s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps)
    assert changed == sorted(
        [
            ("replace", "es-logging-image"),
            ("replace", "es-logging-image-build"),
            ("update", "es-logging-deployment-es-logging-data"),
            ("update", "es-logging-deployment-es-logging-master"),
            ("update", "es-logging-deployment-es-logging-client"),
        ]
    ), changed
    stack.up()
    new_ref, new_tag = stack.outputs()["imageRef"], built_tag(stack)
    assert new_tag != old_tag and new_ref != old_ref
    assert new_ref == f"{REPOSITORY}@{registry_digest('es-kubernetes', new_tag)}"
    assert set(live_images(kube).values()) == {new_ref}


# The last commit whose component built the image with a Python dynamic provider (docker-py).
DYNAMIC_PROVIDER_COMMIT = "a120bf3"
DYNAMIC = "pulumi-python:dynamic:Resource"


def test_first_up_after_upgrading_from_the_dynamic_provider_swaps_the_build_cleanly(make_stack, docker_env, stand_in_base, kube: Kube):
    # One pod in all (kwok rolls a pod in about a minute): what is tested is the build resources.
    config = {
        "namespace": "es-upgrade",
        "clusterName": "es-upgrade",
        "image": {"repository": REPOSITORY, "baseImage": stand_in_base, "push": True},
        "nodeGroups": {"all": {"roles": ["master", "data", "client"], "replicas": 1, "workload": "Deployment"}},
    }
    s = building_from_own_copy(make_stack("upgrade", config), docker_env)
    # The old program, from git, against a fresh state: its component, its __main__.py and its
    # Pulumi.yaml, as a user upgrades them together.
    old_program = ["es_cluster", "__main__.py", "Pulumi.yaml"]
    current = s.dir / "current"
    current.mkdir()
    for name in old_program:
        (s.dir / name).rename(current / name)
    archive = run(["git", "-C", str(ROOT), "archive", DYNAMIC_PROVIDER_COMMIT, *old_program], env=docker_env, binary=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(s.dir, filter="data")
    s.up()
    old_types = [r["type"] for r in s.export()["deployment"]["resources"]]
    assert DYNAMIC in old_types and REMOTE_IMAGE not in old_types
    assert s.outputs()["imageRef"].startswith(f"{REPOSITORY}@sha256:")
    old_generations = {name: kube.get(kind, name, "-n", "es-upgrade")["metadata"]["generation"] for kind, name in UPGRADE_WORKLOADS}
    old_tag = next(r for r in s.export()["deployment"]["resources"] if r["type"] == DYNAMIC)["outputs"]["tag"]

    # The new component, same state: the first up swaps the build resources, and the old one's
    # delete works (es_cluster.image keeps the class its state names).
    # The one config change: the local registry speaks plain HTTP, which RegistryImage is told.
    shutil.rmtree(s.dir / "es_cluster")
    for name in old_program:
        (current / name).replace(s.dir / name)
    config = s.config()
    config["image"]["insecureRegistry"] = True
    s.write_config(config)
    steps = sorted((st["op"], (st.get("newState") or st["oldState"])["type"]) for st in s.preview_steps())
    # Besides the build: what came after that commit, the NetworkPolicy, the namespace's Pod
    # Security labels and the HTTP Service's skipAwait annotation; the workload rolls once (new
    # image, new security context).
    assert steps == sorted(
        [("create", REMOTE_IMAGE), ("create", REGISTRY_IMAGE), ("delete", DYNAMIC)]
        + [("update", "kubernetes:apps/v1:Deployment"), ("update", "kubernetes:core/v1:Namespace")]
        + [("update", "kubernetes:core/v1:Service")]
        + [("create", "kubernetes:networking.k8s.io/v1:NetworkPolicy")]
    ), steps
    s.up()
    resources = s.export()["deployment"]["resources"]
    assert DYNAMIC not in [r["type"] for r in resources]
    # pulumi-docker builds with BuildKit where the old provider used the classic builder, so the
    # image (and its digest) differs once: each ES workload rolls to it, as for any image change.
    new_ref = s.outputs()["imageRef"]
    tag = resource_of(s, REMOTE_IMAGE)["outputs"]["name"].rsplit(":", 1)[1]
    assert tag == old_tag and new_ref == f"{REPOSITORY}@{registry_digest('es-kubernetes', tag)}"
    for kind, name in UPGRADE_WORKLOADS:
        live = kube.get(kind, name, "-n", "es-upgrade")
        assert live["metadata"]["generation"] == old_generations[name] + 1
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == new_ref
    # No orphans: the next run has nothing to do.
    s.pulumi("up", "--yes", "--expect-no-changes")


UPGRADE_WORKLOADS = [("deployment", "es-upgrade-all")]
