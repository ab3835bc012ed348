"""The audit's examples (issue #10), each as a test: no traceback, no invalid object, no valid
input refused or blamed on the wrong key. The property test (test_config_properties.py) looks for
more of the same at random."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from es_cluster import ConfigError, EsClusterArgs, ImageArgs, NodeGroupArgs, StorageArgs, parse_stack_config, validate
from es_cluster.config import KubeconfigArgs
from es_cluster.stack import StackFileError, config_from_file, near_miss_warnings

from .render_cli import render_command

ROOT = Path(__file__).resolve().parents[2]
MASTER = {"roles": ["master", "data", "client"], "replicas": 1, "workload": "Deployment"}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as e:
        validate(parse_stack_config(raw))
    return dict(e.value.problems)


def with_group(**fields):
    return {"nodeGroups": {"m": {**MASTER, **fields}}}


# --- what the CLI hands over ---------------------------------------------------------------------


def test_kubeconfig_null_arrives_as_empty_string_and_means_none():
    cluster = validate(parse_stack_config({**with_group(), "kubeconfig": ""}))
    assert cluster.kubeconfig_host_path is None


def test_a_numeric_namespace_stays_a_string():
    assert validate(parse_stack_config({**with_group(), "namespace": "123"})).namespace == "123"


def test_storage_null_arrives_as_empty_string_and_means_default():
    cluster = validate(parse_stack_config(with_group(storage="")))
    assert cluster.groups[0].storage.host_path is None


def test_a_flat_key_points_at_config_set_path():
    found = problems({**with_group(), "nodeGroups.m.replicas": 3})
    assert "pulumi config set --path nodeGroups.m.replicas" in found["nodeGroups.m.replicas"]


# --- trailing newlines, NUL bytes and other full-match cases ------------------------------------


@pytest.mark.parametrize(
    "raw, key",
    [
        ({**with_group(), "clusterName": "es\n"}, "clusterName"),
        ({**with_group(), "namespace": "es\n"}, "namespace"),
        (with_group(nodeSelector={"disktype": "ssd\n"}), "nodeGroups.m.nodeSelector.disktype"),
        (with_group(nodeSelector={"disktype\n": "ssd"}), "nodeGroups.m.nodeSelector"),
        (with_group(resources={"limits": {"memory": "2Gi\n"}}), "nodeGroups.m.resources.limits.memory"),
        (with_group(heapSize="1g\n"), "nodeGroups.m.heapSize"),
        (with_group(workload="DaemonSet", storage={"hostPath": "/data\x00"}), "nodeGroups.m.storage.hostPath"),
        ({**with_group(), "kubeconfig": {"hostPath": "/srv/kubeconfig\n"}}, "kubeconfig.hostPath"),
        ({**with_group(), "image": {"repository": "localhost:5000/es\n"}}, "image.repository"),
    ],
)
def test_trailing_newlines_and_nul_bytes_are_refused_by_key(raw, key):
    assert key in problems(raw)


# --- values Kubernetes refuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, key, words",
    [
        (with_group(tolerations=[{"value": "x"}]), "nodeGroups.m.tolerations[0].operator", "must be Exists when key is empty"),
        (with_group(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]), "nodeGroups.m.tolerations[0].value", "empty"),
        (with_group(tolerations=[{"key": "k", "tolerationSeconds": 5}]), "nodeGroups.m.tolerations[0].tolerationSeconds", "NoExecute"),
        (with_group(tolerations=[{"key": "k", "effect": "Never"}]), "nodeGroups.m.tolerations[0].effect", "NoSchedule"),
        (
            with_group(resources={"requests": {"memory": "4Gi"}, "limits": {"memory": "2Gi"}}),
            "nodeGroups.m.resources.requests.memory",
            "must not exceed the limit 2Gi",
        ),
        (with_group(replicas=2**31), "nodeGroups.m.replicas", "int32"),
        (with_group(workload="StatefulSet", storage={"size": "0"}), "nodeGroups.m.storage.size", "greater than zero"),
        (with_group(workload="StatefulSet", storage={"size": "-5Gi"}), "nodeGroups.m.storage.size", "negative"),
        (with_group(resources={"limits": {"memroy": "2Gi"}}), "nodeGroups.m.resources.limits", "did you mean 'memory'"),
        (with_group(resources={"limits": {"memory": "0"}}), "nodeGroups.m.resources.limits.memory", "greater than zero"),
        ({**with_group(), "image": {"repository": "Team/es"}}, "image.repository", "image name"),
        ({**with_group(), "image": {"repository": "a//b"}}, "image.repository", "image name"),
        ({**with_group(), "image": {"baseImage": "debian 12"}}, "image.baseImage", "image reference"),
    ],
)
def test_values_kubernetes_refuses_are_refused_here(raw, key, words):
    found = problems(raw)
    assert key in found, found
    assert words in found[key]


# --- wrong keys blamed, and types that used to raise something else -----------------------------


def test_a_long_cluster_name_is_blamed_on_cluster_name_only():
    found = problems({**with_group(), "clusterName": "a" * 60})
    assert list(found) == ["clusterName"], found


def test_storage_class_on_a_deployment_is_blamed_on_storage_class():
    found = problems(with_group(storage={"storageClass": "fast"}))
    assert "nodeGroups.m.storage.storageClass" in found and "nodeGroups.m.storage.size" not in found


@pytest.mark.parametrize(
    "raw, key",
    [
        (with_group(roles=[["master"]]), "nodeGroups.m.roles"),
        (with_group(roles=[{"master": 1}]), "nodeGroups.m.roles"),
        (with_group(heapSize=["1g"]), "nodeGroups.m.heapSize"),
        (with_group(resources={1: {}}), "nodeGroups.m.resources"),
        (with_group(nodeSelector={1: "x"}), "nodeGroups.m.nodeSelector"),
        (with_group(tolerations=[["key"]]), "nodeGroups.m.tolerations[0]"),
        (with_group(workload=["DaemonSet"]), "nodeGroups.m.workload"),
        (with_group(antiAffinity={"hard": 1}), "nodeGroups.m.antiAffinity"),
        ({**with_group(), "httpServiceType": ["ClusterIP"]}, "httpServiceType"),
        ({**with_group(), "kubeconfig": "/srv/kubeconfig"}, "kubeconfig"),
        ({**with_group(), "image": {"context": "/tmp\x00"}}, "image.context"),
    ],
)
def test_wrong_types_give_config_errors_not_tracebacks(raw, key):
    assert key in problems(raw)


@pytest.mark.parametrize(
    "args",
    [
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"])}, kubeconfig="/srv/kubeconfig"),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"])}, kubeconfig=KubeconfigArgs(host_path=5)),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=[["master"]])}),  # type: ignore[list-item]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"], storage={"hostPath": "/x"})}),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"], storage=StorageArgs(size=5))}),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"], resources=None)}),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={("m",): NodeGroupArgs(roles=["master"])}),  # type: ignore[dict-item]
        EsClusterArgs(node_groups=[NodeGroupArgs(roles=["master"])]),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"])}, image=ImageArgs(repository=None)),  # type: ignore[arg-type]
        EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"])}, cluster_name=None),  # type: ignore[arg-type]
        {"nodeGroups": {}},
    ],
)
def test_typed_api_raises_only_config_error(args):
    with pytest.raises(ConfigError):
        validate(args)


# --- the stack file, read as the Pulumi CLI reads it ---------------------------------------------


def stack_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, words",
    [
        ("config:\n  es-cluster:namespace: a\n  es-cluster:namespace: b\n", "line 3: key 'es-cluster:namespace' is set twice"),
        ("config:\n  es-cluster:nodeGroups:\n    m: {roles: [master], roles: [data]}\n", "line 3: key 'roles' is set twice"),
        ("config:\n  es-cluster:createNamespace: yes\n", "line 2: 'yes' means something else to the Pulumi CLI"),
        ("config:\n  es-cluster:image: {push: on}\n", "line 2: 'on' means something else"),
        ("config:\n  es-cluster:nodeGroups:\n    m: {roles: [master], replicas: 0o3}\n", "line 3: '0o3' means something else"),
        ("config:\n  es-cluster:nodeGroups:\n    m: {storage: {size: 1e3}}\n", "line 3: '1e3' means something else"),
        ("config:\n  es-cluster:nodeGroups: {m: {replicas: 010}}\n", "'010' means something else"),
        ("config:\n  es-cluster:nodeGroups: [\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping with a `config:` mapping"),
    ],
)
def test_stack_file_the_cli_would_read_otherwise_is_refused_with_file_and_line(tmp_path, text, words):
    path = stack_file(tmp_path, text)
    with pytest.raises(StackFileError) as e:
        config_from_file(path)
    assert str(e.value).startswith(str(path) + ": ") and words in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_top_level_values_arrive_as_the_cli_sends_them(tmp_path):
    path = stack_file(
        tmp_path, "config:\n  es-cluster:namespace: 123\n  es-cluster:createNamespace: false\n  es-cluster:kubeconfig: null\n"
    )
    assert config_from_file(path) == {"namespace": "123", "createNamespace": "false", "kubeconfig": ""}


def test_quoted_yes_is_just_a_string(tmp_path):
    path = stack_file(tmp_path, "config:\n  es-cluster:clusterName: 'yes'\n")
    assert config_from_file(path) == {"clusterName": "yes"}


def test_secrets_in_a_stack_file_are_placeholders_for_render(tmp_path):
    path = stack_file(tmp_path, "config:\n  es-cluster:image:\n    registryUsername: ci\n    registryPassword:\n      secure: v1:abc\n")
    assert config_from_file(path)["image"]["registryPassword"] == "[secret]"


def run_render(project: Path, *extra: str) -> subprocess.CompletedProcess:
    return render_command("render", "--stack", "t", "--project-dir", str(project), *extra)


def test_render_of_a_broken_file_is_one_error_line_naming_it(tmp_path):
    stack_file(tmp_path, "config:\n  es-cluster:nodeGroups: [\n")
    proc = run_render(tmp_path, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {tmp_path / 'Pulumi.t.yaml'}: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_render_to_an_existing_file_is_refused(tmp_path):
    stack_file(tmp_path, (ROOT / "Pulumi.dev.yaml").read_text())
    target = tmp_path / "taken"
    target.write_text("keep me")
    proc = run_render(tmp_path, "-o", str(target))
    assert proc.returncode == 2 and "exists and is not a folder" in proc.stderr, proc.stderr
    assert target.read_text() == "keep me"


MERGED = """config:
  es-cluster:nodeGroups:
    master: &defaults
      roles: [master]
      heapSize: 256m
      resources: {limits: {memory: 512Mi}}
    data:
      <<: *defaults
      roles: [data]
      replicas: 2
"""


def test_merge_keys_share_settings_between_groups_as_the_cli_reads_them(tmp_path):
    groups = config_from_file(stack_file(tmp_path, MERGED))["nodeGroups"]
    assert groups["data"] == {"roles": ["data"], "heapSize": "256m", "resources": {"limits": {"memory": "512Mi"}}, "replicas": 2}
    assert groups["master"] == {"roles": ["master"], "heapSize": "256m", "resources": {"limits": {"memory": "512Mi"}}}


def test_merge_keys_take_a_list_of_mappings_and_the_first_one_wins(tmp_path):
    text = (
        "config:\n  es-cluster:nodeGroups:\n    a: &a {roles: [data], heapSize: 1g, replicas: 1}\n"
        "    b: &b {roles: [data], heapSize: 2g, workload: DaemonSet}\n    m: {<<: [*a, *b], roles: [master]}\n"
    )
    assert config_from_file(stack_file(tmp_path, text))["nodeGroups"]["m"] == {
        "heapSize": "1g",
        "replicas": 1,
        "workload": "DaemonSet",
        "roles": ["master"],
    }


def test_a_key_set_twice_beside_a_merge_is_still_refused(tmp_path):
    text = MERGED + "      replicas: 3\n"
    with pytest.raises(StackFileError, match="line 11: key .replicas. is set twice .first on line 10."):
        config_from_file(stack_file(tmp_path, text))


@pytest.mark.parametrize(
    "key, meant",
    [
        ("es-clustr:clusterName", "es-cluster:clusterName"),
        ("es_cluster:namespace", "es-cluster:namespace"),
        ("ES-Cluster:nodeGroups", "es-cluster:nodeGroups"),
        ("escluster:image", "es-cluster:image"),
    ],
)
def test_a_misspelt_project_namespace_is_warned_of(key, meant):
    namespace = key.split(":")[0]
    assert near_miss_warnings([key, "es-cluster:clusterName"]) == [
        f"{key} is not read: its namespace {namespace!r} is not this project's 'es-cluster' (did you mean {meant}?)"
    ]


def test_other_namespaces_and_the_projects_own_draw_no_warning():
    assert near_miss_warnings(["kubernetes:context", "pulumi:tags", "docker:host", "es-cluster:clusterName", "aws:region", "nocolon"]) == []


def test_render_warns_of_a_misspelt_namespace_and_uses_the_default(tmp_path):
    stack_file(tmp_path, "config:\n  es-clustr:clusterName: logs\n  es-cluster:nodeGroups: {m: {roles: [master, data, client]}}\n")
    proc = run_render(tmp_path, "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning: es-clustr:clusterName is not read: its namespace 'es-clustr' is not this project's 'es-cluster' "
        "(did you mean es-cluster:clusterName?)\n" in proc.stderr
    )
    assert (tmp_path / "out" / "01-serviceaccount-elasticsearch.yaml").is_file()


def test_render_into_an_earlier_render_replaces_it_whole_and_keeps_other_files(tmp_path):
    """A render of 100 objects or more names files with three digits; all of them go."""
    groups = {"master": {"roles": ["master"], "storage": {"size": "1Gi"}}, "client": {"roles": ["client"]}}
    groups |= {f"d{i}": {"roles": ["data"], "storage": {"size": "1Gi"}} for i in range(60)}
    out = tmp_path / "out"
    stack_file(tmp_path, yaml.safe_dump({"config": {"es-cluster:nodeGroups": groups}}))
    assert run_render(tmp_path, "-o", str(out)).returncode == 0
    big = sorted(p.name for p in out.iterdir())
    assert "130-poddisruptionbudget-elasticsearch-master.yaml" in big
    (out / "kustomization.yaml").write_text("resources: []\n")
    stack_file(tmp_path, "config:\n  es-cluster:nodeGroups: {m: {roles: [master, data, client]}}\n")
    proc = run_render(tmp_path, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    written = int(proc.stdout.split()[1])
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == written + 1 and "kustomization.yaml" in names, names


def test_a_merged_mapping_that_merges_itself_keeps_its_own_keys_first(tmp_path):
    text = (
        "config:\n  es-cluster:nodeGroups:\n    base: &base {roles: [data], heapSize: 1g, replicas: 1}\n"
        "    mid: &mid {<<: *base, heapSize: 2g}\n    m: {<<: *mid, roles: [master]}\n"
    )
    groups = config_from_file(stack_file(tmp_path, text))["nodeGroups"]
    assert groups["mid"] == {"roles": ["data"], "heapSize": "2g", "replicas": 1}
    assert groups["m"] == {"roles": ["master"], "heapSize": "2g", "replicas": 1}


def test_a_merge_of_something_not_a_mapping_is_refused_with_its_line(tmp_path):
    text = "config:\n  es-cluster:nodeGroups:\n    m: {<<: [1], roles: [master]}\n"
    with pytest.raises(StackFileError, match="line 3: a merge key \\(<<\\) takes a mapping or a list of mappings"):
        config_from_file(stack_file(tmp_path, text))
