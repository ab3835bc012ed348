#!/usr/bin/env bash
# One real node, run by scripts/cluster-nodes.sh inside a mount namespace of its own
# (unshare --mount): the node's private folders are bound over the host paths its pods mount
# (so hostPath volumes are per node, as on separate machines), then its containerd and kubelet
# start; when either exits, the node stops. Usage: run-node.sh NODE_DIR
set -euo pipefail
D=$1
# Which mount namespace is the node's: `cluster.sh down` kills every process in it.
readlink /proc/self/ns/mnt >"$D/mntns"
while read -r src dst; do
  [[ -n "$src" ]] || continue
  mount --bind "$src" "$dst"
done <"$D/binds"
containerd --config "$D/containerd.toml" >"$D/containerd.log" 2>&1 &
for _ in $(seq 60); do [[ -S "$D/containerd.sock" ]] && break; sleep 0.5; done
ctr -a "$D/containerd.sock" -n k8s.io images import "$D/../pause.tar" >>"$D/containerd.log" 2>&1
kubelet --config "$D/kubelet.yaml" --kubeconfig "$D/kubeconfig" --root-dir "$D/kubelet" --cert-dir "$D/kubelet-pki" \
  --hostname-override "$(cat "$D/name")" --node-ip "$(cat "$D/ip")" >"$D/kubelet.log" 2>&1 &
wait -n
echo "run-node: containerd or kubelet exited; stopping the node" >&2
