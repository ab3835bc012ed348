#!/usr/bin/env bash
# Builds es-cluster's stand-in for the field report's base image (pires 2.3.4), which cannot be
# pulled here, into the Docker engine of scripts/docker.sh, and prints its reference:
#   1. a Debian 12 rootfs with openjdk-17-jre-headless (debootstrap), cached as a tarball in
#      $ES_CLUSTER_CACHE/base and imported with `docker import`;
#   2. Elasticsearch 2.3.4 from Maven Central, our plugin (plugins/k8s-discovery, built with
#      Maven) and scripts/base-image/run.sh, layered by `docker build` (cached by the engine).
# The JVM is pointed at /usr/lib/jvm/default-jvm/jre/lib/security/java.policy (Java 9+ would
# read conf/security/), so the file image/Dockerfile writes is the policy in force.
# Usage: scripts/base-image.sh   (DOCKER_HOST from scripts/docker.sh env; idempotent). Prints
# es-cluster/base:2.3.4-<hash of its inputs>, and tags it es-cluster/base:2.3.4 too.
#        scripts/base-image.sh --prefetch   only what needs no Docker engine: the rootfs tarball
# and Maven's downloads and plugin build (.ci/run runs it beside the toolchain's cold build).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ES_CLUSTER_CACHE:-$HOME/.cache/es-cluster}/base
ES_VERSION=2.3.4
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when the rootfs recipe below changes: it names the cached tarball.
OS_RECIPE=1
OS_TAR=$CACHE/debian-$SUITE-jre17-r$OS_RECIPE.tar
OS_IMAGE=es-cluster/os:$SUITE-jre17-r$OS_RECIPE
STABLE_REF=es-cluster/base:$ES_VERSION
log() { echo "base-image: $*" >&2; }
mkdir -p "$CACHE"

os_rootfs() {
  [[ -f "$OS_TAR" ]] && return
  command -v debootstrap >/dev/null || "$REPO/scripts/apt-install.sh" debootstrap
  local root
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  log "debootstrap $SUITE with openjdk-17-jre-headless (once; cached in $OS_TAR)"
  # A failure leaves $root for a look; the next run starts a fresh one.
  debootstrap --variant=minbase --include=openjdk-17-jre-headless "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log" >&2; return 1; }
  local jdk=/usr/lib/jvm/java-17-openjdk-amd64
  [[ -x "$root$jdk/bin/java" ]] || { log "no java in the rootfs"; return 1; }
  # The pires layout: /usr/lib/jvm/default-jvm, with the policy under jre/lib/security/.
  ln -sfn java-17-openjdk-amd64 "$root/usr/lib/jvm/default-jvm"
  mkdir -p "$root$jdk/jre/lib/security"
  cp "$root/etc/java-17-openjdk/security/java.policy" "$root$jdk/jre/lib/security/java.policy"
  # The user ES runs as (2.x refuses root), and its data folder: made here so that the
  # docker build needs no RUN step (the engine has no network for build containers).
  chroot "$root" useradd --system --uid 1000 --user-group --home-dir /elasticsearch --shell /usr/sbin/nologin elasticsearch
  install -d -o 1000 -g 1000 "$root/data"
  sed -i 's|^policy.url.1=.*|policy.url.1=file:/usr/lib/jvm/default-jvm/jre/lib/security/java.policy|' \
    "$root/etc/java-17-openjdk/security/java.security"
  grep -q '^policy.url.1=file:/usr/lib/jvm/default-jvm/jre/lib/security/java.policy$' "$root/etc/java-17-openjdk/security/java.security"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -cf "$OS_TAR.tmp" . && mv "$OS_TAR.tmp" "$OS_TAR"
  rm -rf "$root"
}

# maven_context DIR: Elasticsearch from Maven Central (the same artifact the ES tests use) into
# DIR, and our plugin built. stdout stays the image reference alone: Maven's output goes to a
# log, shown on failure.
maven_context() {
  (cd "$REPO/plugins/k8s-discovery" &&
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="org.elasticsearch.distribution.tar:elasticsearch:$ES_VERSION:tar.gz" \
      -DoutputDirectory="$1" -Dmdep.useBaseVersion=true &&
    mvn -q -B -Dstyle.color=never package -DskipTests) >"$1.maven.log" 2>&1 || { cat "$1.maven.log" >&2; return 1; }
}

main() {
  command -v mvn >/dev/null && [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/javac ]] ||
    "$REPO/scripts/apt-install.sh" maven openjdk-17-jdk-headless
  os_rootfs
  if [[ "${1:-}" == "--prefetch" ]]; then
    local scratch
    scratch=$(mktemp -d "$CACHE/prefetch.XXXXXX")
    maven_context "$scratch"
    rm -rf "$scratch" "$scratch.maven.log"
    log "prefetched: the rootfs tarball and Maven's downloads"
    return
  fi
  if ! docker image inspect "$OS_IMAGE" >/dev/null 2>&1; then
    log "importing $OS_IMAGE"
    docker import "$OS_TAR" "$OS_IMAGE" >/dev/null
  fi
  local ctx=$CACHE/context
  rm -rf "$ctx" && mkdir -p "$ctx/k8s-discovery"
  maven_context "$ctx"
  tar -C "$ctx" -xzf "$ctx/elasticsearch-$ES_VERSION.tar.gz" && mv "$ctx/elasticsearch-$ES_VERSION" "$ctx/elasticsearch"
  rm "$ctx/elasticsearch-$ES_VERSION.tar.gz"
  cp "$REPO/plugins/k8s-discovery/target/k8s-discovery.jar" "$REPO"/plugins/k8s-discovery/src/main/plugin-metadata/* "$ctx/k8s-discovery/"
  cp "$REPO/scripts/base-image/Dockerfile" "$REPO/scripts/base-image/run.sh" "$ctx/"
  # The tag is a hash of what goes in, so a changed plugin or script gives a new base.
  local sum
  sum=$(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  local ref=es-cluster/base:$ES_VERSION-$sum
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    log "building $ref"
    docker build -q --build-arg OS_IMAGE="$OS_IMAGE" -t "$ref" "$ctx" >"$CACHE/build.log" 2>&1 || { cat "$CACHE/build.log" >&2; return 1; }
  fi
  # The name the local stack builds on (Pulumi.local.yaml image.baseImage): always the newest.
  docker tag "$ref" "$STABLE_REF"
  echo "$ref"
}
main "$@"
