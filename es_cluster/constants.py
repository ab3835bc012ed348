"""Facts shared by the spec builders, the image and the tests: ports, paths, env names, labels.

`image/elasticsearch.yml` reads the env names below; `tests/unit/test_image_contract.py`
fails if the two drift apart.
"""

HTTP_PORT = 9200
TRANSPORT_PORT = 9300

# Where the image keeps Elasticsearch's data (path.data etc. in image/elasticsearch.yml).
DATA_PATH = "/data"
# Where the kubelet's kubeconfig is mounted when the service-account token cannot be used.
KUBECONFIG_MOUNT_PATH = "/kubeconfig"

ROLES = ("master", "data", "client")
WORKLOADS = ("DaemonSet", "Deployment", "StatefulSet")
HTTP_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
ANTI_AFFINITY = ("hard", "soft")

# Env the image's elasticsearch.yml and the base image's run script read.
ENV_CLUSTER_NAME = "CLUSTER_NAME"
ENV_NODE_NAME = "NODE_NAME"
ENV_NODE_MASTER = "NODE_MASTER"
ENV_NODE_DATA = "NODE_DATA"
ENV_HTTP_ENABLE = "HTTP_ENABLE"
ENV_NAMESPACE = "NAMESPACE"
ENV_DISCOVERY_SERVICE = "DISCOVERY_SERVICE"
ENV_MIN_MASTERS = "MIN_MASTERS"
ENV_HEAP_SIZE = "ES_HEAP_SIZE"
ENV_NETWORK_HOST = "NETWORK_HOST"
ENV_TRY_KUBECONFIG = "KUBERNETES_AUTH_TRYKUBECONFIG"
ENV_KUBECONFIG = "KUBECONFIG"

# `_site_` binds the pod's site-local address, which is what peers reach over the pod network.
NETWORK_HOST = "_site_"

# Label keys. The role labels are what the two services select on.
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_ROLE_PREFIX = "es-cluster.io/role-"

APP_NAME = "elasticsearch"
MANAGED_BY = "es-cluster"

# The field report's node labels: scaling a DaemonSet group out is labelling one more node.
MASTER_NODE_LABEL = "kube-system/es-master-node"
DATA_NODE_LABEL = "kube-system/es-data-node"

# On a DaemonSet: the node count the group is planned for, the one MIN_MASTERS counts. The
# policy pack (policy/es_rules.py) reads it, since no preview can count labelled nodes.
PLANNED_REPLICAS_ANNOTATION = "es-cluster.io/replicas"

# pulumi-kubernetes does not await an object with this annotation set to "true".
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"

DEFAULT_BASE_IMAGE = "quay.io/pires/docker-elasticsearch-kubernetes:2.3.4"
DEFAULT_REPOSITORY = "localhost:5000/es-kubernetes"

# --- Elasticsearch 7+ and OpenSearch (es_cluster/engines/zen2.py, images/modern/) -------------
# Env the modern config templates and the entrypoint read, beside CLUSTER_NAME, NODE_NAME,
# NETWORK_HOST and DISCOVERY_SERVICE (there the transport Service's DNS name: the seed hosts).
ENV_NODE_ROLES = "NODE_ROLES"
ENV_ALLOW_MMAP = "ALLOW_MMAP"
# Where the bootstrap ConfigMap is mounted on every pod (a folder, never subPath, so changes
# reach running pods): the entrypoint of a master-eligible pod reads the first masters' names
# there, and the pod hooks (images/modern/probe.sh) the number of planned nodes.
BOOTSTRAP_MOUNT_PATH = "/etc/es-cluster/bootstrap"
BOOTSTRAP_KEY = "initial-masters"
NODES_KEY = "nodes"
# The pod hooks: the preStop hook holds replica allocation on a data node, the readiness probe
# releases it once every planned node is in and, at start, waits for the cluster's shards.
PROBE_COMMAND = "/usr/local/bin/es-cluster-probe"
# The pod's address (the engine binds it: network.host _site_), which the hooks call.
ENV_POD_IP = "POD_IP"
# Security on: the superuser the hooks authenticate as, and where its password is mounted
# (the elastic-user Secret, a folder: key = the user's name).
ENV_SUPERUSER = "ES_CLUSTER_USER"
CREDENTIALS_MOUNT_PATH = "/etc/es-cluster/credentials"
# Beside it, where the engine keeps the password in its index (OpenSearch), the one a change in
# config replaced: `<user>.previous` (images/modern/probe.sh reads the same name).
PREVIOUS_PASSWORD_SUFFIX = ".previous"
# security.enabled and HTTPS (names.flag), which the entrypoint turns into the engine's settings.
ENV_SECURITY = "ES_CLUSTER_SECURITY"
ENV_HTTP_TLS = "ES_CLUSTER_HTTP_TLS"
# OpenSearch: the node certificate's subject, for plugins.security.nodes_dn.
ENV_NODES_DN = "ES_CLUSTER_NODES_DN"
# Folders inside the engine's config folder (the engines read TLS files only under it), each a
# whole Secret mounted (never subPath), so renewed certificates and a changed password reach
# running nodes, which reload them: the certificates, and the file realm's users and roles.
CERTS_DIR = "certs"
FILE_REALM_DIR = "es-cluster-file-realm"
# Validity of the component's CA, and the node certificate's default (security.certificateDays).
CA_CERTIFICATE_DAYS = 5 * 365
NODE_CERTIFICATE_DAYS = 365
# Elasticsearch's superuser in the file realm, as ECK names it (the reserved realm is turned off
# for it); each engine profile names its own (OpenSearch's is admin).
SUPERUSER = "elastic"
# The user the modern images run as (the official images' uid), and the group owning its files.
ENGINE_UID = 1000
