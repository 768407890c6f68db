#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tampering with the store file directly (sqlite3): one byte changed in a
# sealed value (in each of its fields), a sealed value copied onto another
# row or version, a row moved to another environment type or kind, its
# id changed, and a damaged key-ring check value. Every one is refused with
# exit 5 and one line that names the reference; nothing of the secret is
# printed; untouched references keep working.
source "$(dirname "$0")/../lib/common.sh"
require sqlite3 jq

db=$SECRETREF_STORE
q() { sqlite3 "$db" "$1"; }
sealed_hex() {
  q "select hex(v.sealed) from ref_versions v join refs r on r.id = v.ref_id
     where r.name = '$1' and r.env_id is null and v.version = ${2:-1}"
}

# new_manual NAME SECRET: a manual reference with no environment type.
new_manual() {
  printf '%s' "$2" | { expect 0 "new-$1" sr new "$1" --manual; }
}

# flip NAME POSITION: changes the byte at POSITION (1-based) of NAME's
# current sealed value, keeping it a blob of the same length, and checks
# that exactly that byte changed.
flip() {
  local name=$1 pos=$2 before after
  before=$(sealed_hex "$name")
  q "update ref_versions set sealed = cast(
       substr(sealed, 1, $pos - 1) ||
       case when substr(sealed, $pos, 1) = x'00' then x'01' else x'00' end ||
       substr(sealed, $pos + 1) as blob)
     where ref_id = (select id from refs where name = '$name' and env_id is null)"
  after=$(sealed_hex "$name")
  equal "$(q "select typeof(sealed) || length(sealed) from ref_versions
              where ref_id = (select id from refs where name = '$name')")" \
    "blob$((${#before} / 2))" "$name: still a blob of the same length"
  if [ "${before:0:$((2 * pos - 2))}" = "${after:0:$((2 * pos - 2))}" ] &&
     [ "${before:$((2 * pos))}" = "${after:$((2 * pos))}" ] &&
     [ "${before:$((2 * pos - 2)):2}" != "${after:$((2 * pos - 2)):2}" ]; then
    pass
  else
    fail "$name: byte $pos was not the only change"
  fi
}

# tamper_refused LABEL NAME: the command failed with exit 5, one line naming
# NAME and saying the value failed authentication.
tamper_refused() {
  local label=$1 name=$2
  one_line "$T/$label.err"
  contains "$T/$label.err" "secretref: $name:"
  if grep -qiE 'authentication|tamper|unknown format|does not decode' "$T/$label.err"; then
    pass
  else
    fail "$label: the message does not say the value was changed: $(cat "$T/$label.err")"
  fi
}

expect 0 init sr init
secret_base='Tamper-Secret-4b9d'

# ---- one byte changed, in each field of the sealed layout ----------------
# Layout (store/seal.c): 1 format | 4 key id | 12 wrap nonce | 32 wrapped
# key | 16 wrap tag | 12 data nonce | n ciphertext | 16 data tag.
len_secret=24
positions=(1 2 5 6 17 18 40 49 60 65 77 78 90 101 $((93 + len_secret)))
for pos in "${positions[@]}"; do
  name=flip-$pos
  new_manual "$name" "$(printf '%s-%05d' "$secret_base" "$pos")"
done
equal "$(q "select length(sealed) from ref_versions v join refs r on r.id = v.ref_id
            where r.name = 'flip-1'")" $((93 + len_secret)) "sealed layout size"
for pos in "${positions[@]}"; do
  name=flip-$pos
  flip "$name" "$pos"
  expect 5 "verify-$name" sr verify "$name"
  tamper_refused "verify-$name" "$name"
done

# Certificate keys too: a byte of the ciphertext, and of the wrap tag.
expect 0 new-cert sr new cert-key --generate ec-p256
expect 0 new-cert2 sr new cert-key2 --generate ed25519
flip cert-key 100
expect 5 verify-cert sr verify cert-key
tamper_refused verify-cert cert-key
flip cert-key2 55
expect 5 verify-cert2 sr verify cert-key2
tamper_refused verify-cert2 cert-key2

# ---- a sealed value moved to another row -----------------------------------
new_manual source-ref "$secret_base-source"
new_manual target-ref "$secret_base-target"
q "update ref_versions set sealed = (select v.sealed from ref_versions v join refs r
     on r.id = v.ref_id where r.name = 'source-ref')
   where ref_id = (select id from refs where name = 'target-ref')"
equal "$(sealed_hex target-ref)" "$(sealed_hex source-ref)" "value copied"
expect 5 verify-moved sr verify target-ref
tamper_refused verify-moved target-ref
expect 0 verify-source sr verify source-ref

# ...and to another version of the same reference.
new_manual versions "$secret_base-v1"
printf '%s' "$secret_base-v2" | { expect 0 rotate sr set versions --manual; }
q "update ref_versions set sealed = (select sealed from ref_versions where version = 1
     and ref_id = (select id from refs where name = 'versions'))
   where version = 2 and ref_id = (select id from refs where name = 'versions')"
expect 5 verify-version sr verify versions
tamper_refused verify-version versions

# ---- the row changed around its value: environment type, kind, id ------------
new_manual env-moved "$secret_base-env"
q "update refs set env_id = (select id from environment_types where name = 'Test')
   where name = 'env-moved'"
expect 5 verify-env sr --environment Test verify env-moved
tamper_refused verify-env env-moved

new_manual kind-changed "$secret_base-kind"
q "update refs set kind = 'certificate' where name = 'kind-changed'"
expect 5 verify-kind sr verify kind-changed
tamper_refused verify-kind kind-changed
# A certificate made to look like a manual secret does not give its key out.
expect 0 new-cert3 sr new cert-as-manual --generate ec-p256
q "update refs set kind = 'manual' where name = 'cert-as-manual'"
expect 5 verify-kind2 sr verify cert-as-manual
tamper_refused verify-kind2 cert-as-manual

new_manual uuid-changed "$secret_base-uuid"
q "update refs set uuid = '00000000-0000-4000-8000-000000000000' where name = 'uuid-changed'"
expect 5 verify-uuid sr verify uuid-changed
tamper_refused verify-uuid uuid-changed

# The version number of a row changed (version 1 renumbered as 2).
new_manual renumbered "$secret_base-renumbered"
q "update ref_versions set version = 2 where ref_id = (select id from refs where name = 'renumbered');
   update refs set current_version = 2 where name = 'renumbered'"
expect 5 verify-renumbered sr verify renumbered
tamper_refused verify-renumbered renumbered

# ---- untouched references still work ---------------------------------------
new_manual untouched "$secret_base-untouched"
expect 0 verify-untouched sr verify untouched
expect 0 history-versions sr history versions
expect 0 list sr list

# ---- a damaged key ring -------------------------------------------------------
# A byte inside the check value: the key no longer proves itself.
q "update keyring set check_value = cast(substr(check_value, 1, 60) ||
     case when substr(check_value, 61, 1) = x'00' then x'01' else x'00' end ||
     substr(check_value, 62) as blob)"
expect 5 check-damaged sr verify untouched
one_line "$T/check-damaged.err"
if grep -qiE 'wrong encryption key|key ring|damaged' "$T/check-damaged.err"; then pass
else fail "damaged check value: unclear message: $(cat "$T/check-damaged.err")"; fi
# The check value cut short, or emptied.
q "update keyring set check_value = substr(check_value, 1, 20)"
expect 5 check-short sr verify untouched
one_line "$T/check-short.err"
if grep -qiE 'wrong encryption key|key ring|damaged' "$T/check-short.err"; then pass
else fail "truncated check value: unclear message: $(cat "$T/check-short.err")"; fi
# An empty one is a damaged store (6) or an unusable key (5).
q "update keyring set check_value = x''"
run check-empty sr verify untouched
if [ "$status" -eq 5 ] || [ "$status" -eq 6 ]; then pass
else fail "empty check value: exit $status, want 5 or 6"; fi
one_line "$T/check-empty.err"
if grep -qiE 'wrong encryption key|key ring|damaged' "$T/check-empty.err"; then pass
else fail "empty check value: unclear message: $(cat "$T/check-empty.err")"; fi
# Metadata still reads without the key.
expect 0 show-damaged sr show untouched --json
equal "$(jq -r .secret "$T/show-damaged.out")" set "metadata readable"

# Nothing of any secret was printed, logged or left in clear.
expect 0 audit sr audit

# The public key beside a sealed key is bound to it: swapping in another
# key's public key (to get it registered with Azure) is caught by pubkey,
# verify and every key open. (A store of its own: the one above is damaged.)
export SECRETREF_STORE=$T/swap/store.db SECRETREF_KEY_FILE=$T/swap/master.key
expect 0 swap-init sr init
expect 0 swap-a sr new swap-a --generate ec-p256
expect 0 swap-b sr new swap-b --generate ec-p256
expect 0 swap-pub-before sr pubkey swap-a --format openssh
sqlite3 "$SECRETREF_STORE" "UPDATE ref_versions SET public_key =
  (SELECT v.public_key FROM ref_versions v JOIN refs r ON r.id = v.ref_id
   WHERE r.name = 'swap-b') WHERE ref_id =
  (SELECT id FROM refs WHERE name = 'swap-a')"
expect 5 swap-pubkey sr pubkey swap-a --format openssh
err_contains "failed authentication"
one_line "$T/swap-pubkey.err"
expect 5 swap-verify sr verify swap-a
lacks "$T/swap-pubkey.out" "ecdsa-sha2"

no_leak "$secret_base"
