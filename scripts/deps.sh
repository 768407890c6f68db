#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages that building, the demo and the tests
# need. Runs apt-get only when something is missing, so a second run is
# fast. Needs root (or sudo) when it has anything to install.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libssl-dev libsqlite3-dev libjansson-dev
  openssl libssl-doc openssh-client sqlite3 jq bsdutils util-linux xxd
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
