#!/usr/bin/env bash
# A Docker engine and an image registry for building and pushing the patched image on a
# machine without either (as root): Debian's dockerd on its own socket, with no bridge and no
# iptables rules (builds only COPY files, so they need no network), and Debian's
# docker-registry on 127.0.0.1. An engine already answering on DOCKER_HOST is used as it is.
#
# Usage: scripts/docker.sh up|down|env
#   up     start what is not running (idempotent) and wait for it
#   down   stop what `up` started
#   env    print the DOCKER_HOST line to eval
# Env: ES_CLUSTER_STATE (default <repo>/.state), ES_CLUSTER_REGISTRY_PORT (default 5000).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ES_CLUSTER_STATE:-$REPO/.state}
DIR=$STATE/docker
SOCK=/run/es-cluster-docker.sock
REGISTRY_PORT=${ES_CLUSTER_REGISTRY_PORT:-5000}
export DOCKER_HOST=${DOCKER_HOST:-unix://$SOCK}

log() { echo "docker: $*" >&2; }
running() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "timed out waiting for $what"; tail -n 20 "$DIR"/*.log >&2 || true; return 1
    fi
    sleep 1
  done
}

install_missing() {
  local pkgs=()
  command -v dockerd >/dev/null || pkgs+=(docker.io)
  command -v docker-registry >/dev/null || pkgs+=(docker-registry)
  ((${#pkgs[@]})) || return 0
  log "installing ${pkgs[*]} from Debian"
  "$REPO/scripts/apt-install.sh" "${pkgs[@]}"
}

engine_up() { docker info >/dev/null 2>&1; }
registry_up() { curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null; }

up() {
  mkdir -p "$DIR"
  install_missing
  if ! engine_up; then
    [[ "$DOCKER_HOST" == "unix://$SOCK" ]] || { log "DOCKER_HOST=$DOCKER_HOST does not answer"; return 1; }
    log "starting dockerd on $SOCK"
    setsid dockerd -H "unix://$SOCK" --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
      --data-root /var/lib/es-cluster-docker --exec-root /run/es-cluster-docker \
      --pidfile "$DIR/dockerd.pid" >"$DIR/dockerd.log" 2>&1 </dev/null &
    wait_for dockerd 60 engine_up
  fi
  if ! registry_up; then
    log "starting the registry on 127.0.0.1:$REGISTRY_PORT"
    cat >"$DIR/registry.yml" <<EOF
version: 0.1
storage:
  filesystem: {rootdirectory: $DIR/registry}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
    setsid docker-registry serve "$DIR/registry.yml" >"$DIR/registry.log" 2>&1 </dev/null &
    echo $! >"$DIR/registry.pid"
    wait_for registry 30 registry_up
  fi
  log "ready: DOCKER_HOST=$DOCKER_HOST, registry 127.0.0.1:$REGISTRY_PORT"
}

down() {
  local c pid
  for c in registry dockerd; do
    if running "$c"; then
      pid=$(cat "$DIR/$c.pid")
      log "stopping $c"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export DOCKER_HOST=\"$DOCKER_HOST\"" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
