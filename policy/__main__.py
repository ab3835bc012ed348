"""es-cluster's policy pack: run it with `pulumi preview --policy-pack policy`.

Every rule is mandatory by default. Production stacks add `--policy-pack-config
policy/production.json`, which makes es-master-count demand at least 3 masters.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import es_rules  # noqa: E402


def _resource_policy(name: str, description: str, rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        kind = es_rules.WORKLOAD_TYPES.get(args.resource_type)
        if kind is None or not es_rules.is_elasticsearch(args.props):
            return
        for message in rule(kind, args.props):
            report(message)

    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def _workloads(args: StackValidationArgs) -> list[tuple[str, object]]:
    return [(es_rules.WORKLOAD_TYPES[r.resource_type], r.props) for r in args.resources if r.resource_type in es_rules.WORKLOAD_TYPES]


def _master_count(args: StackValidationArgs, report: ReportViolation) -> None:
    production = bool((args.get_config() or {}).get("production"))  # unset: not production
    for message in es_rules.master_count_violations(_workloads(args), production):
        report(message)


def _min_masters(args: StackValidationArgs, report: ReportViolation) -> None:
    for message in es_rules.min_masters_violations(_workloads(args)):
        report(message)


POLICIES = [
    StackValidationPolicy(
        name="es-master-count",
        description="Each cluster has an odd number of master-eligible nodes, and at least 3 when production is set.",
        validate=_master_count,
        config_schema=PolicyConfigSchema(
            properties={"production": {"type": "boolean", "default": False}},
        ),
    ),
    StackValidationPolicy(
        name="es-min-masters",
        description="Every node's MIN_MASTERS is masters/2+1 of its cluster.",
        validate=_min_masters,
    ),
    _resource_policy(
        "es-heap-size",
        "ES_HEAP_SIZE is at most half the memory limit and below 32 GiB.",
        es_rules.heap_violations,
    ),
    _resource_policy(
        "es-image-digest",
        "Elasticsearch images are pinned by digest.",
        es_rules.digest_violations,
    ),
    _resource_policy(
        "es-no-privilege",
        "No container runs privileged or adds a capability beyond CHOWN, SETGID, SETUID (and IPC_LOCK).",
        es_rules.privilege_violations,
    ),
    _resource_policy(
        "es-kubeconfig-read-only",
        "The kubelet kubeconfig is mounted read-only.",
        es_rules.kubeconfig_violations,
    ),
]

PolicyPack(name="es-cluster", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
