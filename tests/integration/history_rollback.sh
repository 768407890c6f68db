#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Versions: rotating a secret makes a new version, history lists them,
# rollback makes a new version equal to an old one (proved for a manual
# secret through the sealed sizes and for a certificate through its public
# key), metadata changes make no version, and the kind never changes.
source "$(dirname "$0")/../lib/common.sh"
require jq sqlite3

# Distinct lengths, so the sealed sizes tell the versions apart.
v1='Rollback-Secret-One-1a2b'
v2='Rollback-Secret-Two-3c4d-longer-by-far'
v3='Rollback-Secret-Three-5e6f-much-longer-than-the-others-9z'
db() { sqlite3 "$SECRETREF_STORE" "$1"; }
# versions NAME: the stored version numbers of the (untyped) reference.
versions() {
  db "SELECT group_concat(v.version, ',') FROM (SELECT v.version FROM
      ref_versions v JOIN refs r ON r.id = v.ref_id WHERE r.name = '$1'
      ORDER BY v.version) v"
}
sealed_len() {
  db "SELECT length(v.sealed) FROM ref_versions v JOIN refs r ON
      r.id = v.ref_id WHERE r.name = '$1' AND v.version = $2"
}
current() { db "SELECT current_version FROM refs WHERE name = '$1'"; }

expect 0 init sr init
expect 0 new sr new db-password --description "orders" --manual \
  <"$(input v1 "$v1")"
expect 0 rotate-2 sr set db-password --manual <"$(input v2 "$v2")"
err_contains "db-password: updated"
expect 0 rotate-3 sr set db-password --manual --secret-file "$(input v3 "$v3")"
equal "$(versions db-password)" "1,2,3" "versions after two rotations"
equal "$(current db-password)" 3 "current version"

expect 0 history sr history db-password
equal "$(awk 'NR > 1 {print $1}' "$T/history.out" | paste -sd,)" "1,2,3" \
  "history lists every version"
head -1 "$T/history.out" | grep -q '^VERSION' && pass || fail "history header"
expect 0 show sr show db-password --json
equal "$(jq -r .version "$T/show.out")" 3 "show: version"

# Metadata-only changes make no version.
expect 0 meta-desc sr set db-password --description "orders, read-write"
expect 0 meta-date sr set db-password --expires 2099-01-31
equal "$(versions db-password)" "1,2,3" "metadata changes make no version"
expect 0 show-meta sr show db-password --json
equal "$(jq -r .description "$T/show-meta.out")" "orders, read-write" "description changed"
equal "$(jq -r .expires "$T/show-meta.out")" 2099-01-31 "expiry changed"
equal "$(jq -r .version "$T/show-meta.out")" 3 "still version 3"
expect 0 history-meta sr history db-password
equal "$(($(wc -l <"$T/history-meta.out") - 1))" 3 "history still has 3 versions"

# Rollback to version 1: version 4, a copy of version 1.
len1=$(sealed_len db-password 1)
len3=$(sealed_len db-password 3)
[ "$len1" != "$len3" ] && pass || fail "test secrets must differ in length"
expect 0 rollback sr rollback db-password 1
err_contains "db-password: rolled back to version 1"
equal "$(versions db-password)" "1,2,3,4" "rollback makes a new version"
equal "$(current db-password)" 4 "the rollback is current"
equal "$(sealed_len db-password 4)" "$len1" "version 4 seals as many bytes as version 1"
# Sealed afresh (its own nonce and binding), not a copied blob.
equal "$(db "SELECT count(DISTINCT sealed) FROM ref_versions v JOIN refs r ON
  r.id = v.ref_id WHERE r.name = 'db-password'")" 4 "every version sealed anew"
expect 0 history-rb sr history db-password
equal "$(awk 'NR == 5 {print $1}' "$T/history-rb.out")" 4 "history shows version 4"
grep -E '^4 .*rollback to version 1$' "$T/history-rb.out" >/dev/null && pass ||
  fail "history note: $(cat "$T/history-rb.out")"
expect 0 verify-rb sr verify db-password
expect 0 audit-rb sr audit db-password
out_contains "rollback to version 1"
grep -E ' v4 +rollback ' "$T/audit-rb.out" >/dev/null && pass ||
  fail "audit has no rollback of v4: $(cat "$T/audit-rb.out")"
expect 0 audit-json sr audit db-password --json
equal "$(jq -r '[.[] | select(.action == "rollback")][0].version' "$T/audit-json.out")" 4 \
  "audit JSON: the rollback's version"
equal "$(jq -r '[.[] | .action] | join(",")' "$T/audit-json.out")" \
  "create,update,update,update,update,rollback,verify" "audit actions in order"
# The metadata survived the rollback.
expect 0 show-rb sr show db-password --json
equal "$(jq -r .description "$T/show-rb.out")" "orders, read-write" "rollback keeps metadata"

# Rolling back to a version that does not exist, or is not a number.
before=$(store_digest || true)
expect 3 rollback-missing sr rollback db-password 9
err_contains "db-password: version 9 does not exist (versions 1 to 4)"
one_line "$T/rollback-missing.err"
expect 2 rollback-zero sr rollback db-password 0
err_contains "not a version number"
expect 2 rollback-word sr rollback db-password latest
expect 2 rollback-args sr rollback db-password
expect 3 rollback-noref sr rollback no-such-ref 1
err_contains "no-such-ref: no such reference"
one_line "$T/rollback-noref.err"
expect 3 history-noref sr history no-such-ref
equal "$(store_digest)" "$before" "refused rollbacks change nothing"

# The kind never changes through set.
for opts in "--generate ec-p256" "--key-vault vault://kv/orders" \
  "--certificate $T/input/v1"; do
  # shellcheck disable=SC2086
  expect 9 "kind-change-${opts%% *}" sr set db-password $opts
  err_contains "db-password: is a manual reference; its kind cannot change"
  one_line "$T/$last.err"
done
equal "$(versions db-password)" "1,2,3,4" "refused kind changes make no version"
# An empty secret is refused and makes no version.
expect 2 rotate-empty sr set db-password --manual </dev/null
err_contains "the secret is empty"
one_line "$T/rotate-empty.err"
equal "$(versions db-password)" "1,2,3,4" "an empty secret makes no version"

# ---- a certificate: rollback proved through the public key -----------------
expect 0 cert-1 sr new sftp-key --generate ec-p256
expect 0 cert-pub-1 sr pubkey sftp-key
pub1=$(cat "$T/cert-pub-1.out")
expect 0 cert-2 sr set sftp-key --generate ed25519
expect 0 cert-pub-2 sr pubkey sftp-key
[ "$(cat "$T/cert-pub-2.out")" != "$pub1" ] && pass || fail "a new key, a new public key"
expect 9 cert-kind sr set sftp-key --manual <"$T/input/v1"
err_contains "is a certificate reference; its kind cannot change"
expect 0 cert-rollback sr rollback sftp-key 1
expect 0 cert-pub-rb sr pubkey sftp-key
equal "$(cat "$T/cert-pub-rb.out")" "$pub1" "rollback restores the key of version 1"
expect 0 cert-show sr show sftp-key --json
equal "$(jq -r .key.type "$T/cert-show.out")" EC "rolled-back key type"
equal "$(jq -r .version "$T/cert-show.out")" 3 "certificate version"
expect 0 cert-verify sr verify sftp-key

# ---- a Key Vault reference: its locator is versioned too -------------------
expect 0 kv-1 sr new vault-ref --key-vault vault://kv/orders/v1
expect 0 kv-2 sr set vault-ref --key-vault kv --vault-secret orders --vault-version v2
expect 0 kv-rollback sr rollback vault-ref 1
expect 0 kv-show sr show vault-ref --json
equal "$(jq -r .key_vault.version "$T/kv-show.out")" v1 "rollback restores the locator"
equal "$(versions vault-ref)" "1,2,3" "Key Vault versions"

# Versions follow the row they belong to: a typed row has its own.
expect 0 typed sr new db-password --environment Test --manual <"$T/input/v2"
expect 0 typed-history sr --environment Test history db-password
equal "$(($(wc -l <"$T/typed-history.out") - 1))" 1 "the typed row has one version"
expect 3 typed-rollback sr --environment Test rollback db-password 2
expect 0 untyped-history sr history db-password
equal "$(($(wc -l <"$T/untyped-history.out") - 1))" 4 "the untyped row keeps its four"

# Deleting the reference deletes its versions.
expect 0 delete sr delete vault-ref
equal "$(versions vault-ref)" "" "versions deleted with the reference"

for s in "$v1" "$v2" "$v3"; do no_leak "$s"; done
