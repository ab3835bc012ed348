"""What the real Pulumi CLI makes of the project's config (no cluster, seconds): it reads a stack
file's merge keys as `es_cluster.stack` does, checks the types Pulumi.yaml declares before the
program runs, hands the program the declared defaults, and shows the program's warning about a
misspelt project namespace."""

from __future__ import annotations

import json

import pytest

from es_cluster.stack import config_from_file

from .conftest import Stack

MERGES = """config:
  es-cluster:nodeGroups:
    master: &defaults {roles: [master], heapSize: 256m, resources: {limits: {memory: 512Mi}}}
    data:
      <<: *defaults
      roles: [data]
    a: &a {roles: [data], heapSize: 1g, replicas: 1}
    b: &b {roles: [data], heapSize: 2g, workload: DaemonSet}
    first-wins: {<<: [*a, *b], roles: [client]}
    mid: &mid {<<: *a, heapSize: 3g}
    own-wins: {<<: *mid, roles: [client]}
"""
GROUPS = {"all": {"roles": ["master", "data", "client"], "replicas": 1}}


@pytest.fixture
def stack(tool_env, tmp_path) -> Stack:
    return Stack(tmp_path, tool_env, "t", {"nodeGroups": GROUPS})


def cli_config(stack: Stack) -> dict:
    return {k: v.get("objectValue", v["value"]) for k, v in json.loads(stack.pulumi("config", "--json").stdout).items()}


def test_the_cli_reads_merge_keys_as_the_reader_does(stack: Stack):
    (stack.dir / "Pulumi.t.yaml").write_text(MERGES)
    cli = json.loads(stack.pulumi("config", "get", "nodeGroups").stdout)
    ours = config_from_file(stack.dir / "Pulumi.t.yaml")["nodeGroups"]
    assert cli == ours
    assert ours["first-wins"]["heapSize"] == "1g" and ours["own-wins"]["heapSize"] == "3g"
    assert ours["data"] == {"roles": ["data"], "heapSize": "256m", "resources": {"limits": {"memory": "512Mi"}}}


def test_the_cli_hands_the_program_the_declared_defaults(stack: Stack):
    assert cli_config(stack) == {
        "es-cluster:nodeGroups": GROUPS,
        "es-cluster:clusterName": "elasticsearch",
        "es-cluster:namespace": "elasticsearch",
        "es-cluster:createNamespace": "true",
        "es-cluster:httpServiceType": "ClusterIP",
        "es-cluster:rolloutTimeout": "5m",
        "es-cluster:image": {},
        "es-cluster:allowDisruptive": "false",
    }


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("createNamespace", "maybe", "Stack 't' with configuration key 'createNamespace' must be of type 'boolean'"),
        ("image", "localhost:5000/es", "Stack 't' with configuration key 'image' must be of type 'object'"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_the_cli_before_the_program_runs(stack: Stack, key, value, words):
    stack.pulumi("config", "set", key, value)
    proc = stack.pulumi("preview", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and words in out, out
    assert "invalid es-cluster configuration" not in out, out


def test_a_stack_without_node_groups_is_refused_by_the_cli(stack: Stack):
    stack.pulumi("config", "rm", "nodeGroups")
    proc = stack.pulumi("preview", check=False)
    assert proc.returncode != 0 and "Stack 't' is missing configuration value 'nodeGroups'" in proc.stdout + proc.stderr


def test_a_misspelt_project_namespace_is_warned_of_in_the_preview(stack: Stack):
    # An empty nodeGroups stops the program at validation, so no cluster is needed.
    (stack.dir / "Pulumi.t.yaml").write_text("config:\n  es-clustr:clusterName: logs\n  es-cluster:nodeGroups: {}\n")
    proc = stack.pulumi("preview", check=False)
    out = proc.stdout + proc.stderr
    assert "es-clustr:clusterName is not read: its namespace 'es-clustr' is not this project's 'es-cluster'" in out, out
    assert "(did you mean es-cluster:clusterName?)" in out, out
    assert "nodeGroups: must name at least one node group" in out, out
