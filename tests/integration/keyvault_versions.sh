#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key Vault secret versions against the Azure double: a new version is
# picked up by a reference that is not pinned and not by one that is
# (--vault-version and vault://CLIENT/SECRET/VERSION); a disabled, a
# not-yet-valid and an expired secret are refused with messages that say
# which; Azure's expiry date is shown by verify beside the reference's own,
# with a warning when they disagree; a Key Vault certificate's secret
# (PKCS#12 and PEM) resolves to what Key Vault holds. No value anywhere.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/azure.sh"
require jq openssl base64 date sh cmp

expect 0 init sr init
azure_start
kv_secret_client kv myvault
day() { date -u -d "@$1" +%F; }

v1_value='Rotating-Value-One-7c2e90!'
v2_value='Rotating-Value-Two-1a5b3f?'
v3_value='Rotating-Value-Three-84d0c6#'
v1=$(azure_secret myvault rotating "$v1_value")
expect 0 new-latest sr new latest --key-vault vault://kv/rotating
expect 0 new-pinned sr new pinned --key-vault kv --vault-secret rotating --vault-version "$v1"
expect 0 new-pinned-uri sr new pinned-uri --key-vault "vault://kv/rotating/$v1"
expect 0 show-pinned sr show pinned --json
equal "$(jq -r .key_vault.version "$T/show-pinned.out")" "$v1" "pinned version shown"

value_is latest "$v1_value" "latest, one version"
value_is pinned "$v1_value" "pinned, one version"
value_is pinned-uri "$v1_value" "pinned by URI, one version"

# A new version in the vault.
v2=$(azure_secret myvault rotating "$v2_value")
azure_mark
value_is latest "$v2_value" "not pinned: the new version"
value_is pinned "$v1_value" "pinned: still the old version"
value_is pinned-uri "$v1_value" "pinned by URI: still the old version"
equal "$(azure_requests '.kind=="secret" and .path=="/secrets/rotating"')" 1 "latest: no version in the path"
equal "$(azure_requests ".kind==\"secret\" and .path==\"/secrets/rotating/$v1\"")" 2 "pinned: the version in the path"
expect 0 verify-latest sr verify latest
out_contains "$v2"
expect 0 verify-pinned sr verify pinned
out_contains "$v1"

# The newest version disabled: Azure refuses it (403 SecretDisabled); the
# pinned reference is unaffected.
azure_update myvault rotating "$v2" '{"enabled": false}'
expect 7 disabled sr verify latest
one_line "$T/disabled.err"
err_matches "disabled"
err_contains "kv"
err_contains "rotating"
value_is pinned "$v1_value" "pinned, beside a disabled newer version"
kv_value latest disabled-exec
equal "$status" 7 "exec refuses a disabled secret"
[ -f "$T/input/value.latest" ] && fail "the child ran without its secret" || pass
azure_update myvault rotating "$v2" '{"enabled": true}'
value_is latest "$v2_value" "enabled again"

# A pinned version the vault does not have.
expect 0 new-gone sr new gone --key-vault "vault://kv/rotating/0123456789abcdef0123456789abcdef"
expect 7 gone sr verify gone
one_line "$T/gone.err"
err_contains SecretNotFound

# Not yet valid (nbf tomorrow) and expired (exp yesterday): Key Vault
# answers them; the client refuses them, saying which.
future_value='Future-Value-3e9d17$'
expired_value='Expired-Value-6f0a2b%'
nbf=$(epoch_days 1)
exp=$(epoch_days -1)
azure_secret myvault future "$future_value" "{\"nbf\": $nbf}" >/dev/null
azure_secret myvault expired "$expired_value" "{\"exp\": $exp}" >/dev/null
expect 0 new-future sr new future --key-vault vault://kv/future
expect 0 new-expired sr new expired --key-vault vault://kv/expired
run future sr verify future
[ "$status" -eq 7 ] || [ "$status" -eq 4 ] && pass || fail "future: exit status $status, want 7 (or 4)"
one_line "$T/future.err"
err_matches "not (yet )?valid"
err_contains "$(day "$nbf")"
run expired sr verify expired
[ "$status" -eq 7 ] || [ "$status" -eq 4 ] && pass || fail "expired: exit status $status, want 7 (or 4)"
one_line "$T/expired.err"
err_matches "expired"
err_contains "$(day "$exp")"
kv_value expired expired-exec
[ "$status" -ne 0 ] && pass || fail "exec used an expired secret"
[ -f "$T/input/value.expired" ] && fail "the child ran with an expired secret" || pass
# A new version without dates makes the unpinned reference usable again.
azure_secret myvault expired "$v3_value" >/dev/null
value_is expired "$v3_value" "a new version replaces the expired one"

# Azure's exp beside the reference's own expiry date.
exp30=$(epoch_days 30)
azure_secret myvault dated 'Dated-Value-2b7e4c&' "{\"exp\": $exp30}" >/dev/null
azure_secret myvault undated 'Undated-Value-5d1f80*' >/dev/null
expect 0 new-same sr new dated-same --key-vault vault://kv/dated --expires "$(day "$exp30")"
expect 0 new-other sr new dated-other --key-vault vault://kv/dated --expires 2099-12-31
expect 0 new-none sr new dated-none --key-vault vault://kv/dated --expires none
expect 0 new-undated sr new undated-dated --key-vault vault://kv/undated --expires 2099-12-31
expect 0 new-undated2 sr new undated-none --key-vault vault://kv/undated --expires none

expect 0 verify-same sr verify dated-same
out_contains "dated-same: ok"
out_contains "$(day "$exp30")"
if grep -aqi warn "$T/verify-same.out" "$T/verify-same.err"; then
  fail "a warning though the dates agree: $(cat "$T/verify-same.out")"
else pass; fi
expect 0 verify-other sr verify dated-other
out_contains "$(day "$exp30")"
cat "$T/verify-other.out" "$T/verify-other.err" >"$T/verify-other.all"
contains "$T/verify-other.all" "2099-12-31"
grep -aqi warn "$T/verify-other.all" && pass || fail "no warning when the dates disagree: $(cat "$T/verify-other.all")"
expect 0 verify-none sr verify dated-none
cat "$T/verify-none.out" "$T/verify-none.err" >"$T/verify-none.all"
grep -aqi warn "$T/verify-none.all" && pass || fail "no warning for an Azure date the reference lacks"
expect 0 verify-undated sr verify undated-dated
cat "$T/verify-undated.out" "$T/verify-undated.err" >"$T/verify-undated.all"
grep -aqi warn "$T/verify-undated.all" && pass || fail "no warning for a reference date Azure lacks"
expect 0 verify-undated2 sr verify undated-none
if grep -aqi warn "$T/verify-undated2.out" "$T/verify-undated2.err"; then
  fail "a warning with no date on either side"
else pass; fi

# A Key Vault certificate: its secret is the PKCS#12 (base64, no password)
# or the PEM of key and certificate, as Key Vault keeps them.
azure_make_cert kv-cert rsa
azure_certificate myvault tls-cert "$T/input/kv-cert.pem" pkcs12 >/dev/null
azure_certificate myvault tls-pem "$T/input/kv-cert.pem" pem >/dev/null
expect 0 new-p12 sr new tls-p12 --key-vault vault://kv/tls-cert
expect 0 new-pem sr new tls-pem --key-vault vault://kv/tls-pem
kv_value tls-p12
equal "$status" 0 "PKCS#12 secret resolves"
base64 -d "$T/input/value.tls-p12" >"$T/input/tls.p12"
openssl pkcs12 -in "$T/input/tls.p12" -passin pass: -nokeys -clcerts 2>/dev/null |
  openssl x509 -outform DER >"$T/input/p12-cert.der" 2>/dev/null
openssl x509 -in "$T/input/kv-cert.crt" -outform DER >"$T/input/want-cert.der"
cmp -s "$T/input/p12-cert.der" "$T/input/want-cert.der" && pass ||
  fail "the PKCS#12 from Key Vault does not hold the certificate"
kv_value tls-pem
equal "$status" 0 "PEM secret resolves"
openssl x509 -in "$T/input/value.tls-pem" -outform DER >"$T/input/pem-cert.der" 2>/dev/null
cmp -s "$T/input/pem-cert.der" "$T/input/want-cert.der" && pass ||
  fail "the PEM from Key Vault does not hold the certificate"
key_b64=$(grep -v -- '-----' "$T/input/kv-cert.key" | head -3 | tail -1)

# Nothing of any value anywhere: outputs, errors, audit, store.
expect 0 audit sr audit
expect 0 history sr history latest
for s in "$v1_value" "$v2_value" "$v3_value" "$future_value" "$expired_value" \
  'Dated-Value-2b7e4c&' 'Undated-Value-5d1f80*' "$KV_CLIENT_SECRET" "$key_b64"; do
  no_leak "$s"
done
azure_no_token_leak
