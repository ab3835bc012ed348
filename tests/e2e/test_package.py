"""The component package (`provider/`) from a Pulumi YAML program, through the real CLI and
engine against the local cluster: `pulumi package add`, the inferred schema, preview of the
example as written, the component's validation errors, and up and destroy."""

from __future__ import annotations

import json
import shutil
import tomllib
from typing import Any

import pytest
import yaml

from .conftest import REGISTRY_PORT, ROOT, Kube, registry_digest, run

EXAMPLE = ROOT / "examples" / "yaml-consumer"
PROVIDER = ROOT / "provider"
NS = "search"


class YamlProgram:
    def __init__(self, env: dict[str, str], tmp_path_factory):
        self.work = tmp_path_factory.mktemp("yaml-consumer")
        self.dir = self.work / "project"
        shutil.copytree(EXAMPLE, self.dir)
        self.env = {**env, "PULUMI_BACKEND_URL": f"file://{self.work}"}

    def pulumi(self, *args: str, check: bool = True):
        return run(["pulumi", *args, "--non-interactive"], env=self.env, cwd=self.dir, check=check)

    def project(self) -> dict[str, Any]:
        return yaml.safe_load((self.dir / "Pulumi.yaml").read_text())

    def set_node_groups(self, groups: dict[str, Any]) -> None:
        doc = self.project()
        doc["resources"]["search"]["properties"]["nodeGroups"] = groups
        (self.dir / "Pulumi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="module")
def program(cluster_env, tmp_path_factory):
    p = YamlProgram(cluster_env, tmp_path_factory)
    run(["pulumi", "stack", "init", "test", "--non-interactive"], env=p.env, cwd=p.dir)
    p.add = p.pulumi("package", "add", str(PROVIDER))
    p.original = (p.dir / "Pulumi.yaml").read_text()  # as `package add` left it
    try:
        yield p
    finally:
        p.pulumi("destroy", "--yes", "--skip-preview", check=False)


def test_package_add_records_the_local_package(program: YamlProgram):
    assert "Added package es-cluster" in program.add.stdout + program.add.stderr, program.add.stdout
    assert program.project()["packages"] == {"es-cluster": str(PROVIDER)}
    # The plugin ran in the repository's virtualenv, which the host left as it was.
    assert not (PROVIDER / "pyvenv.cfg").exists()


def impact_messages(preview_json: str) -> str:
    """The info diagnostics of a `pulumi preview --json`, where the component prints its impact."""
    return "\n".join(d["message"] for d in json.loads(preview_json).get("diagnostics", []) if d.get("severity") == "info")


def test_schema_is_inferred_from_the_component(program: YamlProgram):
    schema = json.loads(program.pulumi("package", "get-schema", str(PROVIDER)).stdout)
    assert (schema["name"], schema["version"]) == ("es-cluster", tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])
    res = schema["resources"]["es-cluster:index:EsCluster"]
    assert res["isComponent"] is True
    assert set(res["inputProperties"]) == {
        "nodeGroups", "clusterName", "namespace", "createNamespace", "image", "kubeconfig", "httpServiceType",
        "rolloutTimeout", "allowDisruptive", "podSecurity", "networkPolicy", "engine", "security",
    }  # fmt: skip
    assert res["requiredInputs"] == ["nodeGroups"]
    assert set(schema["types"]["es-cluster:index:Engine"]["properties"]) == {"distribution", "version", "allowMmap", "initialMasterNodes"}
    assert set(schema["types"]["es-cluster:index:Security"]["properties"]) == {
        "enabled", "httpTls", "password", "certificateSecret", "certificateSubject", "certificateDays", "caDays", "caCertificate",
        "caKey"
    }  # fmt: skip
    assert set(res["properties"]) == {
        "namespace", "httpService", "transportService", "httpUrl", "imageRef", "workloads", "elasticPassword", "caCertificate", "superuser",
        "impact", "record",
    }  # fmt: skip
    group = schema["types"]["es-cluster:index:NodeGroup"]
    assert group["required"] == ["roles"]
    assert group["properties"]["replicas"]["type"] == "integer"
    assert set(group["properties"]) == {
        "roles", "replicas", "workload", "nodeSelector", "storage", "heapSize", "resources", "tolerations", "antiAffinity",
        "priorityClassName", "podSecurityContext", "maxUnavailable",
    }  # fmt: skip


def test_preview_of_the_example_plans_the_whole_cluster(program: YamlProgram):
    preview = json.loads(program.pulumi("preview", "--json").stdout)
    planned = {
        (s["newState"]["type"], s["urn"].rsplit("::", 1)[1])
        for s in preview["steps"]
        if s["op"] == "create" and not s["newState"]["type"].startswith("pulumi:")  # the stack, providers
    }
    # Every object, and nothing else: a prebuilt image reference builds nothing.
    assert planned == {
        ("es-cluster:index:EsCluster", "search"),
        ("kubernetes:core/v1:Namespace", "search-namespace-search"),
        ("kubernetes:core/v1:ServiceAccount", "search-serviceaccount-search"),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", "search-role-search-discovery"),
        ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "search-rolebinding-search-discovery"),
        ("kubernetes:core/v1:Service", "search-service-search-transport"),
        ("kubernetes:core/v1:Service", "search-service-search-http"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "search-networkpolicy-search-es"),
        ("kubernetes:apps/v1:StatefulSet", "search-statefulset-search-master"),
        ("kubernetes:apps/v1:StatefulSet", "search-statefulset-search-data"),
        ("kubernetes:apps/v1:Deployment", "search-deployment-search-client"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "search-poddisruptionbudget-search-master"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "search-poddisruptionbudget-search-data"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "search-poddisruptionbudget-search-client"),
    }, planned
    master = next(s for s in preview["steps"] if s["urn"].endswith("::search-statefulset-search-master"))
    env = {e["name"]: e.get("value") for e in master["newState"]["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["MIN_MASTERS"], env["DISCOVERY_SERVICE"]) == ("2", "search-transport")


def test_bad_input_fails_with_the_config_key_and_declares_nothing(program: YamlProgram):
    program.set_node_groups({"master": {"roles": ["master"], "replicas": -1}, "client": {"roles": ["client", "chef"]}})
    try:
        proc = program.pulumi("preview", check=False)
    finally:
        (program.dir / "Pulumi.yaml").write_text(program.original)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "nodeGroups.master.replicas: must be a whole number >= 0, got -1" in out, out
    assert "nodeGroups.client.roles: unknown role 'chef'; allowed: master, data, client" in out, out
    assert "kubernetes:" not in proc.stdout, out


def test_a_secret_config_value_reaches_the_component_as_the_superusers_password_and_is_checked(program: YamlProgram):
    """A secret reaches a component as an output: security.password takes it (docs/component.md)
    and the credentials resource checks it at preview, never showing it."""
    doc = program.project()
    doc["config"]["superuserPassword"] = {"type": "string", "secret": True}
    props = doc["resources"]["search"]["properties"]
    props["engine"] = {"distribution": "elasticsearch", "version": "8.19.0"}
    props["security"] = {"password": "${superuserPassword}"}
    (program.dir / "Pulumi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        program.pulumi("config", "set", "--secret", "superuserPassword", "from-a-secret-store-1")
        preview = json.loads(program.pulumi("preview", "--json").stdout)
        planned = {s["urn"].rsplit("::", 1)[1] for s in preview["steps"] if s["op"] == "create"}
        assert {"search-credentials", "search-secret-search-elastic-user"} <= planned, planned
        assert "from-a-secret-store-1" not in json.dumps(preview)
        program.pulumi("config", "set", "--secret", "superuserPassword", "sh0rt-7")
        proc = program.pulumi("preview", check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "security.password: must be 8 to 72 bytes of printable characters" in out, out
        assert "sh0rt-7" not in out
    finally:
        (program.dir / "Pulumi.yaml").write_text(program.original)
        program.pulumi("config", "rm", "superuserPassword", check=False)


def test_up_builds_pushes_and_deploys_through_the_package(program: YamlProgram, kube: Kube, docker_env, stand_in_base):
    # kwok nodes bind no volume claims, so the deployed variant keeps its data on emptyDir.
    program.set_node_groups({"all": {"roles": ["master", "data", "client"], "replicas": 1, "workload": "Deployment"}})
    # The package builds image/ (the copy it carries) and pushes it with pulumi-docker.
    repository = f"localhost:{REGISTRY_PORT}/es-yaml"
    doc = program.project()
    doc["resources"]["search"]["properties"]["image"] = {
        "repository": repository,
        "baseImage": stand_in_base,
        "push": True,
        "insecureRegistry": True,
    }
    (program.dir / "Pulumi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    program.env["DOCKER_HOST"] = docker_env["DOCKER_HOST"]
    try:
        program.pulumi("up", "--yes", "--skip-preview")
        outputs = json.loads(program.pulumi("stack", "output", "--json").stdout)
        record = outputs.pop("es-cluster:search")
        assert outputs == {"url": "http://search-http.search.svc:9200", "workloads": {"all": "search-all"}}
        assert record["impact"]["firstDeploy"] is True and set(record["deployed"]["groups"]) == {"all"}
        # The program exports the record as docs/component.md says, so the next preview compares with it.
        assert "es-cluster: no change to the running cluster" in impact_messages(program.pulumi("preview", "--json").stdout)
        state = json.loads(program.pulumi("stack", "export").stdout)["deployment"]["resources"]
        [push] = [r for r in state if r["type"] == "docker:index/registryImage:RegistryImage"]
        tag = push["outputs"]["name"].rsplit(":", 1)[1]
        assert push["outputs"]["sha256Digest"] == registry_digest("es-yaml", tag)
        deployment = kube.get("deployment", "search-all", "-n", NS)
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{repository}@{push['outputs']['sha256Digest']}"
        env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (env["MIN_MASTERS"], env["NODE_MASTER"], env["NODE_DATA"], env["HTTP_ENABLE"]) == ("1", "true", "true", "true")
        assert deployment["status"].get("readyReplicas") == 1
        assert kube.exists("service", "search-transport", "-n", NS)
    finally:
        program.pulumi("destroy", "--yes", "--skip-preview")
        (program.dir / "Pulumi.yaml").write_text(program.original)
    assert not kube.exists("namespace", NS)
