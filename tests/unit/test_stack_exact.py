"""The stack reader's exact behaviour: what the engine's JSON text becomes, which namespaces are
near misses, and every message a stack file can draw, word for word and on one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from es_cluster import stack
from es_cluster.stack import StackFileError, config_from_file, config_from_runtime, near_miss_warnings


def test_the_engines_json_text_becomes_objects_and_lists_and_other_text_stays(monkeypatch):
    monkeypatch.setattr(
        stack,
        "runtime_config",
        lambda: {
            "es-cluster:nodeGroups": '{"m": {"roles": ["master"]}}',
            "es-cluster:allowDisruptive": '["quorumLoss"]',
            "es-cluster:clusterName": "[not json",
            "es-cluster:namespace": "logs",
            "kubernetes:context": '{"x": 1}',
        },
    )
    assert config_from_runtime() == {
        "nodeGroups": {"m": {"roles": ["master"]}},
        "allowDisruptive": ["quorumLoss"],
        "clusterName": "[not json",
        "namespace": "logs",
    }


def test_a_near_miss_is_judged_on_the_namespace_before_the_first_colon():
    assert near_miss_warnings(["es-clustr:a:b"]) == [
        "es-clustr:a:b is not read: its namespace 'es-clustr' is not this project's 'es-cluster' (did you mean es-cluster:a:b?)"
    ]


def test_a_namespace_four_fifths_like_the_projects_is_a_near_miss_and_less_is_not():
    # difflib's ratio: es-cluster-prod 0.8 exactly; es-cluster-prod1 0.77.
    assert [w.split(" ")[0] for w in near_miss_warnings(["es-cluster-prod:x", "es-cluster-prod1:x"])] == ["es-cluster-prod:x"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("config:\n  ? [a]\n  : 1\n", "line 2: a key must be a plain value"),
        (
            "config:\n  es-cluster:createNamespace: yes\n",
            "line 2: 'yes' means something else to the Pulumi CLI (YAML 1.2) than to YAML 1.1; write true/false or a plain number, or quote it",
        ),
        ("config:\n  es-cluster:nodeGroups: [\n", "line 3: not valid YAML (expected the node content, but found '<stream end>')"),
        (
            "config:\x07\n",
            'not valid YAML (unacceptable character #x0007: special characters are not allowed in "<unicode string>", position 7)',
        ),
    ],
)
def test_each_stack_file_problem_is_one_line_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(StackFileError) as e:
        config_from_file(path)
    assert str(e.value) == f"{path}: {message}"


def test_a_file_that_cannot_be_read_says_why(tmp_path):
    with pytest.raises(StackFileError) as e:
        config_from_file(tmp_path)
    assert str(e.value) == f"{tmp_path}: cannot be read ([Errno 21] Is a directory: '{tmp_path}')"


def test_an_empty_stack_file_has_no_config(tmp_path):
    assert config_from_file(write(tmp_path, "")) == {}


def test_booleans_arrive_as_the_cli_sends_them(tmp_path):
    path = write(tmp_path, "config:\n  es-cluster:createNamespace: true\n  es-cluster:image: {push: true}\n")
    assert config_from_file(path) == {"createNamespace": "true", "image": {"push": True}}
