"""EsCluster under Pulumi's mock runtime: what it registers, with which inputs and parents."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from es_cluster import EsCluster, EsClusterArgs, ImageArgs, NodeGroupArgs, parse_stack_config
from es_cluster.config import EngineArgs

DIGEST = "sha256:" + "b" * 64
DIGEST_REF = "localhost:5000/es-kubernetes@" + DIGEST
ROOT = Path(__file__).resolve().parents[2]
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
REGISTRY_IMAGE = "docker:index/registryImage:RegistryImage"


STACK_REFERENCE = "pulumi:pulumi:StackReference"


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration. The stack reads its own outputs as `stack_outputs`, as the
    engine reads them from the last checkpoint ({} before a stack's first deploy)."""

    def __init__(self):
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.stack_outputs: dict = {}

    def new_resource(self, args):
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ == REGISTRY_IMAGE:
            outputs["sha256Digest"] = DIGEST
        if args.typ == STACK_REFERENCE:
            outputs["outputs"] = self.stack_outputs
        return [args.name + "-id", outputs]

    def call(self, args):
        return {}


def settled(es: EsCluster, *outputs):
    """Resolve `outputs` only once every child resource is registered with the mocks."""
    return pulumi.Output.all(*[r.urn for r in es.resources.values()]).apply(lambda _: pulumi.Output.all(*outputs))


def by_type(mocks, typ):
    return {r.name: r for r in mocks.resources if r.typ == typ}


@pulumi.runtime.test
def test_seed_stack_declares_every_object_under_the_component(mocks, seed_config):
    from es_cluster import validate

    es = EsCluster("es-logging", validate(parse_stack_config(seed_config)))

    def check(outputs):
        image_ref, workloads, url = outputs
        types = sorted(r.typ for r in mocks.resources)
        assert types == sorted(
            [
                "es-cluster:index:EsCluster",
                STACK_REFERENCE,
                REMOTE_IMAGE,
                REGISTRY_IMAGE,
                "kubernetes:core/v1:Namespace",
                "kubernetes:core/v1:ServiceAccount",
                "kubernetes:rbac.authorization.k8s.io/v1:Role",
                "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                "kubernetes:core/v1:Service",
                "kubernetes:core/v1:Service",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                "kubernetes:apps/v1:DaemonSet",
                "kubernetes:apps/v1:DaemonSet",
                "kubernetes:apps/v1:Deployment",
                "kubernetes:policy/v1:PodDisruptionBudget",
                "kubernetes:policy/v1:PodDisruptionBudget",
                "kubernetes:policy/v1:PodDisruptionBudget",
            ]
        )
        assert image_ref == DIGEST_REF
        assert workloads == {"master": "es-logging-master", "data": "es-logging-data", "client": "es-logging-client"}
        assert url == "http://es-logging-http.elasticsearch.svc:9200"
        component_urn = next(r for r in mocks.resources if r.typ == "es-cluster:index:EsCluster")
        assert component_urn.name == "es-logging"
        ds = by_type(mocks, "kubernetes:apps/v1:DaemonSet")["es-logging-daemonset-es-logging-master"]
        container = ds.inputs["spec"]["template"]["spec"]["containers"][0]
        # The pods reference the image by the digest the build resource returned.
        assert container["image"] == DIGEST_REF
        assert ds.inputs["metadata"]["namespace"] == "elasticsearch"
        [build] = by_type(mocks, REMOTE_IMAGE).values()
        repository, tag = build.inputs["name"].rsplit(":", 1)
        assert repository == "localhost:5000/es-kubernetes" and tag.startswith("ctx-")
        assert build.inputs["build"]["buildArgs"] == {"BASE_IMAGE": "quay.io/pires/docker-elasticsearch-kubernetes:2.3.4"}
        assert build.inputs["build"]["context"].endswith("image_context")
        assert build.inputs["keepLocally"] is True
        [push] = by_type(mocks, REGISTRY_IMAGE).values()
        # The push names the built tag, keeps old pushes, and reads the registry over https.
        assert push.inputs["name"] == build.inputs["name"]
        assert push.inputs["keepRemotely"] is True
        assert push.inputs["authConfig"] == {"address": "https://localhost:5000"}
        rb = by_type(mocks, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")["es-logging-rolebinding-es-logging-discovery"]
        assert rb.inputs["roleRef"]["name"] == "es-logging-discovery"

    return settled(es, es.image_ref, es.workloads, es.http_url).apply(check)


@pulumi.runtime.test
def test_prebuilt_reference_skips_the_build(mocks):
    ref = "reg.example/es@sha256:" + "c" * 64
    es = EsCluster(
        "logs",
        EsClusterArgs(
            cluster_name="logs",
            create_namespace=False,
            node_groups={"all": NodeGroupArgs(roles=["master", "data", "client"], replicas=1)},
            image=ImageArgs(reference=ref),
        ),
    )

    def check(outputs):
        [image_ref] = outputs
        assert image_ref == ref
        types = [r.typ for r in mocks.resources]
        assert REMOTE_IMAGE not in types and REGISTRY_IMAGE not in types
        assert "kubernetes:core/v1:Namespace" not in types
        sts = by_type(mocks, "kubernetes:apps/v1:StatefulSet")["logs-statefulset-logs-all"]
        assert sts.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == ref

    return settled(es, es.image_ref).apply(check)


@pulumi.runtime.test
def test_unpushed_build_is_referenced_by_tag_and_not_pushed(mocks):
    es = EsCluster(
        "logs",
        EsClusterArgs(node_groups={"all": NodeGroupArgs(roles=["master", "data", "client"], replicas=1)}, image=ImageArgs(push=False)),
    )

    def check(outputs):
        [image_ref] = outputs
        [build] = by_type(mocks, REMOTE_IMAGE).values()
        assert image_ref == build.inputs["name"] and image_ref.startswith("localhost:5000/es-kubernetes:ctx-")
        assert REGISTRY_IMAGE not in [r.typ for r in mocks.resources]

    return settled(es, es.image_ref).apply(check)


@pulumi.runtime.test
def test_registry_credentials_reach_the_push_and_the_password_stays_secret(mocks):
    es = EsCluster(
        "logs",
        EsClusterArgs(
            node_groups={"all": NodeGroupArgs(roles=["master", "data", "client"], replicas=1)},
            image=ImageArgs(
                repository="reg.example:5443/team/es", insecure_registry=True, registry_username="ci", registry_password="s3cret"
            ),
        ),
    )

    def check(_):
        [push] = by_type(mocks, REGISTRY_IMAGE).values()
        # The password makes the auth block a secret, so the engine encrypts it in the state.
        auth = push.inputs["authConfig"]
        assert auth[pulumi.runtime.rpc._special_sig_key] == pulumi.runtime.rpc._special_secret_sig
        assert auth["value"] == {"address": "http://reg.example:5443", "username": "ci", "password": "s3cret"}

    return settled(es, es.image_ref).apply(check)


@pytest.mark.parametrize(
    "repository, host",
    [
        ("localhost:5000/es-kubernetes", "localhost:5000"),
        ("localhost/es", "localhost"),
        ("reg.example/team/es", "reg.example"),
        ("team/es", "registry-1.docker.io"),
        ("es", "registry-1.docker.io"),
    ],
)
def test_registry_host_follows_dockers_rule(repository, host):
    from es_cluster.image import registry_host

    assert registry_host(repository) == host


@pulumi.runtime.test
def test_a_docker_provider_given_to_the_component_builds_and_pushes(mocks):
    import pulumi_docker as docker

    engine = docker.Provider("remote-engine", host="tcp://builder.example:2376")
    es = EsCluster(
        "logs",
        EsClusterArgs(node_groups={"all": NodeGroupArgs(roles=["master", "data", "client"], replicas=1)}),
        opts=pulumi.ResourceOptions(providers=[engine]),
    )

    def check(_):
        for typ in (REMOTE_IMAGE, REGISTRY_IMAGE):
            [res] = by_type(mocks, typ).values()
            assert res.provider is not None and "::remote-engine::" in res.provider, res.provider

    return settled(es, es.image_ref).apply(check)


def _seed_record(seed_config) -> dict:
    from es_cluster import impact, validate
    from es_cluster.image import identity

    cluster = validate(parse_stack_config(seed_config))
    return {"deployed": impact.record(cluster, identity(cluster.image))}


@pulumi.runtime.test
def test_a_first_deploy_reports_itself_and_declares_everything(mocks, seed_config):
    es = EsCluster("es-logging", parse_stack_config(seed_config))

    def check(outputs):
        [result] = outputs
        assert result["firstDeploy"] is True
        assert result["summary"].startswith("es-cluster: first deploy: masters 3 (quorum 2)")
        assert len(by_type(mocks, "kubernetes:apps/v1:DaemonSet")) == 2

    return settled(es, es.impact).apply(check)


@pulumi.runtime.test
def test_the_record_of_the_last_deploy_is_read_from_the_stacks_own_outputs(mocks, seed_config):
    mocks.stack_outputs = {"es-cluster:es-logging": _seed_record(seed_config)}
    es = EsCluster("es-logging", parse_stack_config(seed_config))

    def check(outputs):
        [result] = outputs
        assert result["summary"] == "es-cluster: no change to the running cluster"
        [ref] = by_type(mocks, "pulumi:pulumi:StackReference").values()
        assert ref.name == "es-logging-last-deployed"
        # The stack reads itself: organization/project/stack of this very program.
        assert ref.inputs["name"] == f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"

    return settled(es, es.impact).apply(check)


_DEPLOY_TO_COMPLETION = """
import asyncio, json, sys
import pulumi
from pulumi.runtime.stack import wait_for_rpcs
from tests.unit.test_component import RecordingMocks
from es_cluster import parse_stack_config
from es_cluster.component import EsCluster

stack_outputs, config = json.load(sys.stdin)
mocks = RecordingMocks()
mocks.stack_outputs = stack_outputs
pulumi.runtime.set_mocks(mocks, preview=False)

@pulumi.runtime.test
def deploy():
    return EsCluster("es-logging", parse_stack_config(config)).impact

error = None
try:
    deploy()
except Exception as e:
    error = f"{type(e).__name__}: {e}"
# Whatever was set going, let it finish: every registration that was started is recorded.
try:
    asyncio.get_event_loop().run_until_complete(wait_for_rpcs())
except Exception:
    pass
print(json.dumps({"error": error, "registered": sorted(r.typ for r in mocks.resources)}))
"""


def deploy_to_completion(config: dict, stack_outputs: dict) -> dict:
    """Deploy under the mocks in a fresh interpreter and run its event loop to completion: the
    error raised, if any, and every resource registered. Nothing leaks into other tests."""
    run = subprocess.run(
        [sys.executable, "-c", _DEPLOY_TO_COMPLETION],
        input=json.dumps([stack_outputs, config]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(run.stdout.splitlines()[-1])


def test_bad_input_registers_nothing_once_every_registration_has_run(seed_config):
    seed_config["nodeGroups"]["master"]["replicas"] = -1
    result = deploy_to_completion(seed_config, {})
    assert result["error"].startswith("ConfigError: invalid es-cluster configuration")
    assert result["registered"] == []


def test_a_refused_change_declares_nothing_but_the_check(seed_config):
    # In its own interpreter: the mock runtime runs to completion, every registration that was
    # going to happen has happened, and nothing of it leaks into other tests.
    seed_config["nodeGroups"]["master"]["replicas"] = 1
    stack_outputs = {
        "es-cluster:es-logging": _seed_record(
            {**seed_config, "nodeGroups": {**seed_config["nodeGroups"], "master": {**seed_config["nodeGroups"]["master"], "replicas": 3}}}
        )
    }
    result = deploy_to_completion(seed_config, stack_outputs)
    assert result["error"].startswith(
        "ChangeRefused: es-logging: refused: nodeGroups.master.replicas: this takes 2 of the 3 master-eligible nodes"
    )
    assert "es-cluster:allowDisruptive to [quorumLoss]" in result["error"]
    assert result["registered"] == ["es-cluster:index:EsCluster", STACK_REFERENCE]


@pulumi.runtime.test
def test_the_override_lets_the_refused_change_through(mocks, seed_config):
    mocks.stack_outputs = {"es-cluster:es-logging": _seed_record(seed_config)}
    seed_config["nodeGroups"]["master"]["replicas"] = 1
    seed_config["allowDisruptive"] = ["quorumLoss"]
    es = EsCluster("es-logging", parse_stack_config(seed_config))

    def check(outputs):
        [result] = outputs
        assert result["allowed"] == ["quorumLoss"]
        ds = by_type(mocks, "kubernetes:apps/v1:DaemonSet")["es-logging-daemonset-es-logging-master"]
        env = {e["name"]: e.get("value") for e in ds.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["MIN_MASTERS"] == "1"

    return settled(es, es.impact).apply(check)


@pulumi.runtime.test
def test_an_opensearch_credentials_state_without_a_previous_password_mounts_an_empty_one(mocks):
    """A state an earlier es-cluster made has no previous_password output until a password
    change: the Secret then holds "" under admin.previous, which the probe reads as none."""
    ref = "reg.example/os@sha256:" + "c" * 64
    es = EsCluster(
        "logs",
        EsClusterArgs(
            cluster_name="logs",
            create_namespace=False,
            node_groups={"all": NodeGroupArgs(roles=["master", "data", "client"], replicas=3)},
            image=ImageArgs(reference=ref),
            engine=EngineArgs(distribution="opensearch", version="2.19.4"),
        ),
    )

    def check(_):
        [creds] = [r for r in mocks.resources if r.name == "logs-credentials"]
        assert creds.inputs.get("previous_password") is None  # so the mocks hand back no such output
        secret = by_type(mocks, "kubernetes:core/v1:Secret")["logs-secret-logs-elastic-user"]
        data = secret.inputs["stringData"]
        # Registered secret: the engine's wrapper around the data (rpc.py's signatures).
        assert data[pulumi.runtime.rpc._special_sig_key] == pulumi.runtime.rpc._special_secret_sig
        # (The mocks hand back no password either, as none was made: only the previous one is checked.)
        assert data["value"].get("admin.previous") == ""

    return settled(es, es.image_ref).apply(check)
