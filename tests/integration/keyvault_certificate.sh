#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A certificate reference backed by a Key Vault certificate: its key is
# fetched when used (PKCS#12 or PEM), held in memory only, used by the
# OpenSSL provider, and never sealed or written into the store.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/azure.sh"
source "$(dirname "$0")/../lib/provider.sh"
require jq openssl sqlite3 cmp

expect 0 init sr init
azure_start
kv_secret_client kv myvault
azure_make_cert kv-ec ec
azure_make_cert kv-rsa rsa
azure_certificate myvault ec-cert "$T/input/kv-ec.pem" pkcs12 >/dev/null
azure_certificate myvault rsa-cert "$T/input/kv-rsa.pem" pem >/dev/null

# Creating one fetches it once, for its public key and certificate.
expect 0 new-ec sr new kv-ec --certificate vault://kv/ec-cert
expect 0 new-rsa sr new kv-rsa --certificate vault://kv/rsa-cert
for n in ec rsa; do
  expect 0 "pubkey-$n" sr pubkey "kv-$n"
  openssl pkey -in "$T/input/kv-$n.key" -pubout >"$T/input/kv-$n.pub"
  cmp -s "$T/pubkey-$n.out" "$T/input/kv-$n.pub" && pass ||
    fail "kv-$n: the public key is not the Key Vault certificate's"
  expect 0 "show-$n" sr show "kv-$n" --json
  equal "$(jq -r .certificate.subject "$T/show-$n.out")" "CN=kv-$n" "kv-$n certificate"
  equal "$(jq -r .kind "$T/show-$n.out")" certificate "kv-$n kind"
done
# Nothing of the key is sealed or stored: only the locator and public parts.
equal "$(sqlite3 "$SECRETREF_STORE" "SELECT count(*) FROM ref_versions v
  JOIN refs r ON r.id = v.ref_id WHERE r.name IN ('kv-ec', 'kv-rsa') AND v.sealed IS NOT NULL")" \
  0 "no sealed key for a Key Vault certificate"

# Used through the provider: the key comes from Key Vault at each use.
echo "signed with a Key Vault certificate" >"$T/msg"
for n in ec rsa; do
  expect 0 "sign-$n" ossl sd dgst -sha256 -sign "secretref:kv-$n" -out "$T/sig-$n" "$T/msg"
  expect 0 "check-$n" openssl dgst -sha256 -verify "$T/input/kv-$n.pub" \
    -signature "$T/sig-$n" "$T/msg"
  expect 0 "verify-$n" sr verify "kv-$n"
done

# A new certificate with another key in Key Vault: the reference refuses
# it until it is taken on purpose.
azure_make_cert kv-ec2 ec
azure_certificate myvault ec-cert "$T/input/kv-ec2.pem" pkcs12 >/dev/null
expect 5 rotated sr verify kv-ec
err_contains "now has another key"
one_line "$T/rotated.err"
expect 0 take-new sr set kv-ec --certificate vault://kv/ec-cert
expect 0 sign-new ossl sd dgst -sha256 -sign secretref:kv-ec -out "$T/sig-new" "$T/msg"
openssl pkey -in "$T/input/kv-ec2.key" -pubout >"$T/input/kv-ec2.pub"
expect 0 check-new openssl dgst -sha256 -verify "$T/input/kv-ec2.pub" \
  -signature "$T/sig-new" "$T/msg"

# Export and import: a Key Vault certificate keeps its locator, and with
# its public part arrives complete in another store, where it signs with
# the key fetched from Key Vault. Nothing of the key is in the file.
expect 0 kv-export sr export --output "$T/kv-export.json"
equal "$(jq -c '.references[] | select(.name == "kv-ec") | .key_vault' "$T/kv-export.json")" \
  '{"client":"kv","secret":"ec-cert","version":null}' "kv-ec's Key Vault locator is exported"
first_store=$SECRETREF_STORE first_key=$SECRETREF_KEY_FILE
export SECRETREF_STORE=$T/second/store.db SECRETREF_KEY_FILE=$T/second-keys/master.key
expect 0 second-init sr init
kv_secret_client kv myvault
expect 0 kv-import sr import "$T/kv-export.json"
expect 0 imported-pubkey sr pubkey kv-ec
cmp -s "$T/imported-pubkey.out" "$T/input/kv-ec2.pub" && pass ||
  fail "the imported kv-ec has not the Key Vault certificate's public key"
expect 0 imported-show sr show kv-ec --json
equal "$(jq -c .key_vault "$T/imported-show.out")" '{"client":"kv","secret":"ec-cert","version":null}' \
  "the imported kv-ec resolves from Key Vault"
expect 0 imported-sign ossl sd dgst -sha256 -sign secretref:kv-ec -out "$T/sig-imported" "$T/msg"
expect 0 imported-check openssl dgst -sha256 -verify "$T/input/kv-ec2.pub" \
  -signature "$T/sig-imported" "$T/msg"
expect 0 imported-verify sr verify kv-ec
equal "$(sqlite3 "$SECRETREF_STORE" "SELECT count(*) FROM ref_versions WHERE sealed IS NOT NULL
  AND ref_id IN (SELECT id FROM refs WHERE name LIKE 'kv-%' AND name != 'kv-secret')")" \
  0 "no sealed key for an imported Key Vault certificate"
lacks "$T/kv-export.json" "PRIVATE KEY"
export SECRETREF_STORE=$first_store SECRETREF_KEY_FILE=$first_key

# A missing certificate: a clear remote error, nothing created.
expect 7 missing sr new kv-none --certificate vault://kv/no-such-cert
err_contains "SecretNotFound"
expect 3 none-created sr show kv-none

# No key material anywhere: outputs, store, WAL, audit.
expect 0 audit sr audit
for f in "$T"/*.out "$T"/*.err "$SECRETREF_STORE"; do lacks "$f" "PRIVATE KEY"; done
azure_no_token_leak
