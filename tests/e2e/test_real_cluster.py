"""The point of it all: the field report's layout, deployed by `pulumi up` onto real nodes
(kubelet, containerd, runc), forms one Elasticsearch cluster through the transport Service's
Endpoints, with the image built from image/ on the stand-in base and pulled by digest.

Master and data DaemonSets on labelled nodes with hostPath storage, a client Deployment, the
kubelet's kubeconfig mounted by hostPath: as Pulumi.local.yaml, but on the e2e cluster's
tainted real nodes (conftest.on_real_nodes). The tests run in order and share the cluster."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import (
    REAL_NODE_ENV,
    REAL_NODES,
    REGISTRY_PORT,
    STATE,
    Kube,
    Stack,
    building_from_own_copy,
    on_real_nodes,
    seed_config,
    wait_until,
)
from .es_http import es, explain, last_targets, master_name, pod_ips, try_es

NS = "es-real"
REPOSITORY = f"localhost:{REGISTRY_PORT}/es-real"
MASTERS, DATA, CLIENTS = REAL_NODES, REAL_NODES - 1, 2
DOCS = 5000


@pytest.fixture(scope="module")
def stack(make_stack, docker_env, base_image) -> Stack:
    config = on_real_nodes(seed_config())
    config["namespace"] = NS
    config["image"] = {"repository": REPOSITORY, "baseImage": base_image, "push": True, "insecureRegistry": True}
    s = building_from_own_copy(make_stack("real", config), docker_env)
    s.up()
    return s


@pytest.fixture(scope="module")
def http(stack, kube) -> str:
    """The HTTP Service's cluster IP: what a client on this machine reaches through kube-proxy.

    Elasticsearch's disk-based allocation is turned off for this test cluster: every node's
    hostPath is on this machine's one disk, and past its 85% low watermark ES would leave the
    replicas unassigned, making the verdicts below depend on how full the CI machine's disk is
    rather than on what was deployed. Clusters deployed by es-cluster keep ES's default."""
    ip = kube.get("service", "es-logging-http", "-n", NS)["spec"]["clusterIP"]
    wait_until("a master elected", lambda: (m := try_es(ip, "/_cat/master?format=json")) and m[0]["node"] != "-", timeout=180)
    setting = {"persistent": {"cluster.routing.allocation.disk.threshold_enabled": False}}
    assert es(ip, "/_cluster/settings", json.dumps(setting).encode(), method="PUT")["acknowledged"]
    return ip


def pods(kube: Kube, role: str) -> list[dict]:
    return kube.items("pods", "-n", NS, "-l", f"es-cluster.io/role-{role}=true")


def wait_green(kube: Kube, http: str, nodes: int, timeout: float = 300) -> dict:
    def green():
        h = try_es(http, "/_cluster/health")
        return h if h and h["status"] == "green" and h["number_of_nodes"] == nodes else None

    return wait_until(f"green with {nodes} nodes", green, timeout=timeout, explain=lambda: explain(kube, NS))


def test_pods_run_on_real_nodes_ready_with_the_pushed_digest(stack, kube):
    ref = stack.outputs()["imageRef"]
    digest = ref.split("@", 1)[1]
    assert ref.startswith(REPOSITORY + "@sha256:")
    every = kube.items("pods", "-n", NS)
    assert len(every) == MASTERS + DATA + CLIENTS
    for p in every:
        assert p["spec"]["nodeName"].startswith("es-node-"), p["spec"]["nodeName"]
        [status] = p["status"]["containerStatuses"]
        assert p["status"]["phase"] == "Running" and status["ready"], status
        # What the node's containerd actually pulled, not only what the spec asked for.
        assert p["spec"]["containers"][0]["image"] == ref
        assert status["imageID"].endswith(digest), status["imageID"]


def test_the_container_sees_the_env_the_component_set(stack, kube):
    [pod] = pods(kube, "client")[:1]
    name = pod["metadata"]["name"]
    declared = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    seen = dict(line.split("=", 1) for line in kube.run("exec", "-n", NS, name, "--", "env").stdout.splitlines() if "=" in line)
    for key, value in declared.items():
        assert seen[key] == (value if value is not None else {"NODE_NAME": name, "NAMESPACE": NS}[key]), key
    assert seen["MIN_MASTERS"] == str(MASTERS // 2 + 1)
    assert seen["DISCOVERY_SERVICE"] == "es-logging-transport"


def test_cluster_dns_resolves_the_transport_service_to_the_master_pods_and_nothing_outside(stack, kube):
    """What discovery.seed_hosts reads on 7+: the headless transport Service's name, resolved
    by the cluster's DNS (CoreDNS on the real nodes' gateway) from a pod on a real node, to the
    master-eligible pods' addresses, and only those. A name outside cluster.local finds no
    answer: no query leaves the machine."""
    [pod] = pods(kube, "client")[:1]
    name = pod["metadata"]["name"]
    masters = sorted(p["status"]["podIP"] for p in pods(kube, "master"))

    def resolved():
        out = kube.run("exec", "-n", NS, name, "--", "getent", "ahostsv4", f"es-logging-transport.{NS}.svc", check=False).stdout
        return sorted({line.split()[0] for line in out.splitlines()}) or None

    assert wait_until("the transport Service's name to resolve", resolved, 60) == masters
    outside = kube.run("exec", "-n", NS, name, "--", "getent", "ahostsv4", "deb.debian.org", check=False)
    assert outside.returncode != 0 and outside.stdout == "", outside.stdout
    # The kubelet's clusterDNS: CoreDNS on the pods' gateway.
    gateway = REAL_NODE_ENV["ES_CLUSTER_POD_NET"] + ".0.1"
    assert f"nameserver {gateway}" in kube.run("exec", "-n", NS, name, "--", "cat", "/etc/resolv.conf").stdout.splitlines()


# The container drops every capability but CHOWN, SETUID and SETGID, so an exec'd command acts
# on the JVM and its data as the elasticsearch user, the way the start script itself drops.
AS_ES_USER = ("setpriv", "--reuid=elasticsearch", "--regid=elasticsearch", "--clear-groups")


def test_hostpath_storage_and_the_read_only_kubeconfig_are_really_mounted(stack, kube):
    [pod] = pods(kube, "data")[:1]
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    mounts = kube.run("exec", "-n", NS, name, "--", "cat", "/proc/mounts").stdout.splitlines()
    kubeconfig = next(m.split() for m in mounts if m.split()[1] == "/kubeconfig")
    assert "ro" in kubeconfig[3].split(","), kubeconfig
    denied = kube.run("exec", "-n", NS, name, "--", "sh", "-c", "echo x >> /kubeconfig", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr, denied
    # The kubelet's own kubeconfig, as the field report mounts it.
    assert "current-context" in kube.run("exec", "-n", NS, name, "--", "cat", "/kubeconfig").stdout
    # /data is the node's hostPath: a file written in the pod is in that node's folder.
    marker = f"written-by-{name}"
    # As the elasticsearch user, who owns /data: `kubectl exec` runs as root without capabilities,
    # so it may not write a folder it does not own.
    kube.run("exec", "-n", NS, name, "--", *AS_ES_USER, "touch", f"/data/{marker}")
    node_dir = STATE / "cluster" / "nodes" / node.removeprefix("es-node-") / "host" / "tenxcloud" / "es_cluster_data" / "data_node"
    assert (node_dir / marker).exists(), sorted(p.name for p in node_dir.iterdir())


def test_a_green_cluster_of_every_pod_with_one_master_and_the_components_quorum(stack, kube, http):
    health = wait_green(kube, http, MASTERS + DATA + CLIENTS)
    assert health["cluster_name"] == "es-logging"
    assert health["number_of_data_nodes"] == DATA
    rows = es(http, "/_cat/nodes?format=json&h=name,master,node.role")
    assert [r["master"] for r in rows].count("*") == 1
    names = {p["metadata"]["name"] for p in kube.items("pods", "-n", NS)}
    assert {r["name"] for r in rows} == names
    settings = es(http, "/_nodes/settings")["nodes"].values()
    assert {n["settings"]["discovery"]["zen"]["minimum_master_nodes"] for n in settings} == {str(MASTERS // 2 + 1)}


def probe_pod(kube: Kube, stack: Stack, name: str, labels: dict[str, str]) -> str:
    """A pod that is none of the cluster's ES pods, on a real node: the image's shell, asleep."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "nodeSelector": {"es-cluster.io/real-node": "true"},
            "tolerations": [{"key": "es-cluster.io/real-node", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "probe", "image": stack.outputs()["imageRef"], "command": ["sleep", "3600"]}],
        },
    }
    path = stack.dir / f"{name}.json"
    path.write_text(json.dumps(manifest))
    kube.run("apply", "-f", str(path))
    kube.run("wait", "--for=condition=Ready", f"pod/{name}", "-n", NS, "--timeout=120s")
    return name


def reaches(kube: Kube, pod: str, ip: str, port: int) -> bool:
    """Whether a TCP connection from `pod` to ip:port opens (an enforced refusal is immediate)."""
    return kube.run("exec", "-n", NS, pod, "--", "timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}", check=False).returncode == 0


def test_the_network_policy_is_enforced_transport_only_from_the_clusters_own_pods(stack, kube):
    """The component's NetworkPolicy, enforced on the real nodes (scripts/netpol/enforcer.py):
    a pod that is not one of the cluster's ES pods cannot open 9300 on a master, an ES pod can,
    and HTTP is open to anyone by default."""
    probe = probe_pod(kube, stack, "np-probe", {"np-e2e": "probe"})
    master_ip = pods(kube, "master")[0]["status"]["podIP"]
    client = pods(kube, "client")[0]
    assert wait_until("the foreign pod to be refused on 9300", lambda: not reaches(kube, probe, master_ip, 9300), 30)
    assert reaches(kube, client["metadata"]["name"], master_ip, 9300)
    assert reaches(kube, probe, client["status"]["podIP"], 9200)


def test_http_from_lets_a_listed_peer_reach_9200_and_not_an_unlisted_one(stack, kube):
    listed = probe_pod(kube, stack, "np-shipper", {"np-e2e": "shipper"})
    unlisted = "np-probe"
    client_ip = pods(kube, "client")[0]["status"]["podIP"]
    original = stack.config()
    config = stack.config()
    config["networkPolicy"] = {"httpFrom": [{"podSelector": {"matchLabels": {"np-e2e": "shipper"}}}]}
    stack.write_config(config)
    try:
        try:
            stack.up()
            assert wait_until("the unlisted pod to be refused on 9200", lambda: not reaches(kube, unlisted, client_ip, 9200), 30)
            assert reaches(kube, listed, client_ip, 9200)
        finally:
            stack.write_config(original)
            stack.up()
        assert wait_until("9200 open to any pod again", lambda: reaches(kube, unlisted, client_ip, 9200), 30)
    finally:
        kube.run("delete", "pod", "-n", NS, "np-probe", "np-shipper", "--wait=false", check=False)


def test_mlockall_is_asked_for_and_does_not_take_effect_here_for_the_documented_reason(stack, kube, http):
    """docs/security.md: the image turns `bootstrap.mlockall` on, but the lock
    takes effect only under an unlimited memlock limit, which raising takes CAP_SYS_RESOURCE."""
    nodes = es(http, "/_nodes/process")["nodes"].values()
    assert len(nodes) == MASTERS + DATA + CLIENTS
    assert {n["process"]["mlockall"] for n in nodes} == {False}
    settings = es(http, "/_nodes/settings")["nodes"].values()
    assert {n["settings"]["bootstrap"]["mlockall"] for n in settings} == {"true"}
    [pod] = pods(kube, "data")[:1]
    name = pod["metadata"]["name"]
    # The JVM is the container's first process (run.sh execs it): its memlock limit is finite.
    limits = kube.run("exec", "-n", NS, name, "--", "cat", "/proc/1/limits").stdout
    memlock = next(line for line in limits.splitlines() if line.startswith("Max locked memory"))
    assert "unlimited" not in memlock.split()[3:5], memlock
    log = kube.run("logs", "-n", NS, name).stdout  # the container's stdout and stderr
    assert "cannot raise the memlock limit" in log, log[-2000:]
    assert "Unable to lock JVM Memory" in log, log[-2000:]


def test_discovery_reads_the_mounted_kubeconfig_and_targets_the_master_pods_on_9300_only(stack, kube):
    masters = set(pod_ips(kube, NS, "es-cluster.io/role-master=true").values())
    assert len(masters) == MASTERS
    for p in kube.items("pods", "-n", NS):
        seen = last_targets(kube, NS, p["metadata"]["name"])
        assert seen is not None, p["metadata"]["name"]
        service, source, targets = seen
        assert service == f"{NS}/es-logging-transport"
        assert source.startswith("kubeconfig /kubeconfig"), source
        # The master pods on 9300, less the pod itself.
        assert sorted(targets) == sorted(f"{ip}:9300" for ip in masters - {p["status"]["podIP"]})


def test_index_and_search_a_few_thousand_documents(stack, kube, http):
    es(http, "/logs", json.dumps({"settings": {"number_of_shards": 2, "number_of_replicas": 1}}).encode(), method="PUT")
    lines = []
    for i in range(DOCS):
        lines += [json.dumps({"index": {"_index": "logs", "_type": "line", "_id": str(i)}}), json.dumps({"n": i, "msg": f"line {i}"})]
    body = ("\n".join(lines) + "\n").encode()
    start = time.monotonic()
    result = es(http, "/_bulk", body, method="POST", timeout=120)
    elapsed = time.monotonic() - start
    assert not result["errors"]
    print(f"\nindexing throughput through the HTTP Service: {DOCS / elapsed:.0f} docs/s ({DOCS} docs in {elapsed:.2f} s)")
    es(http, "/logs/_refresh", b"", method="POST")
    assert es(http, "/logs/_count")["count"] == DOCS
    hits = es(http, "/logs/_search", json.dumps({"query": {"term": {"n": 4242}}}).encode(), method="POST")["hits"]
    assert hits["total"] == 1 and hits["hits"][0]["_source"]["msg"] == "line 4242"
    wait_green(kube, http, MASTERS + DATA + CLIENTS)


def test_a_killed_elasticsearch_process_is_restarted_by_the_kubelet(stack, kube, http):
    [pod] = pods(kube, "client")[:1]
    name = pod["metadata"]["name"]
    before = pod["status"]["containerStatuses"][0]["restartCount"]
    # PID 1 is the JVM (the start script execs it); the image has the shell's kill, no binary.
    # Sent as the JVM's user: root without CAP_KILL may not signal another user's process.
    kube.run("exec", "-n", NS, name, "--", *AS_ES_USER, "sh", "-c", "kill 1")

    def restarted_and_ready():
        [s] = kube.get("pod", name, "-n", NS)["status"]["containerStatuses"]
        return s["restartCount"] > before and s["ready"]

    wait_until(f"{name} restarted and ready", restarted_and_ready, timeout=180, explain=lambda: explain(kube, NS))
    wait_green(kube, http, MASTERS + DATA + CLIENTS)


def test_losing_the_elected_master_elects_another_and_the_cluster_comes_back(stack, kube, http):
    elected = master_name(http)
    assert elected in {p["metadata"]["name"] for p in pods(kube, "master")}
    kube.run("delete", "pod", "-n", NS, elected, "--wait=false")
    wait_until(
        "another master elected",
        lambda: (m := try_es(http, "/_cat/master?format=json")) and m[0]["node"] not in ("-", elected),
        timeout=120,
    )
    wait_green(kube, http, MASTERS + DATA + CLIENTS)
    assert es(http, "/logs/_count")["count"] == DOCS


def test_a_restarted_data_pod_rejoins_with_its_hostpath_data(stack, kube, http):
    [pod] = pods(kube, "data")[:1]
    kube.run("delete", "pod", "-n", NS, pod["metadata"]["name"])
    wait_green(kube, http, MASTERS + DATA + CLIENTS)
    assert es(http, "/logs/_count")["count"] == DOCS


def test_an_image_change_rolls_the_real_pods_onto_the_new_digest(stack, kube, http):
    old_ref, old_pods = stack.outputs()["imageRef"], {p["metadata"]["name"] for p in kube.items("pods", "-n", NS)}
    yml = stack.dir / "image" / "elasticsearch.yml"
    yml.write_bytes(yml.read_bytes() + b"\n# rolled by the e2e suite\n")
    stack.up()
    new_ref = stack.outputs()["imageRef"]
    assert new_ref != old_ref
    every = kube.items("pods", "-n", NS)
    assert not old_pods & {p["metadata"]["name"] for p in every}
    assert {p["status"]["containerStatuses"][0]["imageID"].rsplit("@", 1)[1] for p in every} == {new_ref.split("@", 1)[1]}
    wait_green(kube, http, MASTERS + DATA + CLIENTS)
    assert es(http, "/logs/_count")["count"] == DOCS
