"""es-cluster: a production Elasticsearch cluster on Kubernetes, as one Pulumi component."""

from .component import EsCluster
from .config import (
    ConfigError,
    EsClusterArgs,
    ImageArgs,
    KubeconfigArgs,
    NodeGroupArgs,
    StorageArgs,
    parse_stack_config,
    validate,
)

__all__ = [
    "ConfigError",
    "EsCluster",
    "EsClusterArgs",
    "ImageArgs",
    "KubeconfigArgs",
    "NodeGroupArgs",
    "StorageArgs",
    "parse_stack_config",
    "validate",
]
