"""The program and its policy pack agree: every config the program accepts is rendered, the
pack's rules run on the rendered objects, and each violation the pack would refuse with has a
program warning carrying the same words. A user who does not run the pack is told the same.

The pack's sentences are "<who>: <subject> <words>", where <who> names the workload (or the
cluster) and <subject> the setting as the pack sees it (`ES_HEAP_SIZE 2g`, `image '…'`); the
program's are "<key>: <value> <words>". What both must share is <words> with the value."""

from __future__ import annotations

import re

import es_rules
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from es_cluster import specs
from es_cluster.config import ConfigError, parse_stack_config, validate
from es_cluster.render import image_for_render

from .test_config_properties import DIGEST_REF, EXAMPLES, ok_group, ok_names

GROUP = {"roles": ["master", "data", "client"], "replicas": 1, "storage": {"size": "1Gi"}}

# What the pack calls the heap and the image, before the value: removed, since the program names
# the config key instead.
_WHO = re.compile(r"^(?:cluster \S+|\w+ \S+ container \S+): ")
_SUBJECT = re.compile(r"^(?:ES_HEAP_SIZE|(?:ES|OPENSEARCH)_JAVA_OPTS -Xmx|image '[^']*') ")


def pack_violations(manifests: list[dict]) -> list[str]:
    workloads = [(m["kind"], m) for m in manifests if m["kind"] in ("DaemonSet", "Deployment", "StatefulSet")]
    found = []
    for kind, w in workloads:
        if not es_rules.is_elasticsearch(w):
            continue
        for rule in (es_rules.heap_violations, es_rules.digest_violations, es_rules.privilege_violations, es_rules.kubeconfig_violations):
            found += rule(kind, w)
    found += es_rules.master_count_violations(workloads, production=False)
    found += es_rules.min_masters_violations(workloads)
    return found


def words(violation: str) -> str:
    return _SUBJECT.sub("", _WHO.sub("", violation))


def deployed(cluster) -> list[dict]:
    """The objects as `up` declares them: a pushed image by the digest the registry gives it
    (render, having pushed nothing, shows its tag)."""
    img = cluster.image
    ref = f"{img.repository}@sha256:{'0' * 64}" if img.push and not img.reference else image_for_render(cluster)
    return specs.manifests(cluster, ref)


def unmatched(raw: dict) -> tuple[list[str], list[str]]:
    """The pack's violations that no program warning carries, and the program's warnings."""
    cluster = validate(parse_stack_config(raw))
    warnings = list(cluster.warnings)
    return [v for v in pack_violations(deployed(cluster)) if not any(words(v) in w for w in warnings)], warnings


@pytest.mark.parametrize(
    "case, raw, expected",
    [
        (
            "a heap with no memory limit",
            {"nodeGroups": {"all": {**GROUP, "resources": {"requests": {"cpu": "1"}}}}},
            "nodeGroups.all.heapSize: 1g is set but the container has no memory limit to hold it to half of",
        ),
        (
            "a heap above half the limit",
            {"nodeGroups": {"all": {**GROUP, "heapSize": "1500m", "resources": {"limits": {"memory": "2Gi"}}}}},
            "nodeGroups.all.heapSize: 1500m is more than half the memory limit 2Gi; Lucene needs the rest",
        ),
        (
            "a heap of 32 GiB",
            {"nodeGroups": {"all": {**GROUP, "heapSize": "32g", "resources": {"limits": {"memory": "64Gi"}}}}},
            "nodeGroups.all.heapSize: 32g is 32 GiB or more; the JVM loses compressed object pointers, stay below 31g",
        ),
        (
            "an even number of masters",
            {"nodeGroups": {"all": {**GROUP, "replicas": 2}}},
            "nodeGroups: 2 master-eligible nodes is an even number; use an odd count (3 is usual)",
        ),
        (
            "an image named by tag",
            {"image": {"push": False}, "nodeGroups": {"all": GROUP}},
            "image.push: false: pods name the image by its tag, and it is not pinned by digest (repository@sha256:...)",
        ),
        (
            "the same on Elasticsearch 8",
            {"engine": {"version": "8.19.0"}, "nodeGroups": {"all": {**GROUP, "resources": {"requests": {"cpu": "1"}}}}},
            "nodeGroups.all.heapSize: 1g is set but the container has no memory limit to hold it to half of",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v and ":" not in v else "",
)
def test_what_the_pack_refuses_the_program_warns_of_in_the_same_words(case, raw, expected):
    missing, warnings = unmatched(raw)
    assert missing == [], f"{case}: the pack refuses with words no program warning carries; warnings: {warnings}"
    assert any(w.startswith(expected) for w in warnings), warnings


def test_a_config_the_pack_accepts_draws_no_such_warning():
    raw = {"nodeGroups": {"all": {**GROUP, "replicas": 3, "heapSize": "1g", "resources": {"limits": {"memory": "2Gi"}}}}}
    cluster = validate(parse_stack_config(raw))
    assert pack_violations(deployed(cluster)) == []
    assert cluster.warnings == ()


configs = st.fixed_dictionaries(
    {"nodeGroups": st.dictionaries(ok_names, ok_group, min_size=1, max_size=3)},
    optional={
        "image": st.sampled_from([{"reference": DIGEST_REF}, {"push": False}, {"push": True}]),
        "kubeconfig": st.just({"hostPath": "/srv/kubernetes/kubeconfig"}),
        "engine": st.sampled_from([{"version": "2.3.4"}, {"version": "8.19.0"}, {"distribution": "opensearch", "version": "2.19.4"}]),
    },
)


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(configs)
def test_for_any_config_the_program_accepts_each_pack_violation_is_a_program_warning(raw):
    try:
        missing, _ = unmatched(raw)
    except ConfigError:
        assume(False)
    assert missing == []
