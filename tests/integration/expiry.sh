#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Expiry dates: list marks expired and expiring references, check names
# them and exits 10, the expiry policy warns (default) or denies, and
# impossible dates are refused.
source "$(dirname "$0")/../lib/common.sh"
require jq

secret='Expiry-Secret-5a0c3e?'
d() { date -u -d "$1" +%F; }
yesterday=$(d '-1 day')
last_year=$(d '-400 days')
today=$(d today)
in10=$(d '+10 days')
in45=$(d '+45 days')
in400=$(d '+400 days')
secret_file=$(input secret "$secret")

expect 0 init sr init
mk() { expect 0 "new-$1" sr new "$1" --manual --secret-file "$secret_file" "${@:2}"; }
mk expired-ref --expires "$yesterday"
mk ancient-ref --expires "$last_year"
mk today-ref --expires "$today"
mk soon-ref --expires "$in10" --environment Test
mk later-ref --expires "$in45"
mk far-ref --expires "$in400"
mk never-ref
expect 0 new-kv sr new vault-ref --key-vault vault://kv/orders --expires "$yesterday"

# state NAME [LIST OPTIONS...]: the expiry state list --json gives NAME.
state() {
  local name=$1; shift
  run state sr list --json "$@"
  jq -r --arg n "$name" '.[] | select(.name == $n) | .expiry_state // "-"' "$T/state.out"
}

# ---- list ------------------------------------------------------------------
expect 0 list sr list
row() { grep -E "^$1 " "$T/list.out"; }
[[ "$(row expired-ref)" == *expired* ]] && pass || fail "expired-ref not marked: $(row expired-ref)"
[[ "$(row ancient-ref)" == *expired* ]] && pass || fail "ancient-ref not marked"
[[ "$(row soon-ref)" == *expiring* ]] && pass || fail "soon-ref not marked: $(row soon-ref)"
[[ "$(row today-ref)" == *expiring* ]] && pass || fail "today-ref not marked: $(row today-ref)"
[[ "$(row later-ref)" != *expir* ]] && pass || fail "later-ref marked: $(row later-ref)"
[[ "$(row never-ref)" != *expir* ]] && pass || fail "never-ref marked"
[[ "$(row expired-ref)" == *"$yesterday"* ]] && pass || fail "the date is listed"
equal "$(state expired-ref)" expired "expired (json)"
equal "$(state today-ref)" expiring "a secret is good through its expiry date"
equal "$(state soon-ref)" expiring "expiring within the 30 days default"
equal "$(state later-ref)" - "45 days away is not expiring by default"
equal "$(state vault-ref)" expired "a Key Vault reference expires too"
equal "$(state never-ref)" - "no date: never expiring"
# list --expiring-within DAYS lists only those due within DAYS.
expect 0 within-5 sr list --expiring-within 5 --json
equal "$(jq -r '[.[].name] | sort | join(",")' "$T/within-5.out")" \
  "ancient-ref,expired-ref,today-ref,vault-ref" "--expiring-within 5"
expect 0 within-60 sr list --expiring-within 60 --json
equal "$(jq -r '[.[].name] | sort | join(",")' "$T/within-60.out")" \
  "ancient-ref,expired-ref,later-ref,soon-ref,today-ref,vault-ref" "--expiring-within 60"
expect 0 within-0 sr list --expiring-within 0
out_contains expired-ref
out_contains today-ref
lacks "$T/within-0.out" soon-ref
expect 2 within-bad sr list --expiring-within soon
err_contains "--expiring-within takes days"
expect 2 within-negative sr list --expiring-within -1
# The warning window is a store parameter.
expect 0 warn-days sr parameters set expiry-warning-days 60
equal "$(state later-ref)" expiring "expiry-warning-days 60"
expect 2 warn-days-bad sr parameters set expiry-warning-days lots
err_contains "expiry-warning-days"
one_line "$T/warn-days-bad.err"
expect 0 warn-days-back sr parameters set expiry-warning-days 30

# ---- check -----------------------------------------------------------------
expect 10 check sr check
out_contains "expired-ref: expired on $yesterday"
out_contains "ancient-ref: expired on $last_year"
out_contains "soon-ref @Test: expires on $in10"
out_contains "today-ref: expires on $today"
lacks "$T/check.out" later-ref
lacks "$T/check.out" never-ref
err_contains "3 expired, 2 expiring within 30 days"
one_line "$T/check.err"
expect 10 check-within-60 sr check --within 60
out_contains "later-ref: expires on $in45"
lacks "$T/check-within-60.out" far-ref
expect 10 check-within-0 sr check --within 0
lacks "$T/check-within-0.out" soon-ref
expect 2 check-bad sr check --within x
err_contains "--within takes a number of days"

# Nothing due: exit 0, nothing printed.
store2=$T/store2/store.db
s2() { sr --store "$store2" --key-file "$T/keys/second.key" "$@"; }
expect 0 init2 s2 init
expect 0 check-empty s2 check
expect 0 new2 s2 new far --manual --secret-file "$secret_file" --expires "$in400"
expect 0 new2-never s2 new never --manual --secret-file "$secret_file"
expect 0 check-nothing s2 check
equal "$(cat "$T/check-nothing.out" "$T/check-nothing.err")" "" "check prints nothing when nothing is due"
expect 0 check-nothing-365 s2 check --within 365
expect 10 check-far s2 check --within 401
out_contains "far: expires on $in400"

# ---- the expiry policy -----------------------------------------------------
expect 0 policy-default sr parameters get expiry-policy
equal "$(cat "$T/policy-default.out")" warn "the default policy"
# warn: the use succeeds, with one warning line on standard error.
expect 0 verify-warn sr verify expired-ref
out_contains "expired-ref: ok"
err_contains "expired-ref"
err_contains "expired on $yesterday"
one_line "$T/verify-warn.err"
# Not yet expired: no warning at all.
expect 0 verify-today sr verify today-ref
equal "$(cat "$T/verify-today.err")" "" "no warning before the date has passed"
expect 0 verify-soon sr --environment Test verify soon-ref
equal "$(cat "$T/verify-soon.err")" "" "no warning for an expiring one"
# deny: the use is refused; metadata still shows.
expect 0 policy-deny sr parameters set expiry-policy deny
expect 4 verify-deny sr verify expired-ref
err_contains "expired-ref: expired on $yesterday, and the expiry policy is deny"
one_line "$T/verify-deny.err"
lacks "$T/verify-deny.out" ok
expect 4 verify-deny-ancient sr verify ancient-ref
expect 0 verify-deny-today sr verify today-ref
expect 0 show-deny sr show expired-ref --json
equal "$(jq -r .expiry_state "$T/show-deny.out")" expired "show under deny"
# Renewing the date makes it usable again; clearing it too.
expect 0 renew sr set expired-ref --expires "$in400"
expect 0 verify-renewed sr verify expired-ref
expect 0 clear-date sr set ancient-ref --expires none
expect 0 verify-cleared sr verify ancient-ref
expect 0 show-cleared sr show ancient-ref --json
equal "$(jq -r .expires "$T/show-cleared.out")" null "--expires none clears the date"
expect 0 policy-warn sr parameters set expiry-policy warn
# Invalid policies are refused and change nothing.
for bad in maybe DENY "" "warn "; do
  expect 2 "policy-bad-$bad" sr parameters set expiry-policy "$bad"
  err_contains "expiry-policy: must be warn or deny"
  one_line "$T/$last.err"
done
expect 0 policy-still sr parameters get expiry-policy
equal "$(cat "$T/policy-still.out")" warn "the policy after refused values"

# ---- impossible dates ------------------------------------------------------
before=$(store_digest || true)
for bad in 2026-02-30 2026-13-01 garbage 2025-02-29 2026-00-10 2026-04-31 \
  26-01-01 2026-1-1 "2026-01-01 " 1969-12-31; do
  expect 8 "bad-date-[$bad]" sr new bad-date --manual --secret-file "$secret_file" \
    --expires "$bad"
  err_contains "not a date (YYYY-MM-DD)"
  one_line "$T/$last.err"
done
expect 8 bad-date-set sr set never-ref --expires 2026-02-30
err_contains "2026-02-30: not a date"
one_line "$T/bad-date-set.err"
equal "$(store_digest)" "$before" "refused dates change nothing"
expect 3 bad-date-not-created sr show bad-date
# A real leap day is a date.
expect 0 leap-day sr new leap --manual --secret-file "$secret_file" --expires 2028-02-29

expect 0 audit sr audit
no_leak "$secret"
