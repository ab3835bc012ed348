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
#             no node out of its Services, nor does a password this pod's copy of the Secret
#             does not have yet (401).
#             OpenSearch keeps its users in its security index, so a password changed in config
#             reaches it here: when the mounted password gets 401 and the one it replaced
#             (`<user>.previous`, mounted beside it) is taken, the probe changes it with the
#             security plugin's account API. The first pod to see the new Secret does it.
set -u
home=${ES_CLUSTER_HOME:-/usr/share/${ES_CLUSTER_ENGINE:-elasticsearch}}
port=${ES_CLUSTER_HTTP_PORT:-9200}
address=${POD_IP:-127.0.0.1}
nodes_file=${ES_CLUSTER_CONFIG_DIR:-/etc/es-cluster/bootstrap}/nodes
credentials=${ES_CLUSTER_CREDENTIALS_DIR:-/etc/es-cluster/credentials}
state=${ES_CLUSTER_STATE_DIR:-/tmp}
yellow_after=${ES_CLUSTER_YELLOW_AFTER:-300}
held_for=${ES_CLUSTER_HELD_FOR:-30}

# A message for the pod's log too (the engine's stdout: PID 1, the same user): the kubelet keeps
# a probe's or hook's output only when it fails, and these do not fail for it.
say() {
  echo "es-cluster: $1" >&2
  { echo "es-cluster: $1" >>"${ES_CLUSTER_LOG:-/proc/1/fd/1}"; } 2>/dev/null || true
}

# For curl's config file and for a JSON string alike: \ and " escaped.
quote() { sed 's/[\\"]/\\&/g'; }

# One request to this node, as the superuser with the password in file $1 (the rest: curl's
# options), $method $path and $body set by the caller: curl reads the password and the body from
# its stdin config (never argv), and checks the node certificate against the cluster's CA under
# the name it carries (localhost).
send() {
  file=$1
  shift
  if [ "${ES_CLUSTER_HTTP_TLS:-false}" = true ]; then
    set -- "$@" --cacert "$home/config/certs/ca.crt" --resolve "localhost:$port:$address" "https://localhost:$port$path"
  else
    set -- "$@" "http://$address:$port$path"
  fi
  set -- --max-time 3 -X "$method" "$@"
  if [ "${ES_CLUSTER_SECURITY:-false}" = true ]; then
    user=${ES_CLUSTER_USER:?es_cluster sets it when security is on}
    password=$(quote <"$file") || return 1
    {
      printf 'user = "%s:%s"\n' "$user" "$password"
      [ -z "$body" ] || printf 'data = "%s"\n' "$(printf '%s' "$body" | quote)"
    } | curl -H 'Content-Type: application/json' --config - "$@"
  else
    [ -z "$body" ] || set -- -H 'Content-Type: application/json' --data "$body" "$@"
    curl "$@"
  fi
}

# api METHOD PATH [BODY]: the answer's body, failing on an HTTP error.
api() {
  method=$1 path=$2 body=${3:-}
  send "$credentials/${ES_CLUSTER_USER:-}" -sf
}

# status METHOD PATH: the HTTP status alone (000: no answer).
status() {
  method=$1 path=$2 body=
  send "$credentials/${ES_CLUSTER_USER:-}" -s -o /dev/null -w '%{http_code}'
}

# OpenSearch: the mounted password got 401; if the one it replaced is still in force, change it.
rotate() {
  previous=$credentials/${ES_CLUSTER_USER:-}.previous
  [ -s "$previous" ] || return 0
  method=PUT path=/_plugins/_security/api/account
  body="{\"current_password\":\"$(quote <"$previous")\",\"password\":\"$(quote <"$credentials/$ES_CLUSTER_USER")\"}"
  if send "$previous" -sf >/dev/null; then
    say "the superuser's password from the stack config is now in force"
  else
    say "the mounted password is refused, and the previous one could not change it"
  fi
}

# "key":value from compact JSON: the value, unquoted.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

case "${1:-}" in
  pre-stop)
    case ",${NODE_ROLES:-}," in *,data,*) ;; *) exit 0 ;; esac
    api PUT /_cluster/settings '{"persistent":{"cluster.routing.allocation.enable":"primaries"}}' >/dev/null \
      || say "pre-stop could not hold allocation; the node's replicas may be copied elsewhere"
    api POST /_flush >/dev/null || true
    exit 0
    ;;
  ready)
    # The node answers (its own view: no master needed once it has been ready).
    if ! health=$(api GET '/_cluster/health?local=true'); then
      [ "$(status GET '/_cluster/health?local=true')" = 401 ] || exit 1
      rotate  # a 401 comes only from a secured node
      [ -f "$state/es-cluster-ready" ] && exit 0
      exit 1
    fi
    count=$(printf '%s' "$health" | field number_of_nodes)
    planned=$(cat "$nodes_file" 2>/dev/null || echo 0)
    if [ -n "$count" ] && [ "$count" -ge "${planned:-0}" ] &&
      api GET '/_cluster/settings?flat_settings=true' | grep -q '"cluster.routing.allocation.enable":"primaries"'; then
      # Allocation held, and every planned node in: released once that has lasted.
      [ -f "$state/es-cluster-held" ] || date +%s >"$state/es-cluster-held"
      if [ $(($(date +%s) - $(cat "$state/es-cluster-held"))) -ge "$held_for" ] &&
        api PUT /_cluster/settings '{"persistent":{"cluster.routing.allocation.enable":null}}' >/dev/null; then
        rm -f "$state/es-cluster-held"
        say "all $count planned nodes are in: allocation enabled again"
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
