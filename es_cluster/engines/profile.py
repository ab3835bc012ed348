"""The questions every engine profile answers, and the version arithmetic they share.

A profile is data plus pure functions of the validated model: the builders in specs.py ask it
and branch on nothing, config.py asks it which versions and settings exist, impact.py asks it
which version changes are allowed. Modelled on ECK's `version/zen1` and `version/zen2`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Cluster, NodeGroup

Manifest = dict[str, Any]
# Elasticsearch's built-in role that the file realm's superuser is given.
SUPERUSER_ROLE = "superuser"
Version = tuple[int, int, int]

# The image build contexts inside the package (links to the repository's image/ and images/,
# copied into wheels), so the component finds them wherever it is installed.
PACKAGE = Path(__file__).resolve().parent.parent
_VERSION = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,4})")


def parse_version(text: Any) -> Version | None:
    """`8.19.0` as (8, 19, 0); None for anything that is not three dot-separated numbers."""
    m = _VERSION.fullmatch(text) if isinstance(text, str) else None
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def show_version(v: Version) -> str:
    return ".".join(str(n) for n in v)


@dataclass(frozen=True)
class Profile:
    """One family of engines. Subclasses answer each question for their family."""

    # zen1 (the field report's 2.x), zen2 (Elasticsearch 7+), opensearch.
    family: str
    distribution: str
    # The versions this profile deploys: the ones whose behaviour is tested here.
    versions: tuple[str, ...]
    # Where the engine's data lives in the image: the storage volume is mounted there.
    data_path: str
    # The image build context: our Dockerfile, entrypoint and config template.
    image_context: str
    # Discovery reads the transport Service's Endpoints through the API server (the field
    # report's plugin): the pods need RBAC to read them, and may mount the kubelet's kubeconfig.
    endpoints_discovery: bool
    # The first masters are named once, while the cluster first forms (7+: ES's bootstrap).
    bootstraps: bool
    # The name of that bootstrap setting, which the image's entrypoint passes (7+ only).
    bootstrap_setting: str = ""
    # TLS on both layers and the file realm's superuser (security.enabled): the default where
    # the profile has them; where it has not, why (the refusal of security.enabled true).
    security_supported: bool = False
    security_missing: str = ""
    # The superuser, and the users file the engine reads it from: `file` (Elasticsearch's file
    # realm, reloaded when it changes) or `internal_users` (OpenSearch's security plugin, read
    # into its security index when the cluster first forms).
    superuser: str = "elastic"
    realm: str = "file"
    # The password lives in the engine's own index once the cluster has formed (OpenSearch), so
    # a change in config reaches it through the pods' readiness probe, which changes it with the
    # previous one (mounted beside it) by the engine's account API. False: the engine reloads
    # its users file.
    password_in_index: bool = False
    # With security.certificateSecret (the user's own certificates), the engine must be told
    # their subject too (OpenSearch's plugins.security.nodes_dn): security.certificateSubject.
    needs_certificate_subject: bool = False

    @property
    def config_path(self) -> str:
        """The engine's config folder, beside its data folder."""
        return str(PurePosixPath(self.data_path).parent / "config")

    def env(self, group: NodeGroup, cluster: Cluster) -> list[Manifest]:
        """The env the image's config template and entrypoint read, for one group's pods."""
        raise NotImplementedError

    def probes(self, group: NodeGroup, cluster: Cluster) -> Manifest:
        raise NotImplementedError

    def realm_files(self, users: Any) -> dict[str, Any]:
        """The users Secret's files, given the users file the credentials made (`realm`)."""
        return {"users": users, "users_roles": f"{SUPERUSER_ROLE}:{self.superuser}\n"}

    def default_base_image(self, version: str) -> str:
        """The base image the image context builds FROM when image.baseImage is not set."""
        raise NotImplementedError

    def default_pod_security_context(self) -> dict[str, Any]:
        """The pod securityContext when a group sets none: the user the image runs as."""
        return {}

    def build_args(self) -> dict[str, str]:
        """Build arguments beside BASE_IMAGE that the image context's Dockerfile takes."""
        return {}

    def upgrade_refusal(self, before: Version, after: Version) -> str | None:
        """Why the running `before` cannot be rolled to `after` in place, or None when it can."""
        raise NotImplementedError

    def old_indices_refusal(self, first: Version, before: Version, after: Version) -> str | None:
        """Why a cluster first deployed on `first` may not go from `before` to `after` until the
        indices it created then are dealt with, or None (a family with one major: never)."""
        return None


def downgrade_or_skip(before: Version, after: Version) -> str | None:
    """The two rules every 7+ family shares: never down, one major at a time."""
    if after < before:
        return (
            f"a downgrade from {show_version(before)} to {show_version(after)}: a node never reads the data a newer "
            "version wrote, so this is never done in place"
        )
    if after[0] > before[0] + 1:
        return (
            f"{show_version(before)} to {show_version(after)} skips a major version: upgrade one major at a time "
            f"(to {before[0] + 1}.x first)"
        )
    return None


def probes_for(group: NodeGroup, http_port: int, transport_port: int) -> Manifest:
    """Nodes that serve the HTTP Service are ready when they answer it; the others when
    transport listens. Liveness only asks whether the JVM still holds the transport port, so a
    red cluster never gets its pods killed. (7+ replaces readiness with the image's probe.)"""
    if group.client:
        readiness: Manifest = {"httpGet": {"path": "/_cluster/health?local=true", "port": http_port}}
    else:
        readiness = {"tcpSocket": {"port": transport_port}}
    return {
        "readinessProbe": {**readiness, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {
            "tcpSocket": {"port": transport_port},
            "initialDelaySeconds": 90,
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 5,
        },
    }
