#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages that building, the demo and the tests
# need. Runs apt-get only when something is missing, so a second run is
# fast. Needs root (or sudo) when it has anything to install.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libssl-dev libsqlite3-dev libjansson-dev libssh2-1-dev libcurl4-openssl-dev
  openssl libssl-doc openssh-client sqlite3 jq bsdutils util-linux xxd
  clang libclang-rt-14-dev
  clang-tidy cppcheck
  iproute2 xxd
  python3 python3-cryptography
  openssh-server opensc gnutls-bin p11-kit p11-kit-modules softhsm2 strace
  groff-base libp11-kit-dev
  valgrind
)
backported=(pkcs11-provider)

# pkcs11-provider (OpenSSL's PKCS#11 provider) is in bookworm-backports:
# add that suite beside the Debian entry the machine already has.
backports=/etc/apt/sources.list.d/secretref-backports.sources
need_backports=0
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  need_backports=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
missing_bp=()
for p in "${backported[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing_bp+=("$p")
done
[ ${#missing[@]} -eq 0 ] && [ ${#missing_bp[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if [ ${#missing_bp[@]} -gt 0 ] && [ "$need_backports" = 1 ]; then
  # The same mirror and keyring as the machine's own Debian entry.
  uri=$(grep -rhs -m1 -E '^URIs:.*debian/?$' /etc/apt/sources.list.d/*.sources | awk '{print $2}')
  [ -n "$uri" ] || uri=$(grep -hs -m1 -E '^deb .*debian/? bookworm' /etc/apt/sources.list | awk '{print $2}')
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" | "${sudo[@]}" tee "$backports" >/dev/null
fi
echo "deps: installing ${missing[*]} ${missing_bp[*]}" >&2
"${sudo[@]}" apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [ ${#missing_bp[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports "${missing_bp[@]}" >/dev/null
fi
