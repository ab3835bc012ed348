"""EsCluster: the one component. It validates, checks what the change does to the running
cluster, then wires the spec builders to resources."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import known_types

from . import impact, specs
from .config import EsClusterArgs, validate
from .credentials import Credentials, rotation_message
from .image import identity as image_identity
from .image import image_ref as declare_image
from .model import Cluster

COMPONENT_TYPE = "es-cluster:index:EsCluster"

_RESOURCE_CLASSES: dict[str, Any] = {
    "Namespace": k8s.core.v1.Namespace,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Secret": k8s.core.v1.Secret,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "Role": k8s.rbac.v1.Role,
    "RoleBinding": k8s.rbac.v1.RoleBinding,
    "Service": k8s.core.v1.Service,
    "DaemonSet": k8s.apps.v1.DaemonSet,
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}
_WORKLOADS = {"DaemonSet", "Deployment", "StatefulSet"}


def _resource_args(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest's top-level fields as the SDK's keyword arguments (roleRef -> role_ref)."""
    fields = {"roleRef": "role_ref", "stringData": "string_data"}
    return {fields.get(k, k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}


def _scheduled(status: Any) -> int | None:
    """status.desiredNumberScheduled of a DaemonSet output (the SDK's typed DaemonSetStatus, under
    the engine and under the mocks alike), or None while the controller has not reported it."""
    value = getattr(status, "desired_number_scheduled", None)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _say(message: str | None, resource: pulumi.Resource) -> None:
    if message:
        pulumi.log.info(message, resource)


def record_output_name(name: str) -> str:
    """The stack output holding the component's last successful deploy and its impact."""
    return f"es-cluster:{name}"


def _own_stack() -> str:
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"


class ChangeRefused(pulumi.RunError):
    """A change that loses quorum or data, not allowed by allowDisruptive. RunError: the CLI
    prints the message alone, without a Python traceback."""


class EsCluster(pulumi.ComponentResource):
    """A production Elasticsearch cluster: image, RBAC, two services, one workload and one
    disruption budget per node group.

    Outputs: namespace, http_service, transport_service, http_url, image_ref, workloads
    (group name -> workload name), elastic_password (a secret: the password of `superuser`,
    Elasticsearch's elastic or OpenSearch's admin), superuser and ca_certificate when security
    is on (None otherwise; the CA is None too with a Secret of the user's), impact (what this
    deploy does to the running cluster), record (the deployed cluster and the impact, which the
    stack output `es-cluster:<name>` holds for the next preview to compare with).
    """

    namespace: pulumi.Output[str]
    http_service: pulumi.Output[str]
    transport_service: pulumi.Output[str]
    http_url: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    workloads: pulumi.Output[dict[str, str]]
    elastic_password: pulumi.Output[str]
    superuser: pulumi.Output[str]
    ca_certificate: pulumi.Output[str]
    impact: pulumi.Output[dict[str, Any]]
    record: pulumi.Output[dict[str, Any]]

    def _check_count(self, group: Any, cluster: Cluster, status: Any) -> None:
        scheduled = _scheduled(status)
        warning = impact.daemonset_drift(group, cluster, scheduled) if scheduled is not None else None
        if warning is not None:
            pulumi.log.warn(warning, resource=self)

    def __init__(self, name: str, args: EsClusterArgs | Cluster, opts: pulumi.ResourceOptions | None = None):
        # Validate before registering anything: bad input must leave the stack untouched.
        cluster = args if isinstance(args, Cluster) else validate(args)
        super().__init__(COMPONENT_TYPE, name, None, opts)
        for warning in cluster.warnings:
            pulumi.log.warn(warning, resource=self)

        # What this change does to the running cluster: the new config against the record this
        # stack exported on its last successful deploy, read through a reference to itself.
        # Every child waits for the verdict, so a refused change touches nothing.
        output_name = record_output_name(name)
        last = pulumi.StackReference(f"{name}-last-deployed", stack_name=_own_stack(), opts=pulumi.ResourceOptions(parent=self))
        identity = image_identity(cluster.image)

        def judge(previous: Any) -> impact.Impact:
            result = impact.compare((previous or {}).get("deployed"), cluster, identity, cluster.allow_disruptive)
            pulumi.log.info(result.summary(), resource=self)
            if cluster.allow_disruptive and not result.allowed and not result.refused:
                pulumi.log.warn(
                    f"allowDisruptive allows {', '.join(sorted(cluster.allow_disruptive))}, and this change needs none of "
                    "it: remove it (pulumi config rm es-cluster:allowDisruptive) so the next change that loses quorum "
                    "or data is refused again",
                    resource=self,
                )
            if result.refused:
                for d in result.refused:
                    pulumi.log.error(d.refusal(), resource=self)
                raise ChangeRefused(f"{name}: refused: " + " ".join(d.refusal() for d in result.refused))
            return result

        verdict = last.get_output(output_name).apply(judge)
        gate = verdict.apply(lambda _: [last])
        child = pulumi.ResourceOptions(parent=self, depends_on=gate)

        image_ref: pulumi.Input[str]
        if cluster.image.reference is not None:
            image_ref = cluster.image.reference
        else:
            image_ref = declare_image(name, cluster.image, child)

        created: dict[str, pulumi.Resource] = {}

        # The CA, the node certificate and the superuser's password: made once, Pulumi secrets.
        credentials: dict[str, Any] | None = None
        if cluster.security.enabled:
            made = Credentials(f"{name}-credentials", **specs.credentials_args(cluster), opts=child)
            credentials = {k: getattr(made, k) for k in specs.CREDENTIALS}
            # A state made by an earlier es-cluster has no previous password until a change, and
            # knows only the CA it trusts.
            credentials["previous_password"] = made.previous_password.apply(lambda v: v or "")
            credentials["trusted"] = pulumi.Output.all(made.trusted, made.ca_crt).apply(lambda v: v[0] or v[1])
            pulumi.Output.all(made.next_ca_crt, made.trusted, made.step_at).apply(lambda v: _say(rotation_message(*v), self))
            # Every object waits for them: if they cannot be made, nothing of the cluster is
            # touched.
            gate = gate.apply(lambda g, made=made: [*g, made])

        def declare(
            manifest: dict[str, Any], depends_on: pulumi.Input[list[pulumi.Resource]], timeout: str | None = None
        ) -> pulumi.Resource:
            kind, meta_name = manifest["kind"], manifest["metadata"]["name"]
            resource = _RESOURCE_CLASSES[kind](
                f"{name}-{kind.lower()}-{meta_name}",
                **_resource_args(manifest),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=depends_on,
                    custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout) if timeout else None,
                ),
            )
            created[f"{kind}/{meta_name}"] = resource
            return resource

        # Pods need their namespace, service account, RBAC and discovery service first.
        namespace_deps: list[pulumi.Resource] = []
        workload_deps: list[pulumi.Resource] = []
        # The first masters' names while the cluster first forms (a first deploy: no record of an
        # earlier one), and none after it, so no later start of a master can bootstrap again.
        initial = verdict.apply(lambda result: ",".join(specs.initial_masters(cluster)) if result.first_deploy else "")
        for manifest in specs.cluster_manifests(cluster, initial, credentials):
            resource = declare(manifest, gate.apply(lambda g, deps=list(namespace_deps): g + deps))
            if manifest["kind"] == "Namespace":
                namespace_deps.append(resource)
            workload_deps.append(resource)

        # Groups roll one at a time, data first and masters last: each workload waits for the
        # one before it, and pulumi-kubernetes waits for a workload's rollout to finish. Not on
        # a first deploy, where the masters must start beside the others to form the cluster.
        previous: pulumi.Resource | None = None
        for group in impact.roll_order(cluster):
            before = previous

            def workload_deps_for(result: impact.Impact, before: pulumi.Resource | None = before) -> list[pulumi.Resource]:
                chain = [before] if before is not None and not result.first_deploy else []
                return [last, *workload_deps, *chain]

            for manifest in specs.group_manifests(group, cluster, image_ref):
                if manifest["kind"] in _WORKLOADS:
                    # A rollout that cannot succeed fails `up` after rolloutTimeout per pod.
                    previous = declare(manifest, verdict.apply(workload_deps_for), specs.rollout_timeout(group, cluster))
                    if group.workload == "DaemonSet":
                        # The nodes the controller runs it on, read back after each apply.
                        previous.status.apply(lambda status, group=group: self._check_count(group, cluster, status))  # type: ignore[attr-defined]
                else:
                    declare(manifest, gate.apply(lambda g: g + workload_deps))

        self.namespace = pulumi.Output.from_input(cluster.namespace)
        self.http_service = pulumi.Output.from_input(specs.http_service_name(cluster))
        self.transport_service = pulumi.Output.from_input(specs.transport_service_name(cluster))
        self.http_url = pulumi.Output.from_input(specs.http_url(cluster))
        self.image_ref = pulumi.Output.from_input(image_ref)
        self.workloads = pulumi.Output.from_input({g.name: specs.workload_name(cluster, g) for g in cluster.groups})
        self.elastic_password = pulumi.Output.secret(credentials["password"]) if credentials else pulumi.Output.from_input(None)
        self.superuser = pulumi.Output.from_input(specs.superuser(cluster) if credentials else None)
        issued = credentials is not None and cluster.security.certificate_secret is None
        self.ca_certificate = credentials["trusted"] if issued else pulumi.Output.from_input(None)
        self.impact = verdict.apply(lambda result: result.output())
        self.resources = created
        # The record resolves only once every object is in place, so after a failed `up` the
        # stack keeps the record of the last deploy that succeeded.
        self.record = pulumi.Output.all(verdict, *[r.id for r in created.values()]).apply(
            lambda values: {"deployed": impact.record(cluster, identity, values[0].first_version), "impact": values[0].output()}
        )
        # A program that imports the component exports it itself; a program using the component
        # package exports `record` under the same name (the package host has no stack to export to).
        if known_types.is_stack(pulumi.runtime.get_root_resource()):
            pulumi.export(output_name, self.record)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "http_service": self.http_service,
                "transport_service": self.transport_service,
                "http_url": self.http_url,
                "image_ref": self.image_ref,
                "workloads": self.workloads,
                "elastic_password": self.elastic_password,
                "superuser": self.superuser,
                "ca_certificate": self.ca_certificate,
                "impact": self.impact,
                "record": self.record,
            }
        )
