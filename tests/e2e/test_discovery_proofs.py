"""The field report's three fixes, each shown to matter, with our k8s-discovery plugin in the
image built from image/ on the stand-in base, against the real API server.

The pods are the component's own pod template (specs.pod_template) for a small master group,
pinned to the session's real nodes; which Endpoints they discover through is set by hand (a
selector-less Service and its Endpoints), so each test chooses what the plugin reads:
- a transport-only twin of the transport Service: the masters find each other;
- a merged Service (9200 and 9300): with 9200 listed first, discovery dials 9200 and the
  cluster does not form, the field report's bug;
- a kubeconfig when the pod's token has no access: used, and denied without the java.policy grant;
- the quorum: a lone master-eligible node is not elected; with MIN_MASTERS forced to 1, two
  partitions elect two masters."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from es_cluster import parse_stack_config, specs, validate

from .conftest import REAL_NODES, STATE, Kube, run, wait_until
from .es_http import es, explain, last_targets, master_name

NS = "es-proof"
HEAP = "256m"
PROOF_KUBECONFIG = "/srv/kubernetes/es-proof.kubeconfig"
# A node that is not elected pings again: each round, the plugin logs its targets once. Three
# rounds without a master (ES 2.3.4 says "not enough master nodes" only at TRACE) is the verdict.
ROUNDS = 3
# Answers 200 as soon as HTTP is up, naming the master or "-" (`/` answers 503 without a master).
MASTER_PATH = "/_cat/master?format=json&local=true"


def proof_cluster(replicas: int, kubeconfig: bool = False):
    config: dict[str, Any] = {
        "clusterName": "proof",
        "namespace": NS,
        "nodeGroups": {
            "m": {
                # master and client: HTTP on, so the tests can ask each node what it sees.
                "roles": ["master", "client"],
                "replicas": replicas,
                "workload": "Deployment",
                "heapSize": HEAP,
                "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "768Mi"}},
            }
        },
    }
    if kubeconfig:
        config["kubeconfig"] = {"hostPath": PROOF_KUBECONFIG}
    cluster = validate(parse_stack_config(config))
    return cluster, cluster.groups[0]


def apply(kube: Kube, objects: list[dict[str, Any]]) -> None:
    run(
        ["kubectl", "apply", "-f", "-"],
        env=kube.env,
        input_bytes=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}).encode(),
    )


@pytest.fixture
def proof(kube, es_image):
    """Makes ES pods from the component's template and hand-made Endpoints; deletes the
    namespace afterwards, waiting, so the next test starts with no JVM left."""
    kube.run("delete", "namespace", NS, "--ignore-not-found", "--wait=true")

    class Proof:
        def setup(self, cluster, rbac: bool = True) -> None:
            objects = [specs.namespace(cluster), specs.service_account(cluster)]
            if rbac:
                objects += [specs.discovery_role(cluster), specs.discovery_role_binding(cluster)]
            apply(kube, objects)
            wait_until("the service account", lambda: kube.exists("serviceaccount", "proof", "-n", NS), timeout=30)

        def pods(self, cluster, group, names: list[str], env: dict[str, str], command: list[str] | None = None) -> dict[str, str]:
            """Starts one pod per name on real nodes 0, 1, ...; returns name -> pod IP once running."""
            objects = []
            for i, name in enumerate(names):
                spec = specs.pod_template(group, cluster, es_image)["spec"]
                spec.pop("affinity", None)
                spec["nodeName"] = f"es-node-{i % REAL_NODES}"
                container = spec["containers"][0]
                container["env"] = [e for e in container["env"] if e["name"] not in env] + [{"name": k, "value": v} for k, v in env.items()]
                if command:
                    container["command"] = command
                objects.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": name, "namespace": NS, "labels": {"proof": name}},
                        "spec": spec,
                    }
                )
            apply(kube, objects)

            def running():
                ips = {
                    p["metadata"]["name"]: p["status"].get("podIP") for p in kube.items("pods", "-n", NS) if p["metadata"]["name"] in names
                }
                return ips if len(ips) == len(names) and all(ips.values()) else None

            return wait_until("pods running with IPs", running, timeout=180, explain=lambda: explain(kube, NS))

        def endpoints(self, service: str, ips: list[str], ports: list[int]) -> None:
            """A selector-less Service and the Endpoints the plugin will read for it."""
            named = [{"name": f"p{p}", "port": p, "protocol": "TCP"} for p in ports]
            apply(
                kube,
                [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": service, "namespace": NS},
                        "spec": {"clusterIP": "None", "ports": [{**n, "targetPort": n["port"]} for n in named]},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Endpoints",
                        "metadata": {"name": service, "namespace": NS},
                        "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": named}],
                    },
                ],
            )

        def wait_log(self, pod: str, text: str, timeout: float = 120) -> str:
            def has():
                log = kube.run("logs", "-n", NS, pod, check=False).stdout
                return log if text in log else None

            return wait_until(f"{pod} to log {text!r}", has, timeout=timeout, explain=lambda: explain(kube, NS))

        def wait_rounds(self, pod: str, rounds: int = ROUNDS, timeout: float = 120) -> None:
            """Until `pod` has pinged its targets and tried to elect `rounds` times."""

            def count():
                return kube.run("logs", "-n", NS, pod, check=False).stdout.count("k8s-discovery: endpoints") >= rounds

            wait_until(f"{pod} to finish {rounds} discovery rounds", count, timeout=timeout, explain=lambda: explain(kube, NS))

    yield Proof()
    kube.run("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False)


def discovery_env(cluster, service: str) -> dict[str, str]:
    return {"DISCOVERY_SERVICE": service, "ES_HEAP_SIZE": HEAP}


def test_masters_find_each_other_through_the_endpoints_of_a_transport_only_service(proof, kube):
    cluster, group = proof_cluster(replicas=3)
    proof.setup(cluster)
    ips = proof.pods(cluster, group, ["m0", "m1", "m2"], discovery_env(cluster, "twin"))
    proof.endpoints("twin", list(ips.values()), [9300])
    nodes = wait_until(
        "one cluster of three", lambda: (r := _try(es, ips["m0"], "/_cat/nodes?format=json")) and len(r) == 3 and r, timeout=180,
        explain=lambda: explain(kube, NS),
    )  # fmt: skip
    assert [n["master"] for n in nodes].count("*") == 1
    for pod in ips:
        service, source, targets = last_targets(kube, NS, pod)
        assert service == f"{NS}/twin"
        # The pod's own token, through the `kubernetes` Service that kube-proxy serves.
        assert source == "service account token (https://10.96.0.1:443)", source
        # Every other master on 9300; a node does not target itself.
        assert sorted(targets) == sorted(f"{ip}:9300" for name, ip in ips.items() if name != pod)


@pytest.mark.parametrize(("ports", "forms"), [((9200, 9300), False), ((9300, 9200), True)])
def test_a_merged_service_makes_discovery_dial_9200_and_the_cluster_does_not_form(proof, kube, ports, forms):
    """The field report's bug. The plugin hands zen every port of every address, each named by
    its address alone, and zen keeps the first target of each name: with 9200 listed first,
    only 9200 is dialled, where no transport listens, and two of three masters never elect.
    The same two ports listed the other way round form the cluster: the port, not the Service,
    decides, and only a 9300-only Service is safe whatever the order."""
    cluster, group = proof_cluster(replicas=3)  # MIN_MASTERS = 2: both pods must find each other
    proof.setup(cluster)
    ips = proof.pods(cluster, group, ["m0", "m1"], discovery_env(cluster, "merged"))
    proof.endpoints("merged", list(ips.values()), list(ports))
    for pod, other in (("m0", ips["m1"]), ("m1", ips["m0"])):
        proof.wait_log(pod, "k8s-discovery: endpoints es-proof/merged")
        assert last_targets(kube, NS, pod)[2] == [f"{other}:{port}" for port in ports]
    if forms:
        wait_until("a master", lambda: _try(master_name, ips["m0"]), timeout=120, explain=lambda: explain(kube, NS))
    else:
        for pod, ip in ips.items():
            wait_until(f"{pod} answering HTTP", lambda ip=ip: _try(es, ip, MASTER_PATH), timeout=120, explain=lambda: explain(kube, NS))
            proof.wait_rounds(pod)
            assert master_name(ip) is None


def _write_proof_kubeconfig(kube: Kube, token: str) -> None:
    """A kubeconfig with `token`, on every real node at PROOF_KUBECONFIG (each node's own folder)."""
    server = yaml.safe_load((STATE / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"]
    ca = base64.b64encode((STATE / "cluster" / "pki" / "ca.crt").read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "reader"}}],
        "current-context": "c",
    }
    for i in range(REAL_NODES):
        path = STATE / "cluster" / "nodes" / str(i) / "host" / PROOF_KUBECONFIG.lstrip("/")
        path.write_text(yaml.safe_dump(doc))


def test_a_mounted_kubeconfig_is_used_when_the_token_has_no_access_and_needs_the_policy_grant(proof, kube):
    # Planned for three masters (MIN_MASTERS=2), so neither pod elects itself and stops pinging.
    cluster, group = proof_cluster(replicas=3, kubeconfig=True)
    proof.setup(cluster, rbac=False)  # the pods' own token may not read Endpoints
    # A second identity that may, whose token goes into the kubeconfig file on the nodes.
    apply(
        kube,
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader", "namespace": NS}},
            {**specs.discovery_role(cluster)},
            {**specs.discovery_role_binding(cluster), "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": NS}]},
        ],
    )
    _write_proof_kubeconfig(kube, kube.run("create", "token", "reader", "-n", NS, "--duration", "1h").stdout.strip())
    # granted: the image's java.policy; stock: the JDK's own policy put back before ES starts.
    stock = [
        "/bin/sh",
        "-c",
        "cp /etc/java-17-openjdk/security/java.policy /usr/lib/jvm/default-jvm/jre/lib/security/java.policy && exec /run.sh",
    ]
    granted_ip = proof.pods(cluster, group, ["granted"], discovery_env(cluster, "twin"))["granted"]
    stock_ip = proof.pods(cluster, group, ["stock"], discovery_env(cluster, "twin"), command=stock)["stock"]
    proof.endpoints("twin", [granted_ip, stock_ip], [9300])

    proof.wait_log("granted", "k8s-discovery: endpoints es-proof/twin via kubeconfig /kubeconfig")
    _, source, targets = last_targets(kube, NS, "granted")
    assert source.startswith("kubeconfig /kubeconfig (https://"), source
    assert targets == [f"{stock_ip}:9300"]

    log = proof.wait_log("stock", "was denied by the security manager")
    assert 'access denied ("java.io.FilePermission" "/kubeconfig" "read")' in log
    # Falling back to the pod's token, which has no access: no targets at all.
    log = proof.wait_log("stock", "HTTP 403")
    assert "k8s-discovery: endpoints es-proof/twin via" not in log


def test_a_lone_master_eligible_node_is_not_elected(proof, kube):
    cluster, group = proof_cluster(replicas=3)  # MIN_MASTERS = 2
    proof.setup(cluster)
    ips = proof.pods(cluster, group, ["lone"], discovery_env(cluster, "twin"))
    proof.endpoints("twin", list(ips.values()), [9300])
    wait_until("the node answering HTTP", lambda: _try(es, ips["lone"], MASTER_PATH), timeout=120, explain=lambda: explain(kube, NS))
    proof.wait_rounds("lone")
    assert master_name(ips["lone"]) is None
    # It read the Endpoints, found only itself, and has no one to ask.
    assert last_targets(kube, NS, "lone")[2] == []


@pytest.mark.parametrize(("min_masters", "masters"), [("1", 2), ("2", 0)])
def test_two_partitions_elect_two_masters_only_when_min_masters_is_below_the_quorum(proof, kube, min_masters, masters):
    """Two master-eligible nodes of a three-master cluster, each seeing only itself (each its own
    discovery Service): MIN_MASTERS=1 lets both elect themselves, a split brain; the component's
    MIN_MASTERS=2 lets neither."""
    cluster, group = proof_cluster(replicas=3)
    proof.setup(cluster)
    ips = {}
    for name in ("left", "right"):
        ips.update(proof.pods(cluster, group, [name], {**discovery_env(cluster, name), "MIN_MASTERS": min_masters}))
        proof.endpoints(name, [ips[name]], [9300])
    for name in ips:
        wait_until(
            f"{name} answering HTTP", lambda name=name: _try(es, ips[name], MASTER_PATH), timeout=120, explain=lambda: explain(kube, NS)
        )
    if masters:
        elected = {name: wait_until(f"{name} electing", lambda name=name: _try(master_name, ips[name]), timeout=120) for name in ips}
        assert elected == {"left": "left", "right": "right"}
    else:
        for name in ips:
            proof.wait_rounds(name)
            assert master_name(ips[name]) is None


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 (a node still starting answers with anything)
        return None
