#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What openssl sees of a secretref key, and how loading one fails:
# pkey -pubout equals `secretref pubkey`; private output fails; -text says
# which reference holds the key and prints no private component; a missing
# reference, one of the wrong kind, the wrong encryption key, another
# environment type's reference, an expired one under the deny policy and
# malformed URIs each fail with our message on openssl's stderr, never a
# crash; every key load by openssl is audited as "open" by
# "openssl-provider"; a percent-encoded name works. No output of this test
# contains "PRIVATE KEY".
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/provider.sh"
require openssl jq
: "${SECRETREF_LIB:?run through ctest (SECRETREF_LIB is not set)}"
unset OPENSSL_CONF

K=$T/input
mkdir -p "$K"
manual_secret='Manual-Secret-for-provider-8c1e4d'

expect 0 init sr init
expect 0 new-rsa sr new rsa --generate rsa-2048
expect 0 new-ec sr new ec --generate ec-p384
expect 0 new-ed sr new ed --generate ed25519
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/imported.pem" 2>/dev/null
expect 0 new-imported sr new imported --certificate "$K/imported.pem"
keys=(rsa ec ed imported)


provider_cnf "$T/openssl.cnf"

# refused NAME: the last run failed cleanly: a non-zero status that is
# not a signal (ASan aborts, crashes: >= 128), and no sanitizer report.
refused() {
  if [ "$status" -ne 0 ] && [ "$status" -lt 128 ]; then pass; else
    fail "$1: exit status $status, want a clean failure: $(head -c 400 "$T/$last.err")"
  fi
  lacks "$T/$last.err" "AddressSanitizer"
  lacks "$T/$last.err" "runtime error"
}

# opens NAME: how many "open" entries by openssl-provider NAME's audit has.
opens() {
  sr audit "$1" --json |
    jq '[.[] | select(.action == "open" and .program == "openssl-provider")] | length'
}

# ---- public output, no private output ------------------------------------

for n in "${keys[@]}"; do
  expect 0 "pubkey-$n" sr pubkey "$n"
  for m in sd ds "cnf:$T/openssl.cnf"; do
    id=$n-${m%%:*}
    expect 0 "pubout-$id" ossl "$m" pkey -in "secretref:$n" -pubout
    equal "$(cat "$T/pubout-$id.out")" "$(cat "$T/pubkey-$n.out")" "pkey -pubout $id"
    # The private key, as PEM or DER: refused, nothing written.
    run "private-$id" ossl "$m" pkey -in "secretref:$n"
    refused "private-$id"
    equal "$(wc -c <"$T/private-$id.out")" 0 "private output $id"
    run "private-der-$id" ossl "$m" pkey -in "secretref:$n" -outform DER
    refused "private-der-$id"
    equal "$(wc -c <"$T/private-der-$id.out")" 0 "private DER output $id"
    # -text without -noout also asks for the PEM first: refused too.
    run "text-pem-$id" ossl "$m" pkey -in "secretref:$n" -text
    refused "text-pem-$id"
    # The text form: what the key is, which reference, the public half.
    expect 0 "text-$id" ossl "$m" pkey -in "secretref:$n" -text -noout
    out_contains "held by secretref: reference \"$n\""
    out_contains "none of it is printed"
    for secret_field in "priv:" "privateExponent:" "prime1:" "prime2:" "exponent1:" "exponent2:" "coefficient:"; do
      lacks "$T/text-$id.out" "$secret_field"
    done
    # And the same without asking for the private half.
    expect 0 "text-pub-$id" ossl "$m" pkey -in "secretref:$n" -pubout -text -noout
  done
done
contains "$T/text-rsa-sd.out" "RSA key (2048 bit) held by secretref"
contains "$T/text-rsa-sd.out" "Modulus:"
contains "$T/text-ec-sd.out" "EC key (384 bit, P-384) held by secretref"
contains "$T/text-ec-sd.out" "NIST CURVE: P-384"
contains "$T/text-ed-sd.out" "ED25519 key (256 bit) held by secretref"
# The imported key's public half is the file's, by openssl's own reckoning.
equal "$(cat "$T/pubout-imported-sd.out")" "$(openssl pkey -in "$K/imported.pem" -pubout)" \
  "imported key's public half"
# Other ways to ask for the private key: PKCS#8, and the legacy ec command.
run pkcs8 ossl sd pkcs8 -topk8 -nocrypt -in secretref:ec
refused pkcs8
equal "$(wc -c <"$T/pkcs8.out")" 0 "pkcs8 output"
run ec-cmd ossl sd ec -in secretref:ec
refused ec-cmd
equal "$(wc -c <"$T/ec-cmd.out")" 0 "ec command output"
# A `secretref pem` file holds the reference only; openssl reads it as the key.
expect 0 pem sr pem ec --output "$T/ec.ref.pem"
lacks "$T/ec.ref.pem" "PRIVATE KEY"
expect 0 pem-pubout ossl sd pkey -in "$T/ec.ref.pem" -pubout
equal "$(cat "$T/pem-pubout.out")" "$(cat "$T/pubkey-ec.out")" "pkey -pubout of a reference PEM"
run pem-private ossl sd pkey -in "$T/ec.ref.pem"
refused pem-private
equal "$(wc -c <"$T/pem-private.out")" 0 "private output of a reference PEM"

# ---- errors ---------------------------------------------------------------

# A missing reference.
for m in sd ds; do
  run "missing-$m" ossl "$m" pkey -in secretref:no-such-key -pubout
  refused "missing-$m"
  err_contains "no-such-key: no such reference"
done
run missing-sign ossl sd pkeyutl -sign -inkey secretref:no-such-key -in "$T/pubkey-ec.out"
refused missing-sign
err_contains "no-such-key: no such reference"

# A reference of the wrong kind: a manual secret, which is no key.
printf '%s' "$manual_secret" >"$K/manual"
expect 0 new-manual sr new db-password --manual --secret-file "$K/manual"
for m in sd ds; do
  run "wrong-kind-$m" ossl "$m" pkey -in secretref:db-password -pubout
  refused "wrong-kind-$m"
  err_contains "db-password: is a manual reference, not a certificate"
done
run wrong-kind-sign ossl sd pkeyutl -sign -inkey secretref:db-password -in "$T/pubkey-ec.out"
refused wrong-kind-sign
err_contains "not a certificate"

# The wrong encryption key: another store's key file.
expect 0 other-init env SECRETREF_STORE="$T/other/store.db" SECRETREF_KEY_FILE="$T/other/master.key" \
  "$SECRETREF" init
SECRETREF_KEY_FILE=$T/other/master.key run wrong-key ossl sd pkey -in secretref:ec -pubout
refused wrong-key
err_contains "wrong encryption key"
provider_cnf "$T/wrong-key.cnf"
sed -i "s|^key_file = .*|key_file = $T/other/master.key|" "$T/wrong-key.cnf"
run wrong-key-cnf ossl "cnf:$T/wrong-key.cnf" pkey -in secretref:ec -pubout
refused wrong-key-cnf
err_contains "wrong encryption key"
# A key file that does not exist.
SECRETREF_KEY_FILE=$T/nowhere/master.key run no-key-file ossl sd pkey -in secretref:ec -pubout
refused no-key-file
err_contains "$T/nowhere/master.key"

# Another environment type's reference.
expect 0 new-prod sr new prod-key --environment Production --generate ec-p256
SECRETREF_ENVIRONMENT=Test run env-test ossl sd pkey -in secretref:prod-key -pubout
refused env-test
err_contains "prod-key: bound to environment type Production, not Test"
run env-none ossl sd pkey -in secretref:prod-key -pubout
refused env-none
err_contains "bound to environment type Production"
SECRETREF_ENVIRONMENT=Production expect 0 env-prod ossl ds pkey -in secretref:prod-key -pubout
equal "$(cat "$T/env-prod.out")" "$(sr --environment Production pubkey prod-key)" "Production key in Production"
# The environment type from openssl.cnf.
provider_cnf "$T/env-prod.cnf" "environment = Production"
provider_cnf "$T/env-test.cnf" "environment = Test"
expect 0 env-prod-cnf ossl "cnf:$T/env-prod.cnf" pkey -in secretref:prod-key -pubout
run env-test-cnf ossl "cnf:$T/env-test.cnf" pkey -in secretref:prod-key -pubout
refused env-test-cnf
err_contains "bound to environment type Production, not Test"
expect 0 env-audit sr audit prod-key --json
equal "$(jq -r '[.[] | select(.action == "open")] | map(.environment_type) | unique | join(",")' \
  "$T/env-audit.out")" Production "environment type of the audited opens"

# An expired reference: used with a warning under "warn", refused under
# "deny".
expect 0 new-expired sr new old-key --generate ec-p256 --expires 2000-01-01
expect 0 expired-warn ossl sd pkey -in secretref:old-key -pubout
err_contains "old-key"
err_contains "expired on 2000-01-01"
expect 0 deny sr parameters set expiry-policy deny
run expired-deny ossl sd pkey -in secretref:old-key -pubout
refused expired-deny
err_contains "old-key: expired on 2000-01-01, and the expiry policy is deny"
run expired-deny-sign ossl ds pkeyutl -sign -inkey secretref:old-key -in "$T/pubkey-ec.out"
refused expired-deny-sign
err_contains "expiry policy is deny"
expect 0 warn sr parameters set expiry-policy warn

# Malformed URIs: ours to refuse, clearly.
for u in 'secretref:' 'secretref:%zz' 'secretref:bad%00name'; do
  id=uri-$(printf '%s' "$u" | tr -c 'a-z0-9' '_')
  run "$id" ossl sd pkey -in "$u" -pubout
  refused "$id"
  err_contains "not a secretref:NAME URI"
done

# A percent-encoded name.
expect 0 new-space sr new "my key" --generate ec-p256
expect 0 space-pubout ossl sd pkey -in 'secretref:my%20key' -pubout
equal "$(cat "$T/space-pubout.out")" "$(sr pubkey "my key")" "percent-encoded name"
expect 0 space-text ossl ds pkey -in 'secretref:my%20key' -text -noout
out_contains 'reference "my key"'
run space-raw ossl sd pkey -in 'secretref:my key' -pubout
if [ "$status" -eq 0 ]; then
  equal "$(cat "$T/space-raw.out")" "$(sr pubkey "my key")" "unencoded name"
else
  refused space-raw
fi

# ---- the audit log ----------------------------------------------------------

# Each key load by openssl is one "open" by openssl-provider.
expect 0 new-audited sr new audited --generate ec-p256
equal "$(opens audited)" 0 "opens before any load"
expect 0 audit-load1 ossl sd pkey -in secretref:audited -pubout
equal "$(opens audited)" 1 "opens after one load"
expect 0 audit-load2 ossl ds pkeyutl -sign -inkey secretref:audited -in "$T/pubkey-ec.out" -rawin \
  -digest sha256 -out "$T/audited.sig"
expect 0 audit-load3 ossl "cnf:$T/openssl.cnf" pkey -in secretref:audited -text -noout
equal "$(opens audited)" 3 "opens after three loads"
expect 0 audit sr audit audited
out_contains "openssl-provider"
out_contains "open"
# Every load above was audited: 18 for each key in the public/private
# output loop (6 commands, 3 ways of loading the provider), more for ec.
for n in rsa ed imported; do
  equal "$(opens "$n")" 18 "opens of $n"
done
o=$(opens ec)
if [ "$o" -ge 18 ]; then pass; else fail "ec: $o opens audited, want at least 18"; fi
# A refused load is no open.
equal "$(opens old-key)" 1 "opens of the expired key (only the one under warn)"

# ---- nothing private anywhere ---------------------------------------------

for f in "$T"/*.out "$T"/*.err; do lacks "$f" "PRIVATE KEY"; done
no_leak "$manual_secret"
