"""Figures to watch, not assertions: how fast validation handles generated configs, and how long
a 200-group stack takes to render.

    make bench-validate            # or: .venv/bin/python benchmarks/validation.py [--configs N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from es_cluster import ConfigError, parse_stack_config, validate  # noqa: E402
from es_cluster.render import render  # noqa: E402

REFERENCE = "localhost:5000/es@sha256:" + "a" * 64
ODD = ["", "a\n", "-1Gi", "x" * 70, None, 3.5, [], {"a": 1}, "Team/es", "/a/..", 2**40]


def generated_config(rng: random.Random) -> dict:
    """A config of 1-4 groups from valid building blocks, about one value in twenty made odd."""

    def pick(*choices):
        return rng.choice(ODD) if rng.random() < 0.05 else rng.choice(choices)

    groups = {}
    for i in range(rng.randint(1, 4)):
        roles = rng.sample(["master", "data", "client"], rng.randint(1, 3))
        workload = pick("DaemonSet", "Deployment", "StatefulSet")
        group = {
            "roles": roles,
            "replicas": pick(0, 1, 2, 3, 5),
            "workload": workload,
            "nodeSelector": {"a/b/c" if rng.random() < 0.05 else rng.choice(["kube-system/es-data-node", "disktype"]): pick("true", "ssd")},
            "heapSize": pick("256m", "1g", "2g"),
            "resources": {"requests": {"cpu": pick("500m", "1"), "memory": pick("1Gi", "2Gi")}, "limits": {"memory": pick("2Gi", "4Gi")}},
            "tolerations": [
                {"key": pick("dedicated", "example.com/es"), "operator": "Equal", "value": pick("es", "true"), "effect": "NoSchedule"}
            ],
        }
        group["storage"] = {"size": pick("10Gi", "50Gi")} if workload == "StatefulSet" else {"hostPath": pick("/data/es", "/srv/es")}
        groups[f"g{i}"] = group
    return {
        "clusterName": pick("es", "logs"),
        "namespace": pick("elasticsearch", "logs"),
        "image": {"reference": REFERENCE},
        "nodeGroups": groups,
    }


def bench_validation(n: int) -> None:
    rng = random.Random(1)
    configs = [generated_config(rng) for _ in range(n)]
    refused = 0
    start = time.perf_counter()
    for raw in configs:
        try:
            validate(parse_stack_config(raw))
        except ConfigError:
            refused += 1
    elapsed = time.perf_counter() - start
    print(f"validation: {n / elapsed:,.0f} configs/s ({n} generated configs, {refused} refused, {elapsed:.2f} s)")


def bench_render(groups: int) -> None:
    raw = {
        "clusterName": "big",
        "image": {"reference": REFERENCE},
        "nodeGroups": {"masters": {"roles": ["master"], "replicas": 3, "storage": {"size": "10Gi"}}}
        | {f"data-{i}": {"roles": ["data"], "replicas": 3, "storage": {"size": "100Gi"}} for i in range(groups - 1)},
    }
    start = time.perf_counter()
    cluster = validate(parse_stack_config(raw))
    validated = time.perf_counter()
    manifests = render(cluster)
    done = time.perf_counter()
    print(
        f"render: {groups} groups -> {len(manifests)} objects in {(done - start) * 1000:.0f} ms "
        f"(validate {(validated - start) * 1000:.0f} ms, specs {(done - validated) * 1000:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=200)
    args = parser.parse_args()
    bench_validation(args.configs)
    bench_render(args.groups)


if __name__ == "__main__":
    main()
