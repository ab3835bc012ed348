"""Elasticsearch 7, 8 and 9, with zen2 coordination: discovery.seed_hosts names the headless
transport Service (cluster DNS gives every master-eligible pod's address), the voting
configuration is the engine's own, so no quorum setting is rendered (8.x refuses to start with
discovery.zen.minimum_master_nodes), roles are node.roles, and cluster.initial_master_nodes is
handed to the first masters only while the cluster first forms (the bootstrap ConfigMap)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import constants as c
from ..names import flag, transport_service_dns
from .profile import PACKAGE, Manifest, Profile, Version, downgrade_or_skip, probes_for, show_version

if TYPE_CHECKING:
    from ..model import Cluster, NodeGroup

# Our roles as the engine names them; a group with none of master and data is coordinating-only.
ES_ROLES = {"master": "master", "data": "data"}


@dataclass(frozen=True)
class Zen2(Profile):
    # What every 7+ family shares: our image context, discovery through DNS (no API access), and
    # a bootstrap once.
    image_context: str = str(PACKAGE / "image_context_modern")
    endpoints_discovery: bool = False
    bootstraps: bool = True
    # The env the start script reads JVM options from (the heap goes there).
    java_opts_env: str = "ES_JAVA_OPTS"
    role_names: tuple[tuple[str, str], ...] = tuple(ES_ROLES.items())
    # (major, minimum version to come from) for each major above the oldest.
    upgrade_from: tuple[tuple[int, Version], ...] = ((8, (7, 17, 0)), (9, (8, 18, 0)))
    base_repository: str = "docker.elastic.co/elasticsearch/elasticsearch"
    # An index created two majors back: opened by the new major when write-blocked (Elasticsearch
    # 9 reads 7.x indices read-only), or never (False).
    reads_blocked_two_back: bool = True

    def node_roles(self, group: NodeGroup) -> list[str]:
        """node.roles as the engine spells them; [] for a coordinating-only node."""
        return [engine for ours, engine in self.role_names if ours in group.roles]

    def env(self, group: NodeGroup, cluster: Cluster) -> list[Manifest]:
        # A DaemonSet's pods get new names whenever they are recreated; the node they are pinned
        # to keeps its name, and the bootstrap list (engine.initialMasterNodes) names nodes.
        name_field = "spec.nodeName" if group.workload == "DaemonSet" else "metadata.name"
        return [
            {"name": c.ENV_CLUSTER_NAME, "value": cluster.name},
            {"name": c.ENV_NODE_NAME, "valueFrom": {"fieldRef": {"fieldPath": name_field}}},
            {"name": c.ENV_NODE_ROLES, "value": ",".join(self.node_roles(group))},
            {"name": c.ENV_NETWORK_HOST, "value": c.NETWORK_HOST},
            {"name": c.ENV_DISCOVERY_SERVICE, "value": transport_service_dns(cluster)},
            {"name": c.ENV_ALLOW_MMAP, "value": flag(cluster.engine.allow_mmap)},
            {"name": self.java_opts_env, "value": f"-Xms{group.heap_size} -Xmx{group.heap_size}"},
            # The entrypoint turns these into the engine's TLS and file-realm settings.
            {"name": c.ENV_SECURITY, "value": flag(cluster.security.enabled)},
            {"name": c.ENV_HTTP_TLS, "value": flag(cluster.security.enabled and cluster.security.http_tls)},
            # The pod hooks call the node on its own address, as the superuser when secured.
            {"name": c.ENV_POD_IP, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            *([{"name": c.ENV_SUPERUSER, "value": self.superuser}] if cluster.security.enabled else []),
        ]

    def probes(self, group: NodeGroup, cluster: Cluster) -> Manifest:
        """Liveness as every family's; readiness and the preStop hook from the image's
        es-cluster-probe (images/modern/probe.sh): a data node holds replica allocation while it
        restarts, and a starting node is ready once the cluster has its shards back, so a roll's
        next pod waits for that (the Elastic chart's start-up gate, with a way past a cluster
        that cannot be green)."""
        return {
            **probes_for(group, c.HTTP_PORT, c.TRANSPORT_PORT),
            "readinessProbe": {
                "exec": {"command": [c.PROBE_COMMAND, "ready"]},
                "initialDelaySeconds": 10,
                "periodSeconds": 10,
                # Up to three calls to the node, each cut off after 3 s.
                "timeoutSeconds": 10,
                "failureThreshold": 3,
            },
            "lifecycle": {"preStop": {"exec": {"command": [c.PROBE_COMMAND, "pre-stop"]}}},
        }

    def default_base_image(self, version: str) -> str:
        return f"{self.base_repository}:{version}"

    def default_pod_security_context(self) -> dict[str, Any]:
        # The image's user, and its group on the data volume: admitted at Pod Security restricted.
        return {"runAsUser": c.ENGINE_UID, "runAsGroup": c.ENGINE_UID, "fsGroup": c.ENGINE_UID, "runAsNonRoot": True}

    def build_args(self) -> dict[str, str]:
        return {"ENGINE": self.distribution}

    def upgrade_refusal(self, before: Version, after: Version) -> str | None:
        why = downgrade_or_skip(before, after)
        if why is not None:
            return why
        for major, floor in self.upgrade_from:
            if after[0] == major and before[0] < major and before < floor:
                return (
                    f"{self.distribution} {major}.x upgrades in place only from {show_version(floor)} or later, and "
                    f"this cluster runs {show_version(before)}: upgrade to the newest {major - 1}.x first"
                )
        return None

    def old_indices_refusal(self, first: Version, before: Version, after: Version) -> str | None:
        """Why a cluster first deployed on `first` cannot go from `before` to the major `after`
        before its oldest indices are dealt with, or None (a minor upgrade never needs it: the
        indices were dealt with on the way to this major). A node reads indices created
        in the previous major only, and stops at start when it finds an older one (ES 9 keeps a
        write-blocked 7.x index, read-only)."""
        if after[0] == before[0] or after[0] < first[0] + 2:
            return None
        ways = "reindex each into a new index, or delete it"
        if self.reads_blocked_two_back:
            ways += (
                f", or add a write block with the add-index-block API (PUT /<index>/_block/write, which marks it verified; "
                f"the index.blocks.write setting alone is not enough), and {after[0]}.x keeps it, read-only"
            )
        state = "can still be written" if self.reads_blocked_two_back else "is left"
        return (
            f"this cluster was first deployed on {show_version(first)}, and a node of {show_version(after)} stops at start "
            f"while an index created on {first[0]}.x {state}, so the roll would stop at its first pod. On "
            f"{show_version(before)} first, for every index created on {first[0]}.x: {ways}"
        )


PROFILE = Zen2(
    family="zen2",
    distribution="elasticsearch",
    versions=("7.17.28", "8.19.0", "9.1.0"),
    data_path="/usr/share/elasticsearch/data",
    bootstrap_setting="cluster.initial_master_nodes",
    security_supported=True,
)
