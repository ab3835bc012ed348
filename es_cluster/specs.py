"""Pure builders of the cluster's Kubernetes objects, as manifests (plain dicts).

This is where the Elasticsearch knowledge lives: which pods each service selects, the env the
image reads, quorum, probes, storage. No Pulumi, no I/O; `image` may be any value (the component
passes a Pulumi Output, the renderer a string).
"""

from __future__ import annotations

from typing import Any

from . import constants as c
from . import engines, security
from .model import Cluster, NodeGroup, known
from .names import (  # noqa: F401 (re-exported: the builders' names, as callers know them)
    bootstrap_config_map_name,
    certificate_dns_names,
    certificate_secret_name,
    cluster_labels,
    discovery_role_name,
    elastic_user_secret_name,
    file_realm_secret_name,
    http_service_name,
    http_url,
    pod_labels,
    role_label,
    selector_labels,
    service_account_name,
    transport_service_dns,
    transport_service_name,
    workload_name,
)

Manifest = dict[str, Any]

STORAGE_VOLUME = "storage"
KUBECONFIG_VOLUME = "kubeconfig"
BOOTSTRAP_VOLUME = "bootstrap"
CERTS_VOLUME = "certs"
FILE_REALM_VOLUME = "file-realm"
CREDENTIALS_VOLUME = "credentials"
# What a render shows where `up` puts a credential (the credentials resource's outputs): a
# render never holds a key or a password.
CREDENTIALS = ("trusted", "tls_crt", "tls_key", "password", "users", "previous_password")
CREDENTIAL_PLACEHOLDER = "(made by pulumi up)"
ES_CONTAINER = "elasticsearch"


def _meta(cluster: Cluster, name: str, labels: dict[str, str] | None = None) -> Manifest:
    return {"name": name, "namespace": cluster.namespace, "labels": labels or cluster_labels(cluster)}


# --- cluster-wide objects ---------------------------------------------------------------------


def namespace(cluster: Cluster) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        # Pod Security admission at the lowest level the layout needs (or the one configured).
        "metadata": {
            "name": cluster.namespace,
            "labels": {**cluster_labels(cluster), **security.namespace_labels(cluster.pod_security_level)},
        },
    }


def service_account(cluster: Cluster) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(cluster, service_account_name(cluster)),
    }


def discovery_role(cluster: Cluster) -> Manifest:
    """What the kubernetes discovery plugin reads: the Endpoints of the transport service."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(cluster, discovery_role_name(cluster)),
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]},
        ],
    }


def discovery_role_binding(cluster: Cluster) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(cluster, discovery_role_name(cluster)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": discovery_role_name(cluster)},
        "subjects": [{"kind": "ServiceAccount", "name": service_account_name(cluster), "namespace": cluster.namespace}],
    }


def http_service(cluster: Cluster) -> Manifest:
    """The clients' entry point: 9200 only, on the pods with the client role.

    Unless it is a LoadBalancer, pulumi-kubernetes is told not to await it: its Service await
    ends 10 s after the last change to the Service's Endpoints, which held every `up` 10 s past
    the workloads' own readiness, and the client workload's await already proves the pods this
    Service selects are ready. A LoadBalancer keeps the await, which waits for its address."""
    metadata = _meta(cluster, http_service_name(cluster))
    if cluster.http_service_type != "LoadBalancer":
        metadata["annotations"] = {c.SKIP_AWAIT_ANNOTATION: "true"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": cluster.http_service_type,
            "selector": {c.LABEL_INSTANCE: cluster.name, role_label("client"): "true"},
            "ports": [{"name": "http", "port": c.HTTP_PORT, "targetPort": c.HTTP_PORT, "protocol": "TCP"}],
        },
    }


def transport_service(cluster: Cluster) -> Manifest:
    """The discovery service: 9300 only (with 9200 beside it the plugin dialled 9200), on the
    master-eligible pods. Headless, and listing pods before they are ready, because masters must
    find each other before any of them can be ready."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(cluster, transport_service_name(cluster)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {c.LABEL_INSTANCE: cluster.name, role_label("master"): "true"},
            "ports": [{"name": "transport", "port": c.TRANSPORT_PORT, "targetPort": c.TRANSPORT_PORT, "protocol": "TCP"}],
        },
    }


def _secret(cluster: Cluster, name: str, data: Manifest, kind: str = "Opaque") -> Manifest:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(cluster, name), "type": kind, "stringData": data}


def certificate_secret(cluster: Cluster, credentials: Any) -> Manifest:
    """The CA and the node certificate from the component's own CA, as cert-manager lays out
    a Secret (kubernetes.io/tls with ca.crt beside), so a user's own Secret looks the same."""
    # ca.crt: every CA the nodes trust, one or, while a CA rotation is under way, two.
    data = {"ca.crt": credentials["trusted"], "tls.crt": credentials["tls_crt"], "tls.key": credentials["tls_key"]}
    return _secret(cluster, certificate_secret_name(cluster), data, "kubernetes.io/tls")


def file_realm_secret(cluster: Cluster, credentials: Any) -> Manifest:
    # The engine's users file(s): the superuser and its password's bcrypt hash (and its role).
    data = engines.profile(cluster.engine).realm_files(credentials["users"])
    return _secret(cluster, file_realm_secret_name(cluster), data)


def elastic_user_secret(cluster: Cluster, credentials: Any) -> Manifest:
    """The superuser's password under its name: `elastic`, or OpenSearch's `admin`. Where the
    engine keeps it in its index (OpenSearch), also the one a change in config replaced ("" when
    none), under `<name>.previous`: the readiness probe changes the password in force with it."""
    user = superuser(cluster)
    data = {user: credentials["password"]}
    if engines.profile(cluster.engine).password_in_index:
        data[user + c.PREVIOUS_PASSWORD_SUFFIX] = credentials["previous_password"]
    return _secret(cluster, elastic_user_secret_name(cluster), data)


def superuser(cluster: Cluster) -> str:
    """The superuser whose password the cluster's Secret and the stack output hold."""
    return engines.profile(cluster.engine).superuser


def credentials_args(cluster: Cluster) -> dict[str, Any]:
    """What the credentials resource makes its CA, certificate and users file from."""
    profile = engines.profile(cluster.engine)
    return {
        "cluster_name": cluster.name,
        "dns_names": certificate_dns_names(cluster),
        "issue_certificates": cluster.security.certificate_secret is None,
        "password": known(cluster.security.password),
        "certificate_days": cluster.security.certificate_days,
        "ca_days": cluster.security.ca_days,
        "given_ca_crt": cluster.security.ca_certificate,
        "given_ca_key": known(cluster.security.ca_key),
        "realm": profile.realm,
        "superuser": profile.superuser,
        "password_in_index": profile.password_in_index,
    }


def security_manifests(cluster: Cluster, credentials: Any) -> list[Manifest]:
    """The Secrets a secured cluster's pods and clients read; `credentials` maps CREDENTIALS
    to values (the credentials resource's outputs, or the placeholders of a render)."""
    if not cluster.security.enabled:
        return []
    out = [] if cluster.security.certificate_secret else [certificate_secret(cluster, credentials)]
    return [*out, file_realm_secret(cluster, credentials), elastic_user_secret(cluster, credentials)]


# --- per node group -----------------------------------------------------------------------------


def pod_env(group: NodeGroup, cluster: Cluster) -> list[Manifest]:
    """The env the image's config template reads: the engine's own (engines/)."""
    return engines.profile(cluster.engine).env(group, cluster)


def probes(group: NodeGroup, cluster: Cluster) -> Manifest:
    return engines.profile(cluster.engine).probes(group, cluster)


def initial_masters(cluster: Cluster) -> list[str]:
    """The node names of the first master-eligible nodes, as cluster.initial_master_nodes
    lists them: a StatefulSet's pod names, then the nodes engine.initialMasterNodes names for
    DaemonSet groups (their pods take the Kubernetes node's name)."""
    names = [
        f"{workload_name(cluster, g)}-{i}" for g in cluster.groups if g.master and g.workload == "StatefulSet" for i in range(g.replicas)
    ]
    return names + list(cluster.engine.initial_master_nodes)


def planned_nodes(cluster: Cluster) -> int:
    """The nodes the config plans: every group's replicas (a DaemonSet's, the nodes it names)."""
    return sum(g.replicas for g in cluster.groups)


def bootstrap_config_map(cluster: Cluster, initial: Any) -> Manifest:
    """What the master-eligible pods' entrypoint reads at start: the first masters' names while
    the cluster first forms, and nothing after that (`initial` is "" then), so a restarted or
    replaced master never bootstraps a second cluster. And what every pod's readiness probe
    reads: the planned number of nodes, below which replica allocation held by a restarting
    data node stays held. Not part of any pod template: changing it restarts nothing."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(cluster, bootstrap_config_map_name(cluster)),
        "data": {c.BOOTSTRAP_KEY: initial, c.NODES_KEY: str(planned_nodes(cluster))},
    }


def _mounts_bootstrap(cluster: Cluster) -> bool:
    return engines.profile(cluster.engine).bootstraps


def es_container(group: NodeGroup, cluster: Cluster, image: Any) -> Manifest:
    mounts = [{"name": STORAGE_VOLUME, "mountPath": engines.profile(cluster.engine).data_path}]
    if cluster.kubeconfig_host_path is not None:
        mounts.append({"name": KUBECONFIG_VOLUME, "mountPath": c.KUBECONFIG_MOUNT_PATH, "readOnly": True})
    if _mounts_bootstrap(cluster):
        mounts.append({"name": BOOTSTRAP_VOLUME, "mountPath": c.BOOTSTRAP_MOUNT_PATH, "readOnly": True})
    if cluster.security.enabled:
        config = engines.profile(cluster.engine).config_path
        mounts.append({"name": CERTS_VOLUME, "mountPath": f"{config}/{c.CERTS_DIR}", "readOnly": True})
        mounts.append({"name": FILE_REALM_VOLUME, "mountPath": f"{config}/{c.FILE_REALM_DIR}", "readOnly": True})
        mounts.append({"name": CREDENTIALS_VOLUME, "mountPath": c.CREDENTIALS_MOUNT_PATH, "readOnly": True})
    return {
        "name": ES_CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": pod_env(group, cluster),
        "ports": [
            {"name": "http", "containerPort": c.HTTP_PORT, "protocol": "TCP"},
            {"name": "transport", "containerPort": c.TRANSPORT_PORT, "protocol": "TCP"},
        ],
        "resources": {k: dict(v) for k, v in group.resources.items()},
        # Every capability dropped; a root start-up gets back only what it uses (security.py).
        "securityContext": security.container_security_context(group.pod_security_context),
        "volumeMounts": mounts,
        **probes(group, cluster),
    }


def pod_volumes(group: NodeGroup, cluster: Cluster) -> list[Manifest]:
    volumes: list[Manifest] = []
    if group.storage.host_path is not None:
        volumes.append({"name": STORAGE_VOLUME, "hostPath": {"path": group.storage.host_path, "type": "DirectoryOrCreate"}})
    elif group.storage.size is None:
        volumes.append({"name": STORAGE_VOLUME, "emptyDir": {}})
    # With storage.size the volume comes from the StatefulSet's volumeClaimTemplates.
    if cluster.kubeconfig_host_path is not None:
        volumes.append({"name": KUBECONFIG_VOLUME, "hostPath": {"path": cluster.kubeconfig_host_path, "type": "File"}})
    if _mounts_bootstrap(cluster):
        # The whole ConfigMap as a folder (never subPath), so its changes reach running pods.
        volumes.append({"name": BOOTSTRAP_VOLUME, "configMap": {"name": bootstrap_config_map_name(cluster)}})
    if cluster.security.enabled:
        # Whole Secrets as folders (never subPath): renewed certificates and a changed password
        # reach running nodes, and the engine reloads both without a restart.
        volumes.append({"name": CERTS_VOLUME, "secret": {"secretName": certificate_secret_name(cluster)}})
        volumes.append({"name": FILE_REALM_VOLUME, "secret": {"secretName": file_realm_secret_name(cluster)}})
        # The superuser's password, for the pod hooks (as the Elastic chart hands it to its probe).
        volumes.append({"name": CREDENTIALS_VOLUME, "secret": {"secretName": elastic_user_secret_name(cluster)}})
    return volumes


def anti_affinity(group: NodeGroup, cluster: Cluster) -> Manifest:
    """Spread a group's pods over nodes; DaemonSets already place one per node."""
    term = {"labelSelector": {"matchLabels": selector_labels(cluster, group)}, "topologyKey": "kubernetes.io/hostname"}
    if group.anti_affinity == "hard":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}}


def pod_template(group: NodeGroup, cluster: Cluster, image: Any) -> Manifest:
    spec: Manifest = {
        "serviceAccountName": service_account_name(cluster),
        "terminationGracePeriodSeconds": 120,
        "securityContext": security.pod_security_context(group.pod_security_context),
        "containers": [es_container(group, cluster, image)],
        "volumes": pod_volumes(group, cluster),
    }
    if not engines.profile(cluster.engine).endpoints_discovery:
        # Only the field report's discovery plugin talks to the API server.
        spec["automountServiceAccountToken"] = False
    if group.node_selector:
        spec["nodeSelector"] = dict(group.node_selector)
    if group.tolerations:
        spec["tolerations"] = [dict(t) for t in group.tolerations]
    if group.workload != "DaemonSet":
        spec["affinity"] = anti_affinity(group, cluster)
    if group.priority_class_name is not None:
        spec["priorityClassName"] = group.priority_class_name
    return {"metadata": {"labels": pod_labels(cluster, group)}, "spec": spec}


def workload(group: NodeGroup, cluster: Cluster, image: Any) -> Manifest:
    """The group's apps/v1 workload. A DaemonSet's size is the nodes its nodeSelector matches;
    `replicas` then only feeds the quorum, and is written on it as the planned count."""
    spec: Manifest = {
        "selector": {"matchLabels": selector_labels(cluster, group)},
        "template": pod_template(group, cluster, image),
    }
    if group.workload == "DaemonSet":
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": group.max_unavailable}}
    elif group.workload == "Deployment":
        spec["replicas"] = group.replicas
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": group.max_unavailable, "maxSurge": 0}}
        # The controller itself marks a rollout failed when no pod became ready for this long.
        spec["progressDeadlineSeconds"] = cluster.rollout_timeout_seconds
    else:
        claim: Manifest = {
            "metadata": {"name": STORAGE_VOLUME},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": group.storage.size}}},
        }
        if group.storage.storage_class is not None:
            claim["spec"]["storageClassName"] = group.storage.storage_class
        spec.update(
            replicas=group.replicas,
            serviceName=transport_service_name(cluster),
            # Masters must start together to find each other; ordered start would wait forever.
            podManagementPolicy="Parallel",
            updateStrategy={"type": "RollingUpdate"},
            volumeClaimTemplates=[claim],
        )
        if group.max_unavailable != 1:
            # Beta from Kubernetes 1.35 (MaxUnavailableStatefulSet); older API servers drop it
            # and roll one pod at a time.
            spec["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": group.max_unavailable}
    metadata = _meta(cluster, workload_name(cluster, group), pod_labels(cluster, group))
    if group.workload == "DaemonSet":
        metadata["annotations"] = {c.PLANNED_REPLICAS_ANNOTATION: str(group.replicas)}
    return {"apiVersion": "apps/v1", "kind": group.workload, "metadata": metadata, "spec": spec}


def rollout_timeout(group: NodeGroup, cluster: Cluster) -> str:
    """How long `pulumi up` waits for the group's workload: rolloutTimeout for each step of its
    rolling update (its replicas, a DaemonSet's planned count, over maxUnavailable at a time),
    as a Pulumi timeout."""
    steps = -(-max(group.replicas, 1) // group.roll_batch)
    return f"{cluster.rollout_timeout_seconds * steps}s"


def disruption_limit(group: NodeGroup, cluster: Cluster) -> Manifest:
    """Masters: never let a voluntary disruption take the cluster below quorum, counting the
    master-eligible nodes of the other groups as up. Others: as many pods as a rolling update
    takes down (maxUnavailable), as maxUnavailable so the budget follows replicas; DaemonSets
    have no scale subresource for the disruption controller to read, so theirs is an integer
    minAvailable of the planned count."""
    if group.master:
        others = cluster.master_eligible - group.replicas
        return {"minAvailable": max(cluster.quorum - others, 0)}
    if group.workload == "DaemonSet":
        return {"minAvailable": max(group.replicas - group.roll_batch, 0)}
    return {"maxUnavailable": group.max_unavailable}


def unhealthy_pod_eviction(group: NodeGroup) -> Manifest:
    """Whether a pod that is not ready may be evicted although the budget is spent. Masters keep
    Kubernetes' default (only while the budget allows it), so a drain can never take an
    unhealthy quorum lower; for the others an unhealthy pod serves nothing, and with
    AlwaysAllow a crash-looping pod never blocks `kubectl drain`."""
    return {} if group.master else {"unhealthyPodEvictionPolicy": "AlwaysAllow"}


def disruption_budget(group: NodeGroup, cluster: Cluster) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(cluster, workload_name(cluster, group), pod_labels(cluster, group)),
        "spec": {
            **disruption_limit(group, cluster),
            **unhealthy_pod_eviction(group),
            "selector": {"matchLabels": selector_labels(cluster, group)},
        },
    }


def network_policy_name(cluster: Cluster) -> str:
    return f"{cluster.name}-es"


def network_policy(cluster: Cluster) -> Manifest:
    """Ingress to every ES pod of the cluster: transport (unauthenticated in ES 2.x, and the
    way into the cluster state) only from its own ES pods; HTTP from the configured peers, or
    from anywhere. Egress is left open: DNS and the API server (discovery) stay reachable."""
    own_pods = {"matchLabels": {c.LABEL_NAME: c.APP_NAME, c.LABEL_INSTANCE: cluster.name}}
    http: Manifest = {"ports": [{"protocol": "TCP", "port": c.HTTP_PORT}]}
    assert cluster.network_policy is not None
    if cluster.network_policy.http_from is not None:
        http["from"] = [dict(p) for p in cluster.network_policy.http_from]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(cluster, network_policy_name(cluster)),
        "spec": {
            "podSelector": own_pods,
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": own_pods}], "ports": [{"protocol": "TCP", "port": c.TRANSPORT_PORT}]},
                http,
            ],
        },
    }


def cluster_manifests(cluster: Cluster, initial: Any = None, credentials: Any = None) -> list[Manifest]:
    """The objects every group's pods need, each after the objects it needs. `initial`: what
    the bootstrap ConfigMap lists (engines that bootstrap): by default the first masters, as on
    a first deploy; the component passes "" once the cluster has formed. `credentials`: the
    values of CREDENTIALS for a secured cluster's Secrets; by default the placeholders."""
    out: list[Manifest] = []
    if cluster.create_namespace:
        out.append(namespace(cluster))
    out.append(service_account(cluster))
    profile = engines.profile(cluster.engine)
    if profile.endpoints_discovery:
        out += [discovery_role(cluster), discovery_role_binding(cluster)]
    if profile.bootstraps:
        out.append(bootstrap_config_map(cluster, ",".join(initial_masters(cluster)) if initial is None else initial))
    out += security_manifests(cluster, credentials if credentials is not None else dict.fromkeys(CREDENTIALS, CREDENTIAL_PLACEHOLDER))
    out += [
        transport_service(cluster),
        http_service(cluster),
    ]
    if cluster.network_policy is not None:
        out.append(network_policy(cluster))
    return out


def group_manifests(group: NodeGroup, cluster: Cluster, image: Any) -> list[Manifest]:
    """A group's workload, and its disruption budget when it has pods."""
    out = [workload(group, cluster, image)]
    if group.replicas > 0:
        out.append(disruption_budget(group, cluster))
    return out


def manifests(cluster: Cluster, image: Any) -> list[Manifest]:
    """Every object of the cluster, each after the objects it needs."""
    out = cluster_manifests(cluster)
    for group in cluster.groups:
        out += group_manifests(group, cluster, image)
    return out
