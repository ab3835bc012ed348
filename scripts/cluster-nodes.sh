# Real Kubernetes nodes beside kwok's, sourced by scripts/cluster.sh (uses its STATE, DIR, BASE,
# log, start, running, wait_for). Each node is Debian's containerd and runc plus a kubelet built
# from k8s.io/kubernetes, in a mount namespace of its own, with its own root, state, socket,
# cgroup root and IP; pods get addresses from the CNI bridge and host-local plugins on a bridge
# this script creates. One kube-proxy serves the machine's one network namespace, so Services,
# and the `kubernetes` Service pods use to reach the API server, work. CoreDNS on the bridge's
# gateway is the pods' cluster DNS: Service and pod names under cluster.local from the API
# server, and nothing else (no forward plugin: every other name is refused). Nothing leaves the
# machine: forwarding is allowed only bridge to bridge, no DNS query is passed on, and a Service
# IP that kube-proxy did not translate is rejected.
#
# Env: REAL_NODES (default 0), ES_CLUSTER_POD_NET (first two octets of the pods' /16, default
# 10.89), REAL_NODE_TAINT=1 to taint the real nodes (es-cluster.io/real-node) and label them with
# es-cluster.io/es-master-node and es-data-node instead of the field report's kube-system/ keys (the
# e2e suite, whose kwok nodes carry those).

REAL_NODES=${REAL_NODES:-0}
POD_NET=${ES_CLUSTER_POD_NET:-10.89}
POD_CIDR=$POD_NET.0.0/16
SERVICE_CIDR=10.96.0.0/16
BRIDGE=esbr$BASE
GATEWAY=$POD_NET.0.1
NODES_DIR=$DIR/nodes
FW_CHAIN=ES-CLUSTER-$BASE
# Host paths the local stack's pods mount (hostPath storage, the kubelet's kubeconfig): bound per
# node to a folder of the node's own, so each real node has its own, as separate machines would.
NODE_PRIVATE_PATHS=(/tenxcloud /srv/kubernetes)
CGROUP_CONTROLLERS=(cpu cpuacct cpuset memory devices freezer blkio pids systemd hugetlb net_cls net_prio perf_event)

node_ip() { echo "$POD_NET.0.$((10 + $1))"; }
node_name() { echo "es-node-$1"; }

# Bridge, node addresses, forwarding and its guard. Before the API server: it listens on $GATEWAY.
nodes_net_up() {
  ((REAL_NODES > 0)) || return 0
  # kube-proxy rewrites the machine's KUBE-* iptables chains whole: two of them would undo each
  # other's Services. One cluster with real nodes at a time.
  local other
  other=$(pgrep -a kube-proxy | grep -v -- "--kubeconfig $KUBECONFIG_OUT " || true)
  if [[ -n "$other" ]]; then
    log "another cluster with real nodes is running (kube-proxy: ${other%% *}); stop it first (make cluster-down)"
    return 1
  fi
  local pkgs=()
  command -v containerd >/dev/null || pkgs+=(containerd)
  command -v runc >/dev/null || pkgs+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || pkgs+=(containernetworking-plugins)
  command -v iptables >/dev/null || pkgs+=(iptables)
  command -v conntrack >/dev/null || pkgs+=(conntrack)
  command -v gcc >/dev/null && [[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || pkgs+=(gcc libc6-dev)
  if ((${#pkgs[@]})); then
    log "installing ${pkgs[*]} from Debian"
    "$REPO/scripts/apt-install.sh" "${pkgs[@]}"
  fi
  mkdir -p "$NODES_DIR"
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  local i addr
  for addr in "$GATEWAY" $(for ((i = 0; i < REAL_NODES; i++)); do node_ip "$i"; done); do
    ip -4 addr show dev "$BRIDGE" | grep -qw "$addr" || ip addr add "$addr/16" dev "$BRIDGE"
  done
  ip link set "$BRIDGE" up
  local s
  for s in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    [[ -f "$NODES_DIR/sysctl.$s" ]] || sysctl -n "$s" >"$NODES_DIR/sysctl.$s"
    sysctl -qw "$s=1"
  done
  # Elasticsearch 7+ and OpenSearch refuse to start in production mode below vm.max_map_count
  # 262144 (a bootstrap check). The setting is host-wide, not per network namespace: what the
  # admin of every real node sets, here for this machine's nodes; restored at down.
  [[ -f "$NODES_DIR/sysctl.vm.max_map_count" ]] || sysctl -n vm.max_map_count >"$NODES_DIR/sysctl.vm.max_map_count"
  (($(sysctl -n vm.max_map_count) >= 262144)) || sysctl -qw vm.max_map_count=262144
  iptables -N "$FW_CHAIN" 2>/dev/null || iptables -F "$FW_CHAIN"
  iptables -A "$FW_CHAIN" -d "$SERVICE_CIDR" -j REJECT      # a Service IP kube-proxy did not translate
  iptables -A "$FW_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j RETURN  # pod to pod, and pod to Service to pod
  iptables -A "$FW_CHAIN" -i "$BRIDGE" -j DROP               # pods reach nothing off the machine
  iptables -A "$FW_CHAIN" -o "$BRIDGE" -j DROP               # and nothing from outside reaches them
  iptables -C FORWARD -j "$FW_CHAIN" 2>/dev/null || iptables -I FORWARD 1 -j "$FW_CHAIN"
  iptables -N "$FW_CHAIN-OUT" 2>/dev/null || iptables -F "$FW_CHAIN-OUT"
  iptables -A "$FW_CHAIN-OUT" -d "$SERVICE_CIDR" -j REJECT
  iptables -C OUTPUT -j "$FW_CHAIN-OUT" 2>/dev/null || iptables -I OUTPUT 1 -j "$FW_CHAIN-OUT"
  # The nodes' own resolver, which pods of dnsPolicy Default get: none. Pods of ClusterFirst (the
  # default) get CoreDNS (cluster_dns), which passes no query on.
  printf '# es-cluster real nodes: no upstream DNS server, so no pod lookup leaves the machine.\noptions ndots:1\n' >"$NODES_DIR/resolv.conf"
}

node_files() {
  local i=$1
  local d=$NODES_DIR/$i name ip
  name=$(node_name "$i") ip=$(node_ip "$i")
  mkdir -p "$d"/{kubelet,kubelet-pki,pod-logs,ipam,cni,containerd/root,containerd/state,opt}
  echo "$name" >"$d/name"
  echo "$ip" >"$d/ip"
  local p=$DIR/pki
  if [[ ! -f "$d/node.crt" ]]; then
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:nodes/CN=system:node:$name" -keyout "$d/node.key" -out "$d/node.csr" 2>/dev/null
    openssl x509 -req -in "$d/node.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 -out "$d/node.crt" 2>/dev/null
  fi
  # The kubelet's kubeconfig, also what the field report mounts into ES pods (/srv/kubernetes/kubeconfig).
  local priv
  : >"$d/binds"
  for priv in "${NODE_PRIVATE_PATHS[@]}"; do
    mkdir -p "$d/host$priv"
    if [[ ! -e "$priv" ]]; then mkdir -p "$priv" && echo "$priv" >>"$NODES_DIR/made-mountpoints"; fi
    echo "$d/host$priv $priv" >>"$d/binds"
  done
  cat >"$d/host/srv/kubernetes/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://$GATEWAY:$API_PORT", certificate-authority-data: $(base64 -w0 "$p/ca.crt")}
users:
- name: $name
  user: {client-certificate-data: $(base64 -w0 "$d/node.crt"), client-key-data: $(base64 -w0 "$d/node.key")}
contexts:
- name: local
  context: {cluster: local, user: $name}
current-context: local
KUBECONFIG
  cp "$d/host/srv/kubernetes/kubeconfig" "$d/kubeconfig"
  cat >"$d/cni/10-es.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "es-$BASE-$i", "plugins": [{"type": "bridge", "bridge": "$BRIDGE", "isGateway": true,
 "ipMasq": false, "hairpinMode": true, "ipam": {"type": "host-local", "dataDir": "$d/ipam",
 "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "$POD_NET.$((i + 1)).2", "rangeEnd": "$POD_NET.$((i + 1)).250", "gateway": "$GATEWAY"}]],
 "routes": [{"dst": "0.0.0.0/0"}]}}]}
CNI
  cat >"$d/containerd.toml" <<TOML
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "es-cluster.local/pause:1"
  # These machines do not grant CAP_SYS_RESOURCE: runc cannot lower oom_score_adj for sandboxes.
  restrict_oom_score_adj = true
  disable_apparmor = true
  # Pin pod network namespaces under the node's state folder, which down deletes, not in the
  # machine's /run/netns (where a pod killed at down would leave its pin file behind).
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:${ES_CLUSTER_REGISTRY_PORT:-5000}"]
    endpoint = ["http://127.0.0.1:${ES_CLUSTER_REGISTRY_PORT:-5000}"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."127.0.0.1:${ES_CLUSTER_REGISTRY_PORT:-5000}"]
    endpoint = ["http://127.0.0.1:${ES_CLUSTER_REGISTRY_PORT:-5000}"]
TOML
  local taints=""
  [[ -n "${REAL_NODE_TAINT:-}" ]] && taints='registerWithTaints: [{key: es-cluster.io/real-node, value: "true", effect: NoSchedule}]'
  # The nodes share this machine's disk, so the kubelet's image GC (from 85% used) can free
  # nothing of use, and it deletes the pause image, which was imported (it cannot be pulled
  # back) and which containerd 1.6 does not pin: image GC is off (high threshold 100).
  cat >"$d/kubelet.yaml" <<KUBELET
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: $ip
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /es-$BASE-node-$i
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$d/containerd.sock
podLogsDir: $d/pod-logs
resolvConf: $NODES_DIR/resolv.conf
clusterDomain: cluster.local
clusterDNS: [$GATEWAY]
maxPods: 30
serializeImagePulls: false
evictionHard: {memory.available: 100Mi, nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
$taints
KUBELET
  # The kubelet checks that its cgroup root exists; cpuset children need cpus and mems set.
  local c
  for c in "${CGROUP_CONTROLLERS[@]}"; do
    [[ -d /sys/fs/cgroup/$c ]] || continue
    mkdir -p "/sys/fs/cgroup/$c/es-$BASE-node-$i"
  done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/es-$BASE-node-$i/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/es-$BASE-node-$i/cpuset.mems"
}

nodes_up() {
  ((REAL_NODES > 0)) || return 0
  local bin=$1 i
  mkdir -p "$NODES_DIR"
  echo "$bin" >"$NODES_DIR/bin"
  if [[ ! -f "$NODES_DIR/pause.tar" ]]; then
    gcc -static -Os -o "$NODES_DIR/pause" "$REPO/scripts/node/pause.c"
    python3 "$REPO/scripts/node/oci_image.py" "$NODES_DIR/pause" es-cluster.local/pause:1 "$NODES_DIR/pause.tar"
  fi
  for ((i = 0; i < REAL_NODES; i++)); do
    node_files "$i"
    if ! running "node-$i"; then
      log "starting real node $(node_name "$i") ($(node_ip "$i"))"
      PATH="$bin:$PATH" setsid unshare --mount --propagation private "$REPO/scripts/node/run-node.sh" "$NODES_DIR/$i" \
        >"$NODES_DIR/$i/run-node.log" 2>&1 </dev/null &
      echo $! >"$DIR/node-$i.pid"
    fi
  done
  start kube-proxy kube-proxy --kubeconfig "$KUBECONFIG_OUT" --hostname-override "$(node_name 0)" --proxy-mode iptables \
    --cluster-cidr "$POD_CIDR" --nodeport-addresses "$POD_CIDR" --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --healthz-bind-address "127.0.0.1:$((BASE + 6))" --metrics-bind-address "127.0.0.1:$((BASE + 7))"
  # NetworkPolicies, ingress, enforced on the bridge's traffic by our own enforcer (the Go proxy's
  # kube-network-policies needs a kernel feature these machines lack: scripts/netpol/enforcer.py).
  start netpol python3 "$REPO/scripts/netpol/enforcer.py" --kubeconfig "$KUBECONFIG_OUT" --kubectl "$bin/kubectl"
  cluster_dns "$bin"
  local k="kubectl --kubeconfig $KUBECONFIG_OUT"
  wait_for "$REAL_NODES real nodes Ready" 180 bash -c \
    "[[ \$($k get nodes -l '!type' --no-headers 2>/dev/null | grep -cw Ready) -ge $REAL_NODES ]]"
  for ((i = 0; i < REAL_NODES; i++)); do
    # The field report's layout: every real node a master node, all but the first a data node.
    # Tainted, the same under es-cluster.io/, so only pods that ask for real nodes land there.
    local prefix=kube-system
    [[ -n "${REAL_NODE_TAINT:-}" ]] && prefix=es-cluster.io
    $k label node --overwrite "$(node_name "$i")" es-cluster.io/real-node=true "$prefix/es-master-node=true" >/dev/null
    ((i == 0)) || $k label node --overwrite "$(node_name "$i")" "$prefix/es-data-node=true" >/dev/null
  done
}

# CoreDNS on the gateway, port 53: the kubernetes plugin reads Services, EndpointSlices and pods
# through the admin kubeconfig (outside the cluster, as the plugin allows); only cluster.local and
# the reverse zones are served. A query for any other name finds no server block and is refused.
cluster_dns() {
  cat >"$DIR/Corefile" <<COREFILE
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $GATEWAY
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_OUT
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
COREFILE
  start coredns "$1/coredns" -conf "$DIR/Corefile"
  wait_for "CoreDNS on $GATEWAY:53" 60 bash -c "exec 3<>/dev/tcp/$GATEWAY/53"
}

# Kill every process in node $1's mount namespace (kubelet, containerd, shims, containers).
node_kill() {
  local ns=$1 p
  # Never the host's own namespace (a node whose unshare failed would have recorded it).
  [[ "$ns" != "$(readlink /proc/self/ns/mnt)" ]] || { log "node namespace is the host's; not killing by it"; return 1; }
  for _ in $(seq 20); do
    local left=0
    for p in /proc/[0-9]*; do
      [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$ns" ]] || continue
      kill -9 "${p#/proc/}" 2>/dev/null && left=1
    done
    ((left)) || return 0
    sleep 0.5
  done
}

# Kill every process in the nodes' cgroup trees: the containers, which have mount namespaces
# of their own.
cgroup_kill() {
  local pids
  for _ in $(seq 20); do
    pids=$(cat /sys/fs/cgroup/memory/es-"$BASE"-node-*/**/cgroup.procs /sys/fs/cgroup/memory/es-"$BASE"-node-*/cgroup.procs 2>/dev/null | sort -u)
    [[ -n "$pids" ]] || return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.5
  done
}

nodes_down() {
  [[ -d "$NODES_DIR" ]] || return 0
  local f
  # By the namespace each node recorded, so a node whose supervisor died is stopped too; the
  # kubelet first, so it restarts nothing; then the containers by cgroup.
  for f in "$NODES_DIR"/*/mntns; do
    [[ -f "$f" ]] && node_kill "$(cat "$f")"
  done
  shopt -s globstar
  cgroup_kill
  rm -f "$DIR"/node-*.pid
  if running kube-proxy; then kill "$(cat "$DIR/kube-proxy.pid")" 2>/dev/null || true; fi
  stop_component netpol
  python3 "$REPO/scripts/netpol/enforcer.py" --cleanup || true
  if running coredns; then kill "$(cat "$DIR/coredns.pid")" 2>/dev/null || true; rm -f "$DIR/coredns.pid"; fi
  # kube-proxy's own iptables rules (its chains only).
  [[ -x "$(cat "$NODES_DIR/bin" 2>/dev/null)/kube-proxy" ]] && "$(cat "$NODES_DIR/bin")/kube-proxy" --cleanup >/dev/null 2>&1 || true
  local c d
  for c in /sys/fs/cgroup/*/; do
    for d in "$c"es-"$BASE"-node-*; do
      [[ -d "$d" ]] || continue
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done
  # The kubelet's own chains, IPv4 and IPv6 (canary, hint, and the firewall rule guarding 127.0.0.0/8).
  local t ipt
  for ipt in iptables ip6tables; do
    for t in filter nat mangle; do
      "$ipt" -t "$t" -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
      "$ipt" -t "$t" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
      for c in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -t "$t" -F "$c" 2>/dev/null && "$ipt" -t "$t" -X "$c" 2>/dev/null || true
      done
    done
  done
  iptables -D FORWARD -j "$FW_CHAIN" 2>/dev/null || true
  iptables -D OUTPUT -j "$FW_CHAIN-OUT" 2>/dev/null || true
  for c in "$FW_CHAIN" "$FW_CHAIN-OUT"; do iptables -F "$c" 2>/dev/null && iptables -X "$c" 2>/dev/null || true; done
  # The pods' veths go with their network namespaces, but the kernel frees those late:
  # delete them now, so nothing of ours outlives down.
  local v
  for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$v" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  local s
  for s in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.max_map_count; do
    [[ -f "$NODES_DIR/sysctl.$s" ]] && sysctl -qw "$s=$(cat "$NODES_DIR/sysctl.$s")"
  done
  if [[ -f "$NODES_DIR/made-mountpoints" ]]; then
    while read -r d; do rmdir "$d" 2>/dev/null || true; done <"$NODES_DIR/made-mountpoints"
  fi
  rm -rf "$NODES_DIR"
}
