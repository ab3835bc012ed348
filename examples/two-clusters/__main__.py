"""Two Elasticsearch clusters from the es_cluster package in one stack: logs and metrics, in
their own namespaces and sizes, sharing one image."""

import pulumi

from es_cluster import EsCluster, EsClusterArgs, ImageArgs, NodeGroupArgs

config = pulumi.Config()
# A prebuilt image (repo@sha256:...) skips the build; without it each cluster builds image/.
reference = config.get("imageReference")
image = ImageArgs(reference=reference) if reference else ImageArgs()
small = {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}

logs = EsCluster(
    "logs",
    EsClusterArgs(
        cluster_name="logs",
        namespace="logging",
        image=image,
        node_groups={
            "master": NodeGroupArgs(roles=["master"], replicas=3, workload="Deployment", heap_size="512m", resources=small),
            "data": NodeGroupArgs(roles=["data"], replicas=2, workload="Deployment", heap_size="512m", resources=small),
            "client": NodeGroupArgs(roles=["client"], replicas=2, heap_size="512m", resources=small),
        },
    ),
)

metrics = EsCluster(
    "metrics",
    EsClusterArgs(
        cluster_name="metrics",
        namespace="metrics",
        image=image,
        node_groups={
            "all": NodeGroupArgs(roles=["master", "data", "client"], replicas=1, workload="Deployment", heap_size="512m", resources=small),
        },
    ),
)

pulumi.export("logsUrl", logs.http_url)
pulumi.export("metricsUrl", metrics.http_url)
pulumi.export("namespaces", [logs.namespace, metrics.namespace])
pulumi.export("workloads", {"logs": logs.workloads, "metrics": metrics.workloads})
