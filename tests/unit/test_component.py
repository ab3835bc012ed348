"""EsCluster under Pulumi's mock runtime: what it registers, with which inputs and parents."""

from __future__ import annotations

import pulumi
import pytest

from es_cluster import ConfigError, EsCluster, EsClusterArgs, ImageArgs, NodeGroupArgs, parse_stack_config

DIGEST_REF = "localhost:5000/es-kubernetes@sha256:" + "b" * 64


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args):
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":
            outputs["ref"] = DIGEST_REF
        return [args.name + "-id", outputs]

    def call(self, args):
        return {}


@pytest.fixture
def mocks():
    m = RecordingMocks()
    pulumi.runtime.set_mocks(m, preview=False)
    return m


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
                "pulumi-python:dynamic:Resource",
                "kubernetes:core/v1:Namespace",
                "kubernetes:core/v1:ServiceAccount",
                "kubernetes:rbac.authorization.k8s.io/v1:Role",
                "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                "kubernetes:core/v1:Service",
                "kubernetes:core/v1:Service",
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
        build = next(r for r in mocks.resources if r.typ == "pulumi-python:dynamic:Resource")
        assert build.inputs["repository"] == "localhost:5000/es-kubernetes"
        assert build.inputs["base_image"] == "quay.io/pires/docker-elasticsearch-kubernetes:2.3.4"
        assert build.inputs["tag"].startswith("ctx-")
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
        assert "pulumi-python:dynamic:Resource" not in types
        assert "kubernetes:core/v1:Namespace" not in types
        sts = by_type(mocks, "kubernetes:apps/v1:StatefulSet")["logs-statefulset-logs-all"]
        assert sts.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == ref

    return settled(es, es.image_ref).apply(check)


def test_invalid_args_register_nothing(mocks):
    with pytest.raises(ConfigError) as e:
        EsCluster("bad", EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"], replicas=-1)}))
    assert "nodeGroups.m.replicas" in str(e.value)
    assert mocks.resources == []
