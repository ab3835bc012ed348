"""The engine profiles: what each family's pods get, what config accepts for it, and which
version changes it allows. The 2.3.4 objects are pinned by the other unit tests as they were."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from es_cluster import ConfigError, constants, engines, impact, parse_stack_config, specs, validate
from es_cluster.image import build_tag, identity
from es_cluster.model import Engine

from .test_specs import IMAGE

ROOT = Path(__file__).resolve().parents[2]
MODERN = ROOT / "images" / "modern"

# The modern stacks' layout: three master StatefulSet pods, data, and coordinating nodes.
LAYOUT = {
    "clusterName": "logs",
    "nodeGroups": {
        "master": {"roles": ["master"], "replicas": 3, "storage": {"size": "5Gi"}},
        "data": {"roles": ["data"], "replicas": 2, "storage": {"size": "50Gi"}},
        "client": {"roles": ["client"], "replicas": 1},
    },
}
MODERN_ENGINES = [("elasticsearch", v) for v in ("7.17.28", "8.19.0", "9.1.0")] + [("opensearch", v) for v in ("2.19.4", "2.19.6", "3.3.0")]


def cluster(distribution="elasticsearch", version="8.19.0", change=lambda raw: None):
    raw = copy.deepcopy(LAYOUT)
    raw["engine"] = {"distribution": distribution, "version": version}
    change(raw)
    return validate(parse_stack_config(raw))


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as e:
        validate(parse_stack_config(raw))
    return dict(e.value.problems)


def env(group_name: str, c) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in specs.pod_env(c.group(group_name), c)}


def container(c, group_name: str) -> dict:
    return specs.workload(c.group(group_name), c, IMAGE)["spec"]["template"]["spec"]["containers"][0]


# --- which engines exist ---------------------------------------------------------------------


def test_the_default_engine_is_the_field_reports(seed_config):
    c = validate(parse_stack_config(seed_config))
    assert c.engine == Engine("elasticsearch", "2.3.4")
    assert engines.profile(c.engine).family == "zen1"


@pytest.mark.parametrize(
    ("distribution", "version", "family"),
    [*[(d, v, "zen2") for d, v in MODERN_ENGINES[:3]], *[(d, v, "opensearch") for d, v in MODERN_ENGINES[3:]]],
)
def test_each_supported_version_has_its_family_profile(distribution, version, family):
    assert engines.profile(cluster(distribution, version).engine).family == family


def test_a_version_without_a_profile_is_refused_naming_the_key_and_the_supported_versions():
    raw = {**copy.deepcopy(LAYOUT), "engine": {"distribution": "elasticsearch", "version": "8.1.0"}}
    assert problems(raw) == {"engine.version": "no engine profile deploys elasticsearch '8.1.0'; supported: 2.3.4, 7.17.28, 8.19.0, 9.1.0"}
    raw["engine"] = {"distribution": "opensearch", "version": "1.3.0"}
    assert problems(raw) == {"engine.version": "no engine profile deploys opensearch '1.3.0'; supported: 2.19.4, 2.19.6, 3.3.0"}


def test_an_unknown_distribution_or_key_is_refused():
    raw = {**copy.deepcopy(LAYOUT), "engine": {"distribution": "solr", "version": "9.0.0"}}
    assert problems(raw) == {"engine.distribution": "must be one of elasticsearch, opensearch, got 'solr'"}
    raw["engine"] = {"distribution": "elasticsearch", "versoin": "8.19.0"}
    assert "did you mean 'version'?" in problems(raw)["engine.versoin"]


# --- what a 7+ pod gets ---------------------------------------------------------------------


def test_es8_master_env_names_roles_seed_hosts_and_heap_and_nothing_of_zen1():
    c = cluster()
    assert env("master", c) == {
        "CLUSTER_NAME": "logs",
        "NODE_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "NODE_ROLES": "master",
        "NETWORK_HOST": "_site_",
        "DISCOVERY_SERVICE": "logs-transport.elasticsearch.svc",
        "ALLOW_MMAP": "true",
        "ES_JAVA_OPTS": "-Xms1g -Xmx1g",
        "ES_CLUSTER_SECURITY": "true",
        "ES_CLUSTER_HTTP_TLS": "true",
        "POD_IP": {"fieldRef": {"fieldPath": "status.podIP"}},
        "ES_CLUSTER_USER": "elastic",
    }


@pytest.mark.parametrize(("distribution", "version"), MODERN_ENGINES)
def test_no_zen1_setting_reaches_a_7_plus_pod(distribution, version):
    c = cluster(distribution, version)
    for g in c.groups:
        names = set(env(g.name, c))
        assert not names & {constants.ENV_MIN_MASTERS, constants.ENV_NODE_MASTER, constants.ENV_HTTP_ENABLE, constants.ENV_HEAP_SIZE}


def test_opensearch_names_the_master_role_cluster_manager_and_reads_its_own_java_opts():
    c = cluster("opensearch", "2.19.4", lambda raw: raw["nodeGroups"]["master"].update(roles=["master", "data"]))
    e = env("master", c)
    assert e["NODE_ROLES"] == "cluster_manager,data"
    assert e["OPENSEARCH_JAVA_OPTS"] == "-Xms1g -Xmx1g"
    assert "ES_JAVA_OPTS" not in e
    assert container(c, "master")["volumeMounts"][0] == {"name": "storage", "mountPath": "/usr/share/opensearch/data"}


def test_a_client_group_is_coordinating_only_and_data_roles_are_as_configured():
    c = cluster()
    assert env("client", c)["NODE_ROLES"] == ""
    assert env("data", c)["NODE_ROLES"] == "data"


def test_daemonset_pods_take_the_kubernetes_node_name():
    def daemonsets(raw):
        raw["nodeGroups"]["master"] = {"roles": ["master"], "replicas": 3, "workload": "DaemonSet", "storage": {"hostPath": "/srv/es"}}
        raw["engine"]["initialMasterNodes"] = ["node-a", "node-b", "node-c"]

    c = cluster(change=daemonsets)
    assert env("master", c)["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert specs.initial_masters(c) == ["node-a", "node-b", "node-c"]


def test_the_seed_host_is_the_transport_service_which_exposes_only_9300():
    c = cluster()
    svc = specs.transport_service(c)
    assert env("master", c)["DISCOVERY_SERVICE"] == f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc"
    assert [p["port"] for p in svc["spec"]["ports"]] == [9300]
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True


def test_7_plus_pods_need_no_api_access_no_rbac_and_run_as_the_images_user_at_restricted():
    c = cluster()
    kinds = [m["kind"] for m in specs.cluster_manifests(c)]
    assert "Role" not in kinds and "RoleBinding" not in kinds
    pod = specs.workload(c.group("master"), c, IMAGE)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "runAsNonRoot": True,
    }
    assert "add" not in pod["containers"][0]["securityContext"]["capabilities"]
    assert c.pod_security_level == "restricted"


def test_the_zen1_layout_keeps_its_rbac_and_its_token(seed_config):
    c = validate(parse_stack_config(seed_config))
    kinds = [m["kind"] for m in specs.cluster_manifests(c)]
    assert "Role" in kinds and "ConfigMap" not in kinds
    pod = specs.workload(c.group("master"), c, IMAGE)["spec"]["template"]["spec"]
    assert "automountServiceAccountToken" not in pod


def test_allow_mmap_false_reaches_the_pods():
    c = cluster(change=lambda raw: raw["engine"].update(allowMmap=False))
    assert env("master", c)["ALLOW_MMAP"] == "false"


# --- bootstrap, exactly once ----------------------------------------------------------------


def test_the_bootstrap_config_map_lists_the_first_masters_by_their_stable_pod_names():
    c = cluster()
    [cm] = [m for m in specs.cluster_manifests(c) if m["kind"] == "ConfigMap"]
    assert cm["metadata"]["name"] == "logs-bootstrap"
    # And the planned nodes, which the readiness probe reads: 3 masters, 2 data, 1 client.
    assert cm["data"] == {"initial-masters": "logs-master-0,logs-master-1,logs-master-2", "nodes": "6"}
    [emptied] = [m for m in specs.cluster_manifests(c, "") if m["kind"] == "ConfigMap"]
    assert emptied["data"] == {"initial-masters": "", "nodes": "6"}


def test_every_pod_mounts_the_bootstrap_config_map_as_a_folder_so_its_changes_reach_it():
    c = cluster()
    for name in ("master", "data", "client"):
        pod = specs.workload(c.group(name), c, IMAGE)["spec"]["template"]["spec"]
        assert {"name": "bootstrap", "configMap": {"name": "logs-bootstrap"}} in pod["volumes"]
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "bootstrap")
        assert mount == {"name": "bootstrap", "mountPath": "/etc/es-cluster/bootstrap", "readOnly": True}


def test_emptying_the_bootstrap_list_changes_no_pod_template():
    c = cluster()
    listed, emptied = specs.cluster_manifests(c), specs.cluster_manifests(c, "")
    # Only the ConfigMap differs, and the workloads never read the list: no template holds it.
    assert [m for m in listed if m["kind"] != "ConfigMap"] == [m for m in emptied if m["kind"] != "ConfigMap"]
    workloads = [m for m in specs.manifests(c, IMAGE) if m["kind"] == "StatefulSet"]
    assert workloads and "logs-master-0,logs-master-1" not in str(workloads)


def test_the_entrypoint_writes_no_roles_as_an_empty_list():
    # A YAML list in the file is the one form ES 7.17, 8, 9 and OpenSearch all read; the e2e
    # test's coordinating node shows `-` in _cat/nodes on each.
    text = (MODERN / "entrypoint.sh").read_text()
    assert "roles=${NODE_ROLES:-}" in text
    assert 'sed -i "s/^node\\.roles:.*/node.roles: [$roles]/" "$config"' in text


def test_the_entrypoint_reads_the_list_where_the_component_mounts_it():
    text = (MODERN / "entrypoint.sh").read_text()
    assert f"{constants.BOOTSTRAP_MOUNT_PATH}/{constants.BOOTSTRAP_KEY}" in text
    for p in engines.PROFILES[1:]:
        assert f"setting={p.bootstrap_setting}" in text


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (
            lambda raw: raw["nodeGroups"]["master"].update(workload="Deployment", storage=None),
            "nodeGroups.master.workload",
            "a master-eligible group needs stable node names",
        ),
        (
            lambda raw: raw["nodeGroups"]["master"].update(workload="DaemonSet", storage={"hostPath": "/srv/es"}),
            "engine.initialMasterNodes",
            "the DaemonSet master groups plan 3 node(s) and 0 are named",
        ),
        (lambda raw: raw["engine"].update(initialMasterNodes=["a", "b", "c"]), "engine.initialMasterNodes", "there are none"),
        (lambda raw: raw["engine"].update(initialMasterNodes=["a", "a"]), "engine.initialMasterNodes", "names a node twice"),
        (
            lambda raw: raw.update(kubeconfig={"hostPath": "/srv/kubeconfig"}),
            "kubeconfig",
            "finds its peers through the transport Service's DNS name",
        ),
    ],
)
def test_7_plus_layout_problems_name_their_key(change, key, words):
    raw = {**copy.deepcopy(LAYOUT), "engine": {"distribution": "elasticsearch", "version": "8.19.0"}}
    change(raw)
    found = problems(raw)
    assert words in found[key], found


def test_zen1_refuses_the_7_plus_settings(seed_config):
    seed_config["engine"] = {"allowMmap": False, "initialMasterNodes": ["a"]}
    found = problems(seed_config)
    assert "is a setting of Elasticsearch 7+ and OpenSearch" in found["engine.allowMmap"]
    assert "which bootstrap a cluster once" in found["engine.initialMasterNodes"]


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("distribution", "version"), MODERN_ENGINES)
def test_a_7_plus_image_builds_our_context_on_the_official_image_by_default(distribution, version):
    img = cluster(distribution, version).image
    official = {"elasticsearch": "docker.elastic.co/elasticsearch/elasticsearch", "opensearch": "opensearchproject/opensearch"}
    assert img.base_image == f"{official[distribution]}:{version}"
    # The package's link to images/modern/ (a copy of it where links are not kept, as under mutmut).
    assert {f.name: f.read_bytes() for f in Path(img.context).iterdir()} == {f.name: f.read_bytes() for f in MODERN.iterdir()}
    assert img.build_args == (("ENGINE", distribution),)


def test_the_engine_is_part_of_the_image_tag_and_the_field_reports_tag_is_unchanged(seed_config):
    es = cluster().image
    os_ = cluster(
        "opensearch",
        "2.19.4",
        lambda raw: raw["image"].update(baseImage=es.base_image) if "image" in raw else raw.update(image={"baseImage": es.base_image}),
    ).image
    assert es.base_image == os_.base_image and build_tag(es) != build_tag(os_)
    seed = validate(parse_stack_config(seed_config)).image
    assert seed.build_args == () and identity(seed).startswith("localhost:5000/es-kubernetes:ctx-")


def yml_vars(name: str) -> set[str]:
    text = (MODERN / name).read_text()
    return set(re.findall(r"\$\{([A-Z_]+)\}", "\n".join(line.split("#", 1)[0] for line in text.splitlines())))


@pytest.mark.parametrize(("distribution", "version"), MODERN_ENGINES)
def test_every_template_var_is_set_on_every_container_and_the_data_path_is_the_mount(distribution, version):
    c = cluster(distribution, version)
    template = f"{distribution}.yml"
    # The engine substitutes ${VAR} as text, then parses: so does this test, with the env's values.
    values = {e["name"]: e.get("value", "x") for e in specs.pod_env(c.group("master"), c)}
    doc = yaml.safe_load(re.sub(r"\$\{([A-Z_]+)\}", lambda m: values[m[1]], (MODERN / template).read_text()))
    assert doc["node.roles"] == []  # the entrypoint writes the group's roles into it: below
    assert doc["discovery.seed_hosts"] == "logs-transport.elasticsearch.svc"
    for g in c.groups:
        assert yml_vars(template) <= set(env(g.name, c)), g.name
        assert container(c, g.name)["volumeMounts"][0]["mountPath"] == doc["path.data"] == engines.profile(c.engine).data_path
    assert "minimum_master_nodes" not in (MODERN / template).read_text()


# --- upgrades: the engines' own rules, refused with no override ----------------------------


@pytest.mark.parametrize(
    ("before", "after", "refusal"),
    [
        (("elasticsearch", "7.17.28"), ("elasticsearch", "8.19.0"), None),
        (("elasticsearch", "8.19.0"), ("elasticsearch", "9.1.0"), None),
        (("elasticsearch", "7.17.28"), ("elasticsearch", "9.1.0"), "skips a major version: upgrade one major at a time (to 8.x first)"),
        (("elasticsearch", "8.19.0"), ("elasticsearch", "7.17.28"), "a downgrade from 8.19.0 to 7.17.28"),
        (("elasticsearch", "7.16.3"), ("elasticsearch", "8.19.0"), "8.x upgrades in place only from 7.17.0 or later"),
        (("elasticsearch", "8.17.0"), ("elasticsearch", "9.1.0"), "9.x upgrades in place only from 8.18.0 or later"),
        (("elasticsearch", "2.3.4"), ("elasticsearch", "8.19.0"), "no in-place path from Elasticsearch 2.3.4"),
        (("opensearch", "2.19.4"), ("opensearch", "3.3.0"), None),
        (("opensearch", "2.19.4"), ("opensearch", "2.19.6"), None),
        (("opensearch", "2.18.0"), ("opensearch", "3.3.0"), "3.x upgrades in place only from 2.19.0 or later"),
        (("opensearch", "3.3.0"), ("opensearch", "2.19.6"), "a downgrade"),
        (("elasticsearch", "8.19.0"), ("opensearch", "2.19.4"), "changes distribution, which is never done in place"),
    ],
)
def test_upgrade_rules(before, after, refusal):
    change, disruption = impact.engine_upgrade({"distribution": before[0], "version": before[1]}, Engine(*after))
    assert change == (" ".join(before), " ".join(after))
    if refusal is None:
        assert disruption is None
    else:
        assert disruption is not None and not disruption.overridable
        assert refusal in disruption.message
        assert disruption.refusal().endswith("Refused, with no override.")


def test_a_version_change_reads_as_a_rolling_upgrade_and_an_unsafe_one_is_refused_even_with_allow_disruptive():
    old = cluster("elasticsearch", "8.19.0")
    record = impact.record(old, identity(old.image))
    new = cluster("elasticsearch", "9.1.0")
    result = impact.compare(record, new, identity(new.image), frozenset())
    assert "  engine: rolling upgrade elasticsearch 8.19.0 -> elasticsearch 9.1.0" in result.summary()
    assert result.order == ("data", "client", "master") and not result.refused
    back = impact.compare(impact.record(new, identity(new.image)), old, identity(old.image), frozenset(impact.DISRUPTIONS))
    assert [d.keys for d in back.refused] == [("engine.version",)]


def test_a_cluster_first_deployed_on_7_is_refused_9_until_its_old_indices_are_dealt_with_and_the_record_keeps_7():
    first, middle, last = (cluster("elasticsearch", v) for v in ("7.17.28", "8.19.0", "9.1.0"))
    on_7 = impact.record(first, identity(first.image))
    assert on_7["engine"]["firstVersion"] == "7.17.28"
    to_8 = impact.compare(on_7, middle, identity(middle.image), frozenset())
    assert not to_8.refused and to_8.first_version == "7.17.28"
    on_8 = impact.record(middle, identity(middle.image), to_8.first_version)
    assert on_8["engine"] == {"distribution": "elasticsearch", "version": "8.19.0", "firstVersion": "7.17.28"}
    to_9 = impact.compare(on_8, last, identity(last.image), frozenset())
    [refused] = to_9.refused
    assert (refused.kind, refused.keys, refused.overridable) == (impact.OLD_INDICES, ("engine.version",), True)
    assert refused.message == (
        "elasticsearch 8.19.0 -> elasticsearch 9.1.0: this cluster was first deployed on 7.17.28, and a node of 9.1.0 "
        "stops at start while an index created on 7.x can still be written, so the roll would stop at its first pod. On "
        "8.19.0 first, for every index created on 7.x: reindex each into a new index, or delete it, or add a write block "
        "with the add-index-block API (PUT /<index>/_block/write, which marks it verified; the index.blocks.write setting "
        "alone is not enough), and 9.x keeps it, read-only."
    )
    assert refused.refusal().endswith("set es-cluster:allowDisruptive to [oldIndices] (or true) for this change.")
    allowed = impact.compare(on_8, last, identity(last.image), frozenset({impact.OLD_INDICES}))
    assert not allowed.refused and [d.kind for d in allowed.allowed] == [impact.OLD_INDICES]
    assert allowed.first_version == "7.17.28"
    # First deployed on 8, or a record from before firstVersion (its version the oldest known): no refusal.
    assert not impact.compare(impact.record(middle, identity(middle.image)), last, identity(last.image), frozenset()).refused
    del on_8["engine"]["firstVersion"]
    assert not impact.compare(on_8, last, identity(last.image), frozenset()).refused


def test_opensearch_names_no_write_block_for_its_old_indices():
    profile = engines.for_version("opensearch", "3.3.0")
    why = profile.old_indices_refusal((1, 3, 0), (2, 19, 6), (3, 3, 0))
    assert why is not None and why.endswith("for every index created on 1.x: reindex each into a new index, or delete it")
    assert "while an index created on 1.x is left" in why
    assert profile.old_indices_refusal((2, 19, 4), (2, 19, 6), (3, 3, 0)) is None


def test_a_minor_upgrade_of_a_cluster_already_two_majors_past_its_first_is_not_refused():
    profile = engines.for_version("elasticsearch", "9.1.0")
    assert profile.old_indices_refusal((7, 17, 28), (9, 1, 0), (9, 2, 0)) is None
    assert profile.old_indices_refusal((7, 17, 28), (8, 19, 0), (9, 2, 0)) is not None


@pytest.mark.parametrize(
    ("image", "key"),
    [
        ({"baseImage": "registry.example/es:8.19.0"}, "image.baseImage"),
        ({"reference": "registry.example/logs@sha256:" + "1" * 64}, "image.reference"),
    ],
)
def test_a_version_change_whose_image_stays_is_refused_since_no_node_would_restart(image, key):
    def pinned(raw):
        raw["image"] = dict(image)

    old = cluster("elasticsearch", "8.19.0", pinned)
    new = cluster("elasticsearch", "9.1.0", pinned)
    result = impact.compare(impact.record(old, identity(old.image)), new, identity(new.image), frozenset(impact.DISRUPTIONS))
    [refusal] = result.refused
    assert refusal.keys == ("engine.version", key) and not refusal.overridable
    assert "no node would restart, so the cluster would keep running elasticsearch 8.19.0 while the stack records" in refusal.message
    assert all(g.change == "unchanged" for g in result.groups)
    # The same change with the image moved along is the rolling upgrade.
    moved = cluster(
        "elasticsearch",
        "9.1.0",
        lambda raw: raw.update(image={k: v.replace("8.19.0", "9.1.0").replace("1" * 64, "2" * 64) for k, v in image.items()}),
    )
    assert not impact.compare(impact.record(old, identity(old.image)), moved, identity(moved.image), frozenset()).refused


def test_a_record_from_before_engines_reads_as_the_field_reports_engine(seed_config):
    c = validate(parse_stack_config(seed_config))
    record = impact.record(c, identity(c.image))
    del record["engine"]
    assert impact.compare(record, c, identity(c.image), frozenset()).unchanged


# --- the component: the list on a first deploy only -------------------------------------------


def _bootstrap_data(mocks, raw, stack_outputs):
    import pulumi

    from es_cluster import EsCluster

    from .test_component import by_type, settled

    mocks.stack_outputs = stack_outputs
    es = EsCluster("logs", parse_stack_config(raw))
    return settled(es, es.impact).apply(lambda _: by_type(mocks, "kubernetes:core/v1:ConfigMap")), pulumi


def _modern_raw():
    return {**copy.deepcopy(LAYOUT), "engine": {"distribution": "elasticsearch", "version": "8.19.0"}, "image": {"reference": IMAGE}}


def test_the_component_lists_the_first_masters_on_a_first_deploy(mocks):
    import pulumi

    @pulumi.runtime.test
    def first():
        maps, _ = _bootstrap_data(mocks, _modern_raw(), {})
        return maps.apply(lambda m: _assert_list(m, "logs-master-0,logs-master-1,logs-master-2"))

    first()


def test_the_component_empties_the_list_once_the_cluster_has_formed(mocks):
    import pulumi

    deployed = cluster()
    record = {"es-cluster:logs": {"deployed": impact.record(deployed, IMAGE)}}

    @pulumi.runtime.test
    def later():
        maps, _ = _bootstrap_data(mocks, _modern_raw(), record)
        return maps.apply(lambda m: _assert_list(m, ""))

    later()


def test_the_component_records_the_first_version_through_an_upgrade(mocks):
    """The record a deploy exports carries the first version on: what the next major's refusal reads."""
    import pulumi

    from es_cluster import EsCluster

    from .test_component import settled

    first = cluster("elasticsearch", "7.17.28")
    mocks.stack_outputs = {"es-cluster:logs": {"deployed": impact.record(first, identity(first.image))}}

    @pulumi.runtime.test
    def upgraded():
        es = EsCluster("logs", parse_stack_config(_modern_raw()))
        return settled(es, es.record).apply(lambda r: _assert_first(r[0]["deployed"]["engine"]))

    upgraded()


def _assert_first(engine):
    assert engine == {"distribution": "elasticsearch", "version": "8.19.0", "firstVersion": "7.17.28"}


def _assert_list(maps, expected):
    [cm] = maps.values()
    assert cm.inputs["metadata"]["name"] == "logs-bootstrap"
    assert cm.inputs["data"] == {"initial-masters": expected, "nodes": "6"}


@pytest.mark.parametrize("null", [None, ""])
def test_a_null_engine_is_the_default_one(seed_config, null):
    # The CLI hands a stack file's `engine: null` over as "" (as for kubeconfig and storage).
    seed_config["engine"] = null
    assert validate(parse_stack_config(seed_config)).engine == Engine()


def test_only_the_version_set_keeps_the_default_distribution():
    c = validate(parse_stack_config({**copy.deepcopy(LAYOUT), "engine": {"version": "9.1.0"}}))
    assert c.engine == Engine("elasticsearch", "9.1.0")


@pytest.mark.parametrize("replicas", [10_001, 2**31 - 1])
def test_more_first_masters_than_the_bootstrap_config_map_can_name_are_refused_before_any_is_named(replicas):
    """The bootstrap list names each first master; 2**31-1 StatefulSet masters once made the
    program build a list of two billion names."""
    raw = copy.deepcopy(LAYOUT) | {"engine": {"version": "8.19.0"}}
    raw["nodeGroups"]["master"]["replicas"] = replicas
    assert problems(raw) == {
        "nodeGroups": f"{replicas} master-eligible nodes to bootstrap the cluster with: elasticsearch 8.19.0 names each first master "
        "in the bootstrap ConfigMap (cluster.initial_master_nodes), which holds at most 10000; 3 or 5 dedicated masters are usual"
    }


def test_ten_thousand_first_masters_fit_the_bootstrap_config_map():
    def masters(raw):
        raw["nodeGroups"]["master"]["replicas"] = 9_999

    c = cluster(change=masters)
    names = ",".join(specs.initial_masters(c))
    assert len(specs.initial_masters(c)) == 9_999 and len(names.encode()) < 2**20


# --- restarts: the pod hooks of images/modern/probe.sh (run for real in test_probe.py) ---------


@pytest.mark.parametrize(("distribution", "version"), MODERN_ENGINES)
def test_every_7_plus_pod_holds_allocation_before_it_stops_and_is_ready_by_the_probe_script(distribution, version):
    c = cluster(distribution, version)
    for g in c.groups:
        ct = container(c, g.name)
        assert ct["lifecycle"] == {"preStop": {"exec": {"command": ["/usr/local/bin/es-cluster-probe", "pre-stop"]}}}
        assert ct["readinessProbe"]["exec"] == {"command": ["/usr/local/bin/es-cluster-probe", "ready"]}
        # Three calls of at most 3 s each fit the probe's timeout.
        assert ct["readinessProbe"]["timeoutSeconds"] >= 9
        assert ct["livenessProbe"]["tcpSocket"] == {"port": 9300}
        assert env(g.name, c)["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert (MODERN / "probe.sh").stat().st_mode & 0o111
    assert "COPY probe.sh /usr/local/bin/es-cluster-probe" in (MODERN / "Dockerfile").read_text()


def test_the_field_reports_pods_have_no_hooks(seed_config):
    c = validate(parse_stack_config(seed_config))
    for g in c.groups:
        ct = specs.workload(g, c, IMAGE)["spec"]["template"]["spec"]["containers"][0]
        assert "lifecycle" not in ct and "exec" not in ct["readinessProbe"]
