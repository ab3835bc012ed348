#!/usr/bin/env bash
# Builds, from Go modules through the Go module proxy, the pinned tools the tests and `make up`
# need, into a cache outside the repository, and reuses what is already there:
#   pulumi (CLI) + pulumi-language-python + the SDK's Python shims, pulumi-language-yaml, the kubernetes provider
#   plugin, the docker provider plugin (scripts/docker-bridge/), kube-apiserver / kube-controller-manager / kube-scheduler / kubectl, kwok,
#   CoreDNS; etcd comes from Debian (etcd-server).
#   The linters kube-score (Go) and checkov (PyPI, its own virtualenv). A binary already on PATH with the pinned version is used as it is.
#
# Usage: scripts/toolchain.sh            build what is missing, print the bin dir
#        scripts/toolchain.sh --env      print `export` lines for PATH and PULUMI_HOME
# Cache: $ES_CLUSTER_CACHE (default ~/.cache/es-cluster). Delete it to rebuild from scratch.
set -euo pipefail

# --- pins: keep in step with requirements.txt -----------------------------------------------
PULUMI_VERSION=v3.260.0          # = pulumi in requirements.txt
# The Python language host left the sdk/v3 module for a module of its own, which the Go module
# proxy here does not serve; v3.68.0 is the newest sdk/v3 that still holds it. Its main.go is
# built against the sdk/v3 of PULUMI_VERSION (today's protocol), with the edits in
# scripts/langhost/ (port.py: API renames; plugin_info.go: run the plugin the engine names, so
# policy packs and component packages start). It runs the SDK's own pulumi-language-python-exec.
LANGUAGE_HOST_SDK_VERSION=v3.68.0
LANGUAGE_HOST_STAMP="$LANGUAGE_HOST_SDK_VERSION+sdk-$PULUMI_VERSION+langhost-3"
K8S_PROVIDER_VERSION=4.25.0      # = pulumi-kubernetes in requirements.txt
# pulumi-kubernetes tags only the repository root, so its provider/ module is served only as
# this pseudo-version (the 4.25 development line). The version the engine sees is set below.
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
# The YAML language host, for the YAML consumer of the component package (examples/yaml-consumer).
# v1.32.0 is the newest the proxy serves here; it implements Link, which `pulumi package add` calls.
YAML_HOST_VERSION=v1.32.0
# The docker plugin pulumi-docker's SDK asks for (= pulumi-docker in requirements.txt), bridged
# from the docker Terraform provider by scripts/docker-bridge/: the commit of it the proxy serves
# (older ones are refused), the bridge, the bridge's fork of the plugin SDK (which the bridge
# requires but cannot pass on as a replace), and the plugin-go release that fork implements
# (the Terraform provider asks for v0.31, whose server interface the fork lacks).
DOCKER_PROVIDER_VERSION=5.2.0
TF_DOCKER_MODULE=github.com/kreuzwerker/terraform-provider-docker@v0.0.0-20260916201441-96d331c98ff4
TF_BRIDGE_VERSION=v3.120.0
TF_PLUGIN_SDK_FORK=github.com/pulumi/terraform-plugin-sdk/v2@v2.0.0-20250923233607-7f1981c8674a
TF_PLUGIN_GO_VERSION=v0.29.0
DOCKER_BRIDGE_STAMP="$DOCKER_PROVIDER_VERSION+${TF_DOCKER_MODULE#*@}+bridge-$TF_BRIDGE_VERSION+glue-$(sha256sum "$(dirname "$0")/docker-bridge/main.go" | cut -c1-12)"
KUBERNETES_VERSION=v1.35.4
KWOK_VERSION=v0.8.0
# Cluster DNS for the real nodes' pods (scripts/cluster-nodes.sh): the newest the proxy serves
# whose module builds as it is (package main at its root, no replace directives).
COREDNS_VERSION=v1.14.7
# The linters tests/e2e/test_linters.py runs on the rendered stacks: kube-score from its Go module,
# checkov from PyPI into a virtualenv of its own (its ~150 dependencies stay out of .venv).
KUBE_SCORE_VERSION=v1.20.0
CHECKOV_VERSION=3.3.30

CACHE=${ES_CLUSTER_CACHE:-$HOME/.cache/es-cluster}
BIN=$CACHE/bin
WORK=$CACHE/work
export PULUMI_HOME=${PULUMI_HOME:-$CACHE/pulumi-home}
# GOWORK=off: k8s.io/kubernetes ships a go.work naming its staging folders, which are not there.
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off
LDFLAGS_STRIP="-s -w"

if [[ "${1:-}" == "--env" ]]; then
  echo "export PATH=\"$BIN:\$PATH\""
  echo "export PULUMI_HOME=\"$PULUMI_HOME\""
  exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$BIN" "$WORK" "$PULUMI_HOME"
log() { echo "toolchain [+${SECONDS}s]: $*" >&2; }

# have NAME VERSION: true when NAME was built (or linked) at VERSION already.
have() { [[ -x "$BIN/$1" && "$(cat "$BIN/.$1.version" 2>/dev/null)" == "$2" ]]; }
stamp() { echo "$2" > "$BIN/.$1.version"; }

# use_path NAME VERSION VERSION_COMMAND...: link a matching binary already on PATH.
use_path() {
  local name=$1 version=$2; shift 2
  local found
  found=$(PATH=${PATH//$BIN:/} command -v "$name" 2>/dev/null) || return 1
  "$found" "$@" 2>/dev/null | grep -q -- "${version#v}" || return 1
  ln -sf "$found" "$BIN/$name" && stamp "$name" "$version"
  log "$name $version: using $found"
}

# module_copy MODULE@VERSION DEST: a writable copy of a downloaded module's source.
module_copy() {
  local dir
  dir=$(cd "$WORK" && go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')
  rm -rf "$2" && cp -r "$dir" "$2" && chmod -R u+w "$2"
}

build_pulumi() {
  have pulumi "$PULUMI_VERSION" || use_path pulumi "$PULUMI_VERSION" version || {
    log "building pulumi $PULUMI_VERSION"
    module_copy "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "$WORK/pulumi-pkg"
    # pkg/v3 replaces sdk/v3 with ../sdk (the repository's sibling folder), which a module
    # download does not have: require the published sdk/v3 of the same version instead.
    (cd "$WORK/pulumi-pkg" &&
      go mod edit -dropreplace github.com/pulumi/pulumi/sdk/v3 -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" &&
      go build -trimpath -o "$BIN/pulumi" \
        -ldflags "$LDFLAGS_STRIP -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" ./cmd/pulumi)
    stamp pulumi "$PULUMI_VERSION"
  }
  if ! have pulumi-language-python "$LANGUAGE_HOST_STAMP"; then
    log "building pulumi-language-python: the sdk/v3 $LANGUAGE_HOST_SDK_VERSION host on sdk/v3 $PULUMI_VERSION"
    module_copy "github.com/pulumi/pulumi/sdk/v3@$LANGUAGE_HOST_SDK_VERSION" "$WORK/pulumi-sdk-lh"
    local src="$WORK/pulumi-language-python" old="$WORK/pulumi-sdk-lh/python"
    rm -rf "$src" && mkdir -p "$src/cmd/pulumi-language-python" "$src/python"
    cp "$old/cmd/pulumi-language-python/main.go" "$HERE/langhost/plugin_info.go" "$src/cmd/pulumi-language-python/"
    cp "$old/python.go" "$old/shim_unix.go" "$src/python/"
    python3 "$HERE/langhost/port.py" "$src/cmd/pulumi-language-python/main.go" es-cluster.local/pulumi-language-python/python
    (cd "$src" && go mod init es-cluster.local/pulumi-language-python &&
      go mod edit -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" && go mod tidy &&
      go build -trimpath -ldflags "$LDFLAGS_STRIP" -o "$BIN/pulumi-language-python" ./cmd/pulumi-language-python)
    stamp pulumi-language-python "$LANGUAGE_HOST_STAMP"
  fi
  if ! have pulumi-language-python-exec "$PULUMI_VERSION"; then
    # The shims the language host and dynamic providers start: the SDK version's own.
    local sdk
    sdk=$(cd "$WORK" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$BIN/"
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$BIN/"
    stamp pulumi-language-python-exec "$PULUMI_VERSION"
  fi
}

build_yaml_host() {
  have pulumi-language-yaml "$YAML_HOST_VERSION" || {
    log "building pulumi-language-yaml $YAML_HOST_VERSION"
    (cd "$WORK" && GOBIN="$BIN" go install -trimpath \
      -ldflags "$LDFLAGS_STRIP -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$YAML_HOST_VERSION" \
      "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_HOST_VERSION")
    stamp pulumi-language-yaml "$YAML_HOST_VERSION"
  }
}

build_kubernetes_provider() {
  # Kept out of $BIN: on PATH, the engine would use it for any version ("ambient" plugin).
  local plugin_dir="$PULUMI_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_VERSION"
  [[ -x "$plugin_dir/pulumi-resource-kubernetes" ]] && return
  log "building pulumi-resource-kubernetes $K8S_PROVIDER_VERSION"
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  module_copy "$mod@$K8S_PROVIDER_MODULE_VERSION" "$WORK/k8s-provider"
  (cd "$WORK/k8s-provider" &&
    # provider/ replaces sdk/v4 with ../sdk; the published sdk/v4 it requires serves instead.
    go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 &&
    # The provider embeds its schema stamped with its version (what `make` does upstream).
    (cd cmd/pulumi-resource-kubernetes && VERSION=$K8S_PROVIDER_VERSION go run generate.go) &&
    go build -trimpath -o "$WORK/pulumi-resource-kubernetes" \
      -ldflags "$LDFLAGS_STRIP -X $mod/pkg/version.Version=$K8S_PROVIDER_VERSION" ./cmd/pulumi-resource-kubernetes)
  # Installed as the plugin of the pinned version, so the engine never tries to download it.
  "$BIN/pulumi" plugin install resource kubernetes "v$K8S_PROVIDER_VERSION" --file "$WORK/pulumi-resource-kubernetes" >&2
  rm -f "$WORK/pulumi-resource-kubernetes"
}

build_docker_provider() {
  # Kept out of $BIN for the same reason as the kubernetes plugin.
  local plugin_dir="$PULUMI_HOME/plugins/resource-docker-v$DOCKER_PROVIDER_VERSION"
  [[ -x "$plugin_dir/pulumi-resource-docker" && "$(cat "$plugin_dir/.es-cluster-stamp" 2>/dev/null)" == "$DOCKER_BRIDGE_STAMP" ]] && return
  log "building pulumi-resource-docker $DOCKER_PROVIDER_VERSION (bridge of the docker Terraform provider)"
  local tf src="$WORK/docker-bridge"
  tf=$(cd "$WORK" && go mod download -json "$TF_DOCKER_MODULE" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')
  rm -rf "$src" && mkdir -p "$src" && cp "$HERE/docker-bridge/main.go" "$src/"
  # The module path lies inside the Terraform provider's own (its go.mod names
  # github.com/terraform-providers/terraform-provider-docker), so internal/provider is importable.
  (cd "$src" && go mod init github.com/terraform-providers/terraform-provider-docker/es-cluster-bridge >/dev/null 2>&1 &&
    go mod edit -require "github.com/pulumi/pulumi-terraform-bridge/v3@$TF_BRIDGE_VERSION" \
      -require github.com/terraform-providers/terraform-provider-docker@v0.0.0 \
      -replace "github.com/terraform-providers/terraform-provider-docker=$tf" \
      -replace "github.com/hashicorp/terraform-plugin-sdk/v2=$TF_PLUGIN_SDK_FORK" \
      -replace "github.com/hashicorp/terraform-plugin-go=github.com/hashicorp/terraform-plugin-go@$TF_PLUGIN_GO_VERSION" &&
    go mod tidy &&
    go build -trimpath -ldflags "$LDFLAGS_STRIP -X main.version=$DOCKER_PROVIDER_VERSION" -o "$WORK/pulumi-resource-docker" .)
  "$BIN/pulumi" plugin install --reinstall resource docker "v$DOCKER_PROVIDER_VERSION" --file "$WORK/pulumi-resource-docker" >&2
  echo "$DOCKER_BRIDGE_STAMP" >"$plugin_dir/.es-cluster-stamp"
  rm -f "$WORK/pulumi-resource-docker"
}

build_control_plane() {
  local missing=() c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    have "$c" "$KUBERNETES_VERSION" || use_path "$c" "$KUBERNETES_VERSION" --version || missing+=("$c")
  done
  have kubectl "$KUBERNETES_VERSION" || use_path kubectl "$KUBERNETES_VERSION" version --client || missing+=(kubectl)
  if ((${#missing[@]})); then
    log "building ${missing[*]} $KUBERNETES_VERSION"
    module_copy "k8s.io/kubernetes@$KUBERNETES_VERSION" "$WORK/kubernetes"
    (cd "$WORK/kubernetes" &&
      # k8s.io/kubernetes replaces every k8s.io/* library with ./staging/src/..., folders that
      # the module download leaves out; point each at its published v0.x of the same release.
      go mod edit -json | python3 -c '
import json, sys
v = sys.argv[1].replace("v1.", "v0.", 1)
for r in json.load(sys.stdin).get("Replace") or []:
    old = r["Old"]["Path"]
    if r["New"]["Path"].startswith("./staging/"):
        print("-replace=" + old + "=" + old + "@" + v)
' "$KUBERNETES_VERSION" | xargs go mod edit &&
      # One go build for all of them: their shared packages compile once and the links run
      # side by side (-o names a folder, each binary is named after its cmd/ folder).
      go build -trimpath -o "$BIN/" \
        -ldflags "$LDFLAGS_STRIP -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION" \
        "${missing[@]/#/./cmd/}")
    for c in "${missing[@]}"; do stamp "$c" "$KUBERNETES_VERSION"; done
  fi
  if ! have kwok "$KWOK_VERSION" && ! use_path kwok "$KWOK_VERSION" --version; then
    log "building kwok $KWOK_VERSION"
    (cd "$WORK" && GOBIN="$BIN" go install -trimpath -ldflags "$LDFLAGS_STRIP -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
    stamp kwok "$KWOK_VERSION"
  fi
  if [[ "$(cat "$BIN/.kwok-stages.version" 2>/dev/null)" != "$KWOK_VERSION-prompt-delete-1s-jitter" ]]; then
    # kwok only acts through "stages"; these are the ones kwokctl uses by default: nodes become
    # Ready and keep a heartbeat, pods go Running and Ready with an IP, and are deleted. Two
    # changes. pod-delete waits a random part of the grace period (our 120 s), where a kubelet
    # finishes as soon as the container exits, so it is made prompt; rolling updates then take
    # seconds per pod instead of minutes. And pods are created and become ready after 1-2 s
    # instead of 1-6 s (jitter 1 s, not 5 s): a rolling update waits for each pod in turn, and the
    # wider jitter only made every rollout in the tests slower, without any test needing it.
    local src
    src=$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/kustomize/stage
    for f in node/fast/node-initialize node/heartbeat/node-heartbeat pod/general/pod-create pod/general/pod-ready \
             pod/general/pod-complete pod/general/pod-delete; do
      echo "---"; sed -e '/jitterDurationFrom:/{N;/deletionTimestamp/d}' -e 's/jitterDurationMilliseconds: 5000$/jitterDurationMilliseconds: 1000/' "$src/$f.yaml"
    done >"$BIN/kwok-stages.yaml"
    stamp kwok-stages "$KWOK_VERSION-prompt-delete-1s-jitter"
  fi
  if ! have coredns "$COREDNS_VERSION"; then
    log "building coredns $COREDNS_VERSION"
    (cd "$WORK" && GOBIN="$BIN" go install -trimpath -ldflags "$LDFLAGS_STRIP" "github.com/coredns/coredns@$COREDNS_VERSION")
    stamp coredns "$COREDNS_VERSION"
  fi
  if ! command -v etcd >/dev/null; then
    log "installing etcd from Debian"
    "$HERE/apt-install.sh" etcd-server
  fi
}

build_linters() {
  if ! have kube-score "$KUBE_SCORE_VERSION"; then
    log "building kube-score $KUBE_SCORE_VERSION"
    (cd "$WORK" && GOBIN="$BIN" go install -trimpath -ldflags "$LDFLAGS_STRIP" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION")
    stamp kube-score "$KUBE_SCORE_VERSION"
  fi
  if ! have checkov "$CHECKOV_VERSION"; then
    log "installing checkov $CHECKOV_VERSION into its own virtualenv"
    local venv="$CACHE/checkov"
    rm -rf "$venv" && python3 -m venv "$venv" &&
      "$venv/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
    ln -sf "$venv/bin/checkov" "$BIN/checkov"
    stamp checkov "$CHECKOV_VERSION"
  fi
}

[[ -f "$WORK/go.mod" ]] || (cd "$WORK" && go mod init es-cluster-toolchain >/dev/null 2>&1)
# One after another. Two lanes side by side (CLI side, cluster side) were tried and measured: the
# cold build took 1550 s against 1237 s in sequence, as it is CPU-bound on two cores.
build_pulumi
build_yaml_host
build_kubernetes_provider
build_docker_provider
build_control_plane
build_linters
log "done"
echo "$BIN"
