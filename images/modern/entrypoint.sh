#!/bin/sh
# es-cluster's entrypoint for Elasticsearch 7+ and OpenSearch. Starts the engine in the
# foreground with our config template (the env es_cluster/engines/zen2.py sets fills it) and any
# arguments given (-Ekey=value). A master-eligible node gets the bootstrap setting only while the
# bootstrap ConfigMap lists the first masters, which the component does on a cluster's first
# deploy alone: a master restarted or replaced later never bootstraps a second cluster.
set -eu
engine=${ES_CLUSTER_ENGINE:?the image sets ES_CLUSTER_ENGINE}
list=/etc/es-cluster/bootstrap/initial-masters
case "$engine" in
  opensearch) setting=cluster.initial_cluster_manager_nodes; master=cluster_manager ;;
  *) setting=cluster.initial_master_nodes; master=master ;;
esac
# node.roles from NODE_ROLES ("master,data", or none: a coordinating-only node), written into the
# config file's node.roles line as a YAML list, the one form every engine reads (the template
# says why). The roles are the component's, from a fixed set of names.
roles=${NODE_ROLES:-}
config=/usr/share/$engine/config/$engine.yml
sed -i "s/^node\.roles:.*/node.roles: [$roles]/" "$config"
case ",$roles," in
  *",$master,"*)
    if [ -s "$list" ]; then
      echo "es-cluster: first deploy: $setting=$(cat "$list")" >&2
      set -- "$@" "-E$setting=$(cat "$list")"
    fi
    ;;
esac
exec "/usr/share/$engine/bin/$engine" "$@"
