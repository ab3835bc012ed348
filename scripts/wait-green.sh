#!/usr/bin/env bash
# After `make up`: waits until the deployed cluster's HTTP Service answers green, then prints the
# command that reaches it from this machine (the Service's cluster IP, through kube-proxy).
# Usage: scripts/wait-green.sh NAMESPACE SERVICE [SECONDS]   (KUBECONFIG set; default 300 s)
set -euo pipefail
ns=$1 svc=$2 secs=${3:-300}
ip=$(kubectl get service "$svc" -n "$ns" -o jsonpath='{.spec.clusterIP}')
url="http://$ip:9200/_cluster/health?pretty"
deadline=$((SECONDS + secs))
until curl -sf --max-time 5 "http://$ip:9200/_cluster/health" | grep -q '"status":"green"'; do
  if ((SECONDS > deadline)); then
    echo "wait-green: $svc in $ns not green after ${secs}s; last answer: $(curl -s --max-time 5 "$url" || echo none)" >&2
    kubectl get pods -n "$ns" -o wide >&2 || true
    exit 1
  fi
  sleep 2
done
echo "The cluster is green after $((SECONDS))s of waiting. From this machine:"
echo "  curl '$url'"
