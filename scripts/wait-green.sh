#!/usr/bin/env bash
# After `make up`: waits until the deployed cluster's HTTP Service answers green, then prints the
# command that reaches it from this machine (the Service's cluster IP, through kube-proxy).
# A secured stack (it exports superuser and caCertificate) is asked over HTTPS: its CA is written
# to STATE_DIR/<stack>-ca.crt, the name checked is the Service's DNS name (one the node
# certificate carries, resolved to the cluster IP with --resolve), and the password is read from
# the stack's secret output into curl's stdin config, so it is never on a command line or in the
# log; the printed command has curl read it from `pulumi stack output --show-secrets`.
# Usage: scripts/wait-green.sh STACK [SECONDS]   (KUBECONFIG set, pulumi logged in; default 300 s;
#        STATE_DIR: where the CA goes, default .state)
set -euo pipefail
stack=$1 secs=${2:-300}
state=${STATE_DIR:-.state}
out() { pulumi stack output "$@" --stack "$stack"; }
ns=$(out namespace) svc=$(out httpService)
ip=$(kubectl get service "$svc" -n "$ns" -o jsonpath='{.spec.clusterIP}')
user=$(out superuser 2>/dev/null || true)
if [[ -n "$user" ]]; then
  mkdir -p "$state"
  ca=$state/$stack-ca.crt
  out caCertificate >"$ca"
  host=$svc.$ns.svc
  url="https://$host:9200/_cluster/health?pretty"
  # Read once, into this shell only: printf is a builtin, so it is on no command line.
  password=$(out elasticPassword --show-secrets)
  ask() { printf 'user = "%s:%s"\n' "$user" "$password" | curl -s --max-time 5 --config - --cacert "$ca" --resolve "$host:9200:$ip" "$url"; }
  shown="curl --cacert $ca --resolve $host:9200:$ip -u \"$user:\$(pulumi stack output --show-secrets elasticPassword --stack $stack)\" '$url'"
else
  url="http://$ip:9200/_cluster/health?pretty"
  ask() { curl -s --max-time 5 "$url"; }
  shown="curl '$url'"
fi
deadline=$((SECONDS + secs))
until ask | tr -d ' \n' | grep -q '"status":"green"'; do
  if ((SECONDS > deadline)); then
    echo "wait-green: $svc in $ns not green after ${secs}s; last answer: $(ask || echo none)" >&2
    kubectl get pods -n "$ns" -o wide >&2 || true
    exit 1
  fi
  sleep 2
done
echo "The cluster is green after $((SECONDS))s of waiting. From this machine:"
echo "  $shown"
