"""The es-cluster program: stack config in, one EsCluster out, its outputs exported."""

import pulumi

from es_cluster import ConfigError, EsCluster, parse_stack_config, validate
from es_cluster.stack import config_from_runtime, near_miss_warnings, runtime_config

for warning in near_miss_warnings(runtime_config()):
    pulumi.log.warn(warning)
try:
    cluster = validate(parse_stack_config(config_from_runtime()))
except ConfigError as e:
    # RunError prints the message alone, without a Python traceback.
    raise pulumi.RunError(str(e)) from None

es = EsCluster(cluster.name, cluster)

pulumi.export("namespace", es.namespace)
pulumi.export("httpService", es.http_service)
pulumi.export("transportService", es.transport_service)
pulumi.export("httpUrl", es.http_url)
pulumi.export("imageRef", es.image_ref)
pulumi.export("workloads", es.workloads)
if cluster.security.enabled:
    # `pulumi stack output --show-secrets elasticPassword`: the password of `superuser`
    # (elastic, or OpenSearch's admin); caCertificate verifies the nodes.
    pulumi.export("superuser", es.superuser)
    pulumi.export("elasticPassword", es.elastic_password)
    pulumi.export("caCertificate", es.ca_certificate)
