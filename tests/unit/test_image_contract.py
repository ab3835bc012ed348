"""The image and the component agree: every ${VAR} the image's elasticsearch.yml reads is set
on every ES container, and the Dockerfile puts our files where ES and the JVM read them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from es_cluster import constants as c
from es_cluster import parse_stack_config, specs, validate

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"
VARIANTS = {
    "seed": None,
    "combined-no-kubeconfig": {"nodeGroups": {"all": {"roles": ["master", "data", "client"], "replicas": 1}}},
    "statefulsets": {
        "kubeconfig": {"hostPath": "/etc/kubernetes/kubelet.conf"},
        "nodeGroups": {
            "m": {"roles": ["master"], "storage": {"size": "5Gi"}},
            "d": {"roles": ["data"], "storage": {"size": "50Gi"}},
            "c": {"roles": ["client"]},
        },
    },
}


def yml_vars() -> set[str]:
    text = (IMAGE_DIR / "elasticsearch.yml").read_text()
    settings = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return set(re.findall(r"\$\{([A-Z_]+)\}", settings))


def test_elasticsearch_yml_is_valid_yaml_reading_the_expected_vars():
    yaml.safe_load((IMAGE_DIR / "elasticsearch.yml").read_text())
    assert yml_vars() == {
        c.ENV_CLUSTER_NAME,
        c.ENV_NODE_NAME,
        c.ENV_NODE_MASTER,
        c.ENV_NODE_DATA,
        c.ENV_NETWORK_HOST,
        c.ENV_HTTP_ENABLE,
        c.ENV_DISCOVERY_SERVICE,
        c.ENV_NAMESPACE,
        c.ENV_MIN_MASTERS,
    }


def test_quorum_setting_reads_min_masters():
    doc = yaml.safe_load((IMAGE_DIR / "elasticsearch.yml").read_text())
    assert doc["discovery"]["zen"]["minimum_master_nodes"] == "${MIN_MASTERS}"
    assert doc["discovery"]["type"] == "kubernetes"
    assert doc["cloud"]["kubernetes"]["service"] == "${DISCOVERY_SERVICE}"
    assert doc["path"]["data"].startswith(c.DATA_PATH + "/")


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_yml_var_is_set_on_every_es_container(variant, seed_config):
    cluster = validate(parse_stack_config(VARIANTS[variant] or seed_config))
    for group in cluster.groups:
        names = {e["name"] for e in specs.es_container(group, cluster, "img")["env"]}
        assert yml_vars() <= names, (group.name, yml_vars() - names)


def test_dockerfile_defaults_to_the_field_reports_base_and_copies_both_files():
    text = (IMAGE_DIR / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={c.DEFAULT_BASE_IMAGE}" in text
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    assert re.search(r"^COPY elasticsearch.yml /elasticsearch/config/$", text, re.M)
    assert re.search(r"^COPY java.policy /usr/lib/jvm/default-jvm/jre/lib/security/$", text, re.M)


def test_java_policy_grants_file_read():
    assert 'permission java.io.FilePermission "-", "read";' in (IMAGE_DIR / "java.policy").read_text()
