"""Least privilege for the Elasticsearch pods: the security contexts the image's start-up
allows, and the lowest Pod Security level a layout needs, with what forces it.

The seed's base image (the pires image, and our stand-in) starts as root: run.sh hands /data to
the `elasticsearch` user, raises the memlock limit, then drops to that user, since ES 2.x
refuses to run as root. Images that start as a non-root user run with no capability at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LEVELS = ("privileged", "baseline", "restricted")  # least to most restricted

# What a root start-up needs, each for one step of run.sh:
#   CHOWN   `chown -R elasticsearch /data`: a new hostPath or volume is root's
#   SETUID, SETGID   dropping to the elasticsearch user (setpriv; su-exec in the pires image)
ROOT_START_CAPABILITIES = ("CHOWN", "SETGID", "SETUID")
# Not IPC_LOCK, which earlier versions added for bootstrap.mlockall: the capability is
# gone once the start script drops to the elasticsearch user, so it never took effect. Only a
# memlock limit raised before the drop helps (run.sh tries `ulimit -l unlimited`, which takes
# SYS_RESOURCE: see docs/security.md on mlockall).
# Pod Security "baseline" allows adding only these (the default container capabilities).
BASELINE_CAPABILITIES = frozenset(
    "AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT".split()
)

POD_SECURITY_LABELS = ("enforce", "warn", "audit")
POD_SECURITY_LABEL_PREFIX = "pod-security.kubernetes.io/"


def runs_as_root(pod_security_context: Mapping[str, Any]) -> bool:
    """Whether the container starts as root: no runAsUser (the image's user is root) or 0."""
    return pod_security_context.get("runAsUser") in (None, 0)


def pod_security_context(user: Mapping[str, Any]) -> dict[str, Any]:
    """The pod's securityContext: the runtime's default seccomp profile, then what the user set."""
    return {"seccompProfile": {"type": "RuntimeDefault"}, **user}


def container_security_context(user: Mapping[str, Any]) -> dict[str, Any]:
    """Every capability dropped, and only what a root start-up needs added back; no privilege
    escalation (the start script changes user as root, without setuid binaries)."""
    ctx: dict[str, Any] = {"privileged": False, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    if runs_as_root(user):
        ctx["capabilities"]["add"] = list(ROOT_START_CAPABILITIES)
    else:
        ctx["runAsNonRoot"] = True
    return ctx


def level_needs(groups: list[tuple[str, Mapping[str, Any], str | None]], kubeconfig_host_path: str | None) -> list[tuple[str, str]]:
    """What keeps the layout from a stricter Pod Security level: (config key, level it needs).

    `groups`: (group name, its podSecurityContext, its storage hostPath or None)."""
    needs: list[tuple[str, str]] = []
    if kubeconfig_host_path is not None:
        needs.append(("kubeconfig.hostPath", "privileged"))
    for name, ctx, host_path in groups:
        if host_path is not None:
            needs.append((f"nodeGroups.{name}.storage.hostPath", "privileged"))
        if runs_as_root(ctx):
            needs.append((f"nodeGroups.{name}.podSecurityContext.runAsUser", "baseline"))
    return needs


def required_level(needs: list[tuple[str, str]]) -> str:
    """The most restricted level every need allows."""
    return min((level for _, level in needs), key=LEVELS.index, default="restricted")


def namespace_labels(level: str) -> dict[str, str]:
    return {POD_SECURITY_LABEL_PREFIX + mode: level for mode in POD_SECURITY_LABELS}
