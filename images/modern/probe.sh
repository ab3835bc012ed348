#!/bin/sh
# es-cluster's pod hooks for Elasticsearch 7+ and OpenSearch (es_cluster/engines/profile.py
# declares them): shards stay put while a node restarts, and the next pod of a roll waits until
# the cluster has its shards back. No operator: the pods do it through the engine's HTTP API on
# their own address.
#
#   pre-stop  (the preStop hook) on a data node: cluster.routing.allocation.enable: primaries,
#             so the replicas of a node that stops are not copied elsewhere and back (the
#             engines' rolling-restart procedure; the node-shutdown API is not in every
#             distribution), then a flush, so the node's recovery is quick.
#   ready     (the readiness probe): the node has joined; when no planned node has been missing
#             (the bootstrap ConfigMap's `nodes`) for ES_CLUSTER_HELD_FOR seconds, allocation is
#             enabled again (not at once: a node that ran pre-stop is still in the cluster for a
#             moment, and a scale-down's leftover hold is released the same way); and at start the
#             cluster is green, or yellow with nothing initializing or relocating after
#             ES_CLUSTER_YELLOW_AFTER seconds (a shard no node can hold never makes it green).
#             Once ready, the node stays ready while it answers: a yellow cluster later takes
#             no node out of its Services.
set -u
home=${ES_CLUSTER_HOME:-/usr/share/${ES_CLUSTER_ENGINE:-elasticsearch}}
port=${ES_CLUSTER_HTTP_PORT:-9200}
address=${POD_IP:-127.0.0.1}
nodes_file=${ES_CLUSTER_CONFIG_DIR:-/etc/es-cluster/bootstrap}/nodes
credentials=${ES_CLUSTER_CREDENTIALS_DIR:-/etc/es-cluster/credentials}
state=${ES_CLUSTER_STATE_DIR:-/tmp}
yellow_after=${ES_CLUSTER_YELLOW_AFTER:-300}
held_for=${ES_CLUSTER_HELD_FOR:-30}

# One request to this node: curl reads the password from its stdin config (never argv), the
# node certificate is checked against the cluster's CA under the name it carries (localhost).
api() {
  method=$1 path=$2 body=${3:-}
  if [ "${ES_CLUSTER_HTTP_TLS:-false}" = true ]; then
    set -- --cacert "$home/config/certs/ca.crt" --resolve "localhost:$port:$address" "https://localhost:$port$path"
  else
    set -- "http://$address:$port$path"
  fi
  [ -n "$body" ] && set -- -H 'Content-Type: application/json' --data "$body" "$@"
  if [ "${ES_CLUSTER_SECURITY:-false}" = true ]; then
    user=${ES_CLUSTER_USER:?es_cluster sets it when security is on}
    password=$(sed 's/[\\"]/\\&/g' "$credentials/$user") || return 1
    printf 'user = "%s:%s"\n' "$user" "$password" | curl -sf --max-time 3 --config - -X "$method" "$@"
  else
    curl -sf --max-time 3 -X "$method" "$@"
  fi
}

# "key":value from compact JSON: the value, unquoted.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

case "${1:-}" in
  pre-stop)
    case ",${NODE_ROLES:-}," in *,data,*) ;; *) exit 0 ;; esac
    api PUT /_cluster/settings '{"persistent":{"cluster.routing.allocation.enable":"primaries"}}' >/dev/null \
      || echo "es-cluster: pre-stop could not hold allocation; the node's replicas may be copied elsewhere" >&2
    api POST /_flush >/dev/null || true
    exit 0
    ;;
  ready)
    # The node answers (its own view: no master needed once it has been ready).
    health=$(api GET '/_cluster/health?local=true') || exit 1
    count=$(printf '%s' "$health" | field number_of_nodes)
    planned=$(cat "$nodes_file" 2>/dev/null || echo 0)
    if [ -n "$count" ] && [ "$count" -ge "${planned:-0}" ] &&
      api GET '/_cluster/settings?flat_settings=true' | grep -q '"cluster.routing.allocation.enable":"primaries"'; then
      # Allocation held, and every planned node in: released once that has lasted.
      [ -f "$state/es-cluster-held" ] || date +%s >"$state/es-cluster-held"
      if [ $(($(date +%s) - $(cat "$state/es-cluster-held"))) -ge "$held_for" ] &&
        api PUT /_cluster/settings '{"persistent":{"cluster.routing.allocation.enable":null}}' >/dev/null; then
        rm -f "$state/es-cluster-held"
        echo "es-cluster: all $count planned nodes are in: allocation enabled again" >&2
      fi
    else
      rm -f "$state/es-cluster-held"
    fi
    [ -f "$state/es-cluster-ready" ] && exit 0
    # At start: the cluster's health as its master has it.
    health=$(api GET /_cluster/health) || exit 1
    [ -f "$state/es-cluster-joined" ] || date +%s >"$state/es-cluster-joined"
    status=$(printf '%s' "$health" | field status)
    if [ "$status" = green ] || { [ "$status" = yellow ] &&
      [ $(($(date +%s) - $(cat "$state/es-cluster-joined"))) -ge "$yellow_after" ] &&
      [ "$(printf '%s' "$health" | field initializing_shards)" = 0 ] &&
      [ "$(printf '%s' "$health" | field relocating_shards)" = 0 ]; }; then
      touch "$state/es-cluster-ready"
      exit 0
    fi
    exit 1
    ;;
  *)
    echo "usage: es-cluster-probe pre-stop|ready" >&2
    exit 64
    ;;
esac
