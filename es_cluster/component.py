"""EsCluster: the one component. It validates, then wires the spec builders to resources."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from . import specs
from .config import EsClusterArgs, validate
from .image import image_ref as declare_image
from .model import Cluster

COMPONENT_TYPE = "es-cluster:index:EsCluster"

_RESOURCE_CLASSES: dict[str, Any] = {
    "Namespace": k8s.core.v1.Namespace,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "Role": k8s.rbac.v1.Role,
    "RoleBinding": k8s.rbac.v1.RoleBinding,
    "Service": k8s.core.v1.Service,
    "DaemonSet": k8s.apps.v1.DaemonSet,
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
}
_WORKLOADS = {"DaemonSet", "Deployment", "StatefulSet"}


def _resource_args(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest's top-level fields as the SDK's keyword arguments (roleRef -> role_ref)."""
    names = {"roleRef": "role_ref"}
    return {names.get(k, k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}


class EsCluster(pulumi.ComponentResource):
    """A production Elasticsearch cluster: image, RBAC, two services, one workload and one
    disruption budget per node group.

    Outputs: namespace, http_service, transport_service, http_url, image_ref, workloads
    (group name -> workload name).
    """

    namespace: pulumi.Output[str]
    http_service: pulumi.Output[str]
    transport_service: pulumi.Output[str]
    http_url: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    workloads: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: EsClusterArgs | Cluster, opts: pulumi.ResourceOptions | None = None):
        # Validate before registering anything: bad input must leave the stack untouched.
        cluster = args if isinstance(args, Cluster) else validate(args)
        super().__init__(COMPONENT_TYPE, name, None, opts)
        for warning in cluster.warnings:
            pulumi.log.warn(warning, resource=self)

        child = pulumi.ResourceOptions(parent=self)
        if cluster.image.reference is not None:
            image_ref: pulumi.Input[str] = cluster.image.reference
        else:
            image_ref = declare_image(name, cluster.image, child)

        # A rollout that cannot succeed fails `up` after rolloutTimeout per pod, not ten minutes.
        timeouts = {specs.workload_name(cluster, g): specs.rollout_timeout(g, cluster) for g in cluster.groups}
        created: dict[str, pulumi.Resource] = {}
        namespace_deps: list[pulumi.Resource] = []
        # Pods need their namespace, service account, RBAC and discovery service first.
        workload_deps: list[pulumi.Resource] = []
        for manifest in specs.manifests(cluster, image_ref):
            kind, meta_name = manifest["kind"], manifest["metadata"]["name"]
            resource = _RESOURCE_CLASSES[kind](
                f"{name}-{kind.lower()}-{meta_name}",
                **_resource_args(manifest),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=list(workload_deps if kind in _WORKLOADS else namespace_deps),
                    custom_timeouts=pulumi.CustomTimeouts(create=timeouts[meta_name], update=timeouts[meta_name])
                    if kind in _WORKLOADS
                    else None,
                ),
            )
            created[f"{kind}/{meta_name}"] = resource
            if kind == "Namespace":
                namespace_deps.append(resource)
            if kind in ("Namespace", "ServiceAccount", "RoleBinding", "Service"):
                workload_deps.append(resource)

        self.namespace = pulumi.Output.from_input(cluster.namespace)
        self.http_service = pulumi.Output.from_input(specs.http_service_name(cluster))
        self.transport_service = pulumi.Output.from_input(specs.transport_service_name(cluster))
        self.http_url = pulumi.Output.from_input(specs.http_url(cluster))
        self.image_ref = pulumi.Output.from_input(image_ref)
        self.workloads = pulumi.Output.from_input({g.name: specs.workload_name(cluster, g) for g in cluster.groups})
        self.resources = created
        self.register_outputs(
            {
                "namespace": self.namespace,
                "http_service": self.http_service,
                "transport_service": self.transport_service,
                "http_url": self.http_url,
                "image_ref": self.image_ref,
                "workloads": self.workloads,
            }
        )
