#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, end to end, on the embedded SQLite store: builds secretref,
# creates a store in a temporary folder, adds a reference of every kind,
# lists and shows them, exports the configuration, and shows that no secret
# is in the export or in clear in the store.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

"$src/scripts/deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
secretref=$src/build/bin/secretref

demo=$(mktemp -d /tmp/secretref-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
export SECRETREF_STORE=$demo/store/store.db SECRETREF_KEY_FILE=$demo/keys/master.key
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "a new store, sealed with a key file (mode 0600)"
show "$secretref" init
ls -l "$SECRETREF_STORE" "$SECRETREF_KEY_FILE"

step "a manual secret: read from standard input, never from the command line"
password="demo-$(openssl rand -hex 12)"
printf '%s\n' "$password" | show "$secretref" new orders-db \
  --description "orders database password" --manual --expires 2027-06-30
printf '%s\n' "prod-$(openssl rand -hex 12)" | show "$secretref" new orders-db \
  --environment Production --description "orders database, production" --manual

step "a Key Vault secret reference: only its locator is stored"
show "$secretref" new partner-api --key-vault vault://corp-vault/partner-api-key \
  --description "partner API key in Azure Key Vault"

step "certificate references: a key made inside the store, and a PKCS#12 import"
show "$secretref" new azure-sftp --generate ec-p256 --description "Azure Blob SFTP"
openssl req -x509 -newkey rsa:3072 -nodes -subj "/CN=orders.example" -days 90 \
  -keyout "$demo/tls.key" -out "$demo/tls.crt" 2>/dev/null
openssl pkcs12 -export -inkey "$demo/tls.key" -in "$demo/tls.crt" \
  -passout pass:demo-pfx -out "$demo/tls.pfx"
printf 'demo-pfx\n' >"$demo/pfx.pass"
show "$secretref" new orders-tls --certificate "$demo/tls.pfx" \
  --password-file "$demo/pfx.pass" --description "TLS for orders.example"
shred -u "$demo/tls.key" "$demo/pfx.pass" 2>/dev/null || rm -f "$demo/tls.key" "$demo/pfx.pass"

step "the list (expiry marked), one reference in detail, a public key for Azure"
show "$secretref" list
show "$secretref" show orders-tls
show "$secretref" pubkey azure-sftp --format openssh

step "use: resolve for the active environment type, without printing anything"
show "$secretref" verify orders-db
show "$secretref" --environment Production verify orders-db
show "$secretref" verify azure-sftp

step "rotate, and see the versions"
printf '%s\n' "demo-$(openssl rand -hex 12)" | show "$secretref" set orders-db --manual
show "$secretref" history orders-db

step "export: metadata and public certificates only"
show "$secretref" export --output "$demo/export.json"
head -c 600 "$demo/export.json"; echo " ..."

step "the secret is nowhere: not in the export, not in clear in the store or its log"
found=0
for f in "$demo/export.json" "$SECRETREF_STORE" "$SECRETREF_STORE-wal"; do
  [ -e "$f" ] || continue
  if grep -aqF -- "$password" "$f" || grep -aq "PRIVATE KEY" "$f"; then
    echo "LEAK in $f"; found=1
  else
    echo "clean: $f"
  fi
done
show "$secretref" audit | tail -n 6
[ "$found" -eq 0 ] || { echo "demo: a secret leaked" >&2; exit 1; }
echo
echo "demo: done; every secret stayed sealed."
