#!/usr/bin/env bash
# A local Kubernetes control plane on loopback for tests and `make up`: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok, which plays the kubelet for a handful of
# fake nodes so pods are scheduled, become Running with IPs, and fill Endpoints as in a real
# cluster (no containers run). With REAL_NODES > 0, real nodes join too (scripts/cluster-nodes.sh:
# kubelet, containerd, runc, a CNI bridge, kube-proxy), whose pods really run; the API server
# then listens on that bridge's address, which pods can reach, instead of 127.0.0.1.
# Certificates and the service-account key are made here.
#
# Usage: scripts/cluster.sh up|down|status|apiserver-stop|apiserver-start
#   up     start everything (idempotent), wait until ready, write $STATE/kubeconfig
#   down   stop everything started by `up` and delete its data
#   apiserver-stop, apiserver-start   stop the API server of a running cluster, start it again
#          (the fault tests' outage)
# Nodes kwok-node-0..2 carry kube-system/es-master-node=true and 3..4 kube-system/es-data-node=true,
# as the field report labels them; any further node is left unlabelled, for scaling out.
# KWOK_MASTER_NODES and KWOK_DATA_NODES change those counts (benchmarks/scale.py: 3 and 400).
# Env: ES_CLUSTER_STATE (default: <repo>/.state), KWOK_NODES (default 6), REAL_NODES (default 0;
#      see scripts/cluster-nodes.sh), ES_CLUSTER_PORT_BASE (default 16440: apiserver on it, the
#      others just above).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ES_CLUSTER_STATE:-$REPO/.state}
DIR=$STATE/cluster
KUBECONFIG_OUT=$STATE/kubeconfig
NODES=${KWOK_NODES:-6}
MASTER_NODES=${KWOK_MASTER_NODES:-3}
DATA_NODES=${KWOK_DATA_NODES:-2}
BASE=${ES_CLUSTER_PORT_BASE:-16440}
API_PORT=$BASE
ETCD_PORT=$((BASE + 1))
ETCD_PEER_PORT=$((BASE + 2))
KCM_PORT=$((BASE + 3))
SCHED_PORT=$((BASE + 4))
KWOK_PORT=$((BASE + 5))
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kube-proxy coredns)

log() { echo "cluster: $*" >&2; }
# shellcheck source=scripts/cluster-nodes.sh
source "$REPO/scripts/cluster-nodes.sh"
# Where the API server listens: loopback, or the pods' gateway when real pods must reach it.
API_HOST=127.0.0.1
((REAL_NODES > 0)) && API_HOST=$GATEWAY

running() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

start() {
  local name=$1; shift
  if running "$name"; then return; fi
  log "starting $name"
  setsid "$@" >"$DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$DIR/$name.pid"
}

# wait_for WHAT SECONDS COMMAND...: poll until COMMAND succeeds, or fail showing the logs.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "timed out after ${secs}s waiting for $what; last log lines:"
      for c in "${COMPONENTS[@]}"; do [[ -f "$DIR/$c.log" ]] && { echo "--- $c" >&2; tail -n 15 "$DIR/$c.log" >&2; }; done
      for c in "$DIR"/nodes/*/kubelet.log "$DIR"/nodes/*/containerd.log "$DIR"/nodes/*/run-node.log; do
        [[ -f "$c" ]] && { echo "--- $c" >&2; tail -n 15 "$c" >&2; }
      done
      return 1
    fi
    sleep 1
  done
}

certs() {
  [[ -f "$DIR/pki/admin.crt" ]] && return
  log "generating certificates and the service-account key"
  local p=$DIR/pki
  mkdir -p "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=es-cluster-local-ca" \
    -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  # cert NAME SUBJECT [SAN]: a key and a certificate signed by the local CA.
  cert() {
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
    local ext=$p/$1.ext
    { echo "basicConstraints=CA:FALSE"; [[ -n "${3:-}" ]] && echo "subjectAltName=$3"; } >"$ext"
    openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 \
      -extfile "$ext" -out "$p/$1.crt" 2>/dev/null
  }
  cert apiserver "/CN=kube-apiserver" \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1,IP:$GATEWAY"
  cert admin "/O=system:masters/CN=es-cluster-admin"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
}

kubeconfig() {
  local p=$DIR/pki
  cat >"$KUBECONFIG_OUT" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: es-cluster-local
  cluster:
    server: https://$API_HOST:$API_PORT
    certificate-authority-data: $(base64 -w0 "$p/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 "$p/admin.crt")
    client-key-data: $(base64 -w0 "$p/admin.key")
contexts:
- name: es-cluster-local
  context: {cluster: es-cluster-local, user: admin}
current-context: es-cluster-local
EOF
}

api_ready() {
  curl -sf --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    "https://$API_HOST:$API_PORT/readyz" | grep -q ok
}

fake_nodes() {
  local i role
  for ((i = 0; i < NODES; i++)); do
    role=""
    ((i < MASTER_NODES)) && role=", kube-system/es-master-node: \"true\""
    ((i >= MASTER_NODES && i < MASTER_NODES + DATA_NODES)) && role=", kube-system/es-data-node: \"true\""
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok$role}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  done
}

# WatchList=false: etcd 3.4 (Debian's) cannot give the progress notifications a watch-list stream
# needs, so the API server ended every such watch of kwok's (client-go 0.36 asks for them first)
# with an error, and kwok saw pod changes only after re-listing, tens of seconds late: a 48-pod
# DaemonSet roll took about 40 s a pod. Without the feature, clients list and then watch.
start_apiserver() {
  local p=$DIR/pki reconciler=none
  ((REAL_NODES > 0)) && reconciler=lease  # the `kubernetes` Service's Endpoints, for real pods
  start kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$API_HOST" --advertise-address "$API_HOST" --secure-port "$API_PORT" \
    --kubelet-client-certificate "$p/admin.crt" --kubelet-client-key "$p/admin.key" --kubelet-preferred-address-types InternalIP \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode Node,RBAC --endpoint-reconciler-type "$reconciler" --feature-gates WatchList=false
  wait_for kube-apiserver 120 api_ready
}

# stop_component NAME: stop one component started by `up` (its whole process group).
stop_component() {
  local pid
  running "$1" || return 0
  pid=$(cat "$DIR/$1.pid")
  log "stopping $1"
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 -- "-$pid" 2>/dev/null || true
  rm -f "$DIR/$1.pid"
}

up() {
  local bin
  bin=$("$REPO/scripts/toolchain.sh")
  export PATH="$bin:$PATH"
  mkdir -p "$DIR"
  certs
  kubeconfig
  local p=$DIR/pki
  start etcd etcd --name es-cluster-local --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "es-cluster-local=http://127.0.0.1:$ETCD_PEER_PORT"
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
  nodes_net_up
  start_apiserver
  # kwok heartbeats a node every 20-45 s, later under load (500 nodes, benchmarks/scale.py); a
  # node past the default 50 s grace period went Unknown for a moment, which marked its pods not
  # ready for good (kwok does not make them ready again): hence 3 minutes. The controller
  # manager's and the scheduler's client rate limits (20 requests/s by default) are raised so
  # 400 DaemonSet pods are not queued behind them.
  start kube-controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG_OUT" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --use-service-account-credentials --controllers '*,-nodeipam,-cloud-node-lifecycle' \
    --node-monitor-grace-period 3m --kube-api-qps 200 --kube-api-burst 400
  start kube-scheduler kube-scheduler --kubeconfig "$KUBECONFIG_OUT" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false --kube-api-qps 200 --kube-api-burst 400
  if ((NODES > 0)); then
    start kwok kwok --kubeconfig "$KUBECONFIG_OUT" --server-address "127.0.0.1:$KWOK_PORT" --config "$bin/kwok-stages.yaml" \
      --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
      --cidr 10.244.0.0/16 --node-ip 127.0.0.1
    fake_nodes | kubectl --kubeconfig "$KUBECONFIG_OUT" apply -f - >/dev/null
    wait_for "$NODES ready kwok nodes" $((60 + NODES / 5)) bash -c \
      "[[ \$(kubectl --kubeconfig '$KUBECONFIG_OUT' get nodes -l type=kwok --no-headers | grep -cw Ready) -ge $NODES ]]"
  fi
  nodes_up "$bin"
  wait_for "the default service account" 60 kubectl --kubeconfig "$KUBECONFIG_OUT" get serviceaccount default
  log "ready: KUBECONFIG=$KUBECONFIG_OUT"
}

down() {
  local i
  nodes_down
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${COMPONENTS[$i]}"
  done
  rm -rf "$DIR" "$KUBECONFIG_OUT"
}

status() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "$c: running (pid $(cat "$DIR/$c.pid"))"; else echo "$c: stopped"; fi
  done
  for c in "$DIR"/node-*.pid; do
    [[ -f "$c" ]] && c=$(basename "$c" .pid) && if running "$c"; then echo "$c: running"; else echo "$c: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  # For the fault tests: an API server outage in a running cluster, and its return.
  apiserver-stop) stop_component kube-apiserver ;;
  apiserver-start) start_apiserver ;;
  *) echo "usage: $0 up|down|status|apiserver-stop|apiserver-start" >&2; exit 2 ;;
esac
