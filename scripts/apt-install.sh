#!/usr/bin/env bash
# Installs Debian packages (as root) without letting their maintainer scripts start services:
# etcd-server, docker.io and docker-registry would, and the project starts its own on loopback.
# Usage: scripts/apt-install.sh PACKAGE...   (runs `apt-get update` only if the install fails)
set -euo pipefail
(($#)) || exit 0
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt_install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
apt_install "$@" 2>/dev/null || { apt-get update -qq && apt_install "$@"; }
