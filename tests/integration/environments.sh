#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Environment types: one name once per type and once without one; the
# active type (option > SECRETREF_ENVIRONMENT > config file > store
# parameter) picks the row, else the untyped one; a row bound only to
# another type never resolves. Editing the list of types.
source "$(dirname "$0")/../lib/common.sh"
require jq

declare -A secrets=(
  [none]='Env-None-Secret-3b9f01'
  [Development]='Env-Dev-Secret-7a2c44'
  [Test]='Env-Test-Secret-5e8d12'
  [Acceptance]='Env-Acc-Secret-c41a9b'
  [Production]='Env-Prod-Secret-08f7e3'
)
prod_only='Env-ProdOnly-Secret-61d0aa'
renamed_secret='Env-Renamed-Secret-2f5c77'

# resolved NAME [GLOBAL OPTIONS...]: the environment type of the row that
# show resolves NAME to ("null" for the untyped row).
resolved() {
  local name=$1; shift
  run resolved sr "$@" show "$name" --json
  if [ "$status" -ne 0 ]; then echo "status $status"; return; fi
  jq -r .environment_type "$T/resolved.out"
}

expect 0 init sr init
expect 0 envs-default sr environments list
equal "$(cat "$T/envs-default.out")" "$(printf 'Development\nTest\nAcceptance\nProduction')" \
  "default environment types, in order"

# One row per type and one without a type, each with its own description.
for env in none Development Test Acceptance Production; do
  opts=()
  [ "$env" != none ] && opts=(--environment "$env")
  expect 0 "new-$env" sr new db-password "${opts[@]}" --description "db $env" \
    --manual <"$(input "secret-$env" "${secrets[$env]}")"
done
# A duplicate within one type, or without a type, is refused.
expect 9 dup-typed sr new db-password --environment test --manual \
  <"$(input dup "x-duplicate-x")"
err_contains "already exists"
one_line "$T/dup-typed.err"
expect 9 dup-untyped sr new db-password --manual <"$T/input/dup"
err_contains "already exists"
expect 0 list-all sr list --json
equal "$(jq '[.[] | select(.name == "db-password")] | length' "$T/list-all.out")" 5 \
  "five rows of one name"
expect 0 list-test sr list --environment Test --json
equal "$(jq -r '[.[].environment_type] | unique | join(",")' "$T/list-test.out")" Test \
  "list --environment shows only that type"

# No active type: the untyped row.
equal "$(resolved db-password)" null "no active type: the untyped row"
equal "$(jq -r .description "$T/resolved.out")" "db none" "untyped description"
# --environment, in any case: that type's row.
for env in Development Test Acceptance Production; do
  equal "$(resolved db-password --environment "$env")" "$env" "--environment $env"
done
equal "$(resolved db-password --environment production)" Production \
  "type names are case-insensitive"
equal "$(resolved db-password --environment TEST)" Test "TEST is Test"
equal "$(jq -r .description "$T/resolved.out")" "db Test" "Test description"
# SECRETREF_ENVIRONMENT.
SECRETREF_ENVIRONMENT=Acceptance \
  expect 0 show-env-var sr show db-password --json
equal "$(jq -r .environment_type "$T/show-env-var.out")" Acceptance \
  "SECRETREF_ENVIRONMENT picks the row"
# An active type with no row of that name: the untyped row.
expect 0 add-staging sr environments add Staging
equal "$(resolved db-password --environment Staging)" null \
  "a type without a row falls back to the untyped row"
expect 0 verify-staging sr --environment staging verify db-password
out_contains "db-password: ok"
# An unknown active type is an error, not a silent fallback.
expect 3 unknown-type sr --environment Nowhere show db-password
err_contains "Nowhere: no such environment type"
one_line "$T/unknown-type.err"
expect 3 unknown-type-list sr list --environment Nowhere
err_contains "no such environment type"

# Each typed row opens with its own binding.
for env in Development Test Acceptance Production; do
  expect 0 "verify-$env" sr --environment "$env" verify db-password
done
expect 0 verify-untyped sr verify db-password

# ---- a row bound only to another type never resolves ---------------------
expect 0 new-prod-only sr new prod-only --environment Production --manual \
  <"$(input prod-only "$prod_only")"
for cmd in verify show history; do
  expect 4 "prod-only-test-$cmd" sr --environment Test "$cmd" prod-only
  err_contains "prod-only: bound to environment type Production, not Test"
  one_line "$T/prod-only-test-$cmd.err"
done
expect 4 prod-only-none sr verify prod-only
err_contains "bound to environment type Production"
err_contains "--environment"
one_line "$T/prod-only-none.err"
SECRETREF_ENVIRONMENT=Development expect 4 prod-only-env-var sr verify prod-only
err_contains "not Development"
expect 4 prod-only-set sr --environment Test set prod-only --description x
err_contains "bound to environment type Production"
expect 4 prod-only-rollback sr --environment Test rollback prod-only 1
expect 4 prod-only-delete sr --environment Test delete prod-only
expect 0 prod-only-prod sr --environment PRODUCTION verify prod-only
expect 3 no-such sr --environment Test verify no-such-ref
err_contains "no-such-ref: no such reference"

# ---- the store parameter and init --environment ---------------------------
expect 0 param-set sr parameters set environment test
expect 0 param-get sr parameters get environment
equal "$(cat "$T/param-get.out")" Test "the parameter is stored in its canonical case"
equal "$(resolved db-password)" Test "the store parameter picks the row"
expect 0 envs-active sr environments list
out_contains "Test (active)"
expect 4 param-prod-only sr verify prod-only
err_contains "not Test"
expect 3 param-unknown sr parameters set environment Nowhere
err_contains "no such environment type"
one_line "$T/param-unknown.err"

# Precedence: option > environment variable > config file > parameter.
mkdir -p "$XDG_CONFIG_HOME/secretref"
printf 'environment = Development\n' >"$XDG_CONFIG_HOME/secretref/config"
equal "$(resolved db-password)" Development "the config file beats the parameter"
rm "$XDG_CONFIG_HOME/secretref/config"
export SECRETREF_ENVIRONMENT=Acceptance
equal "$(resolved db-password)" Acceptance "the environment variable beats the parameter"
equal "$(resolved db-password --environment Production)" Production \
  "the option beats the environment variable"
expect 0 prec-verify sr --environment Production verify prod-only
expect 4 prec-env-var sr verify prod-only
err_contains "not Acceptance"
unset SECRETREF_ENVIRONMENT
expect 0 param-clear sr parameters set environment ""
equal "$(resolved db-password)" null "an empty parameter: no active type"

# init --environment sets the store's default active type.
store2=$T/store2/store.db
expect 0 init-env sr --store "$store2" --key-file "$T/keys/second.key" \
  init --environment acceptance
expect 0 init-env-param sr --store "$store2" parameters get environment
equal "$(cat "$T/init-env-param.out")" Acceptance "init --environment"
expect 0 init-env-new sr --store "$store2" --key-file "$T/keys/second.key" \
  new token --manual <"$T/input/secret-Acceptance"
expect 0 init-env-show sr --store "$store2" show token --json
equal "$(jq -r .environment_type "$T/init-env-show.out")" null \
  "new without --environment makes an untyped row"
expect 3 init-env-bad sr --store "$T/store3/store.db" \
  --key-file "$T/keys/third.key" init --environment Nowhere
err_contains "no such environment type"
[ ! -e "$T/store3/store.db" ] && pass || fail "a failed init left a store"
[ ! -e "$T/keys/third.key" ] && pass || fail "a failed init left a key file"

# ---- editing the list of types ---------------------------------------------
expect 9 add-dup sr environments add staging
err_contains "already exists"
one_line "$T/add-dup.err"
expect 2 add-bad sr environments add " Padded"
err_contains "space"
expect 2 add-ctrl sr environments add "$(printf 'Bad\tName')"
err_contains "control character"
expect 2 add-none sr environments add
expect 2 bad-action sr environments frobnicate
# Removing a type in use is refused, in any case.
expect 9 remove-in-use sr environments remove production
err_contains "production: 2 references use this environment type"
one_line "$T/remove-in-use.err"
expect 0 remove-in-use-list sr environments list
out_contains Production
# Removing the active type is refused.
expect 0 set-active-staging sr parameters set environment Staging
expect 9 remove-active sr environments remove STAGING
err_contains "active environment type"
expect 0 param-clear2 sr parameters set environment ""
expect 0 remove-staging sr environments remove STAGING
expect 3 remove-again sr environments remove Staging
err_contains "no such environment type"
expect 0 after-remove sr environments list
lacks "$T/after-remove.out" Staging

# Rename: the rows follow their type, and their secrets still open.
expect 0 new-renamed sr new renamed-ref --environment Acceptance --manual \
  <"$(input renamed "$renamed_secret")"
expect 0 rename sr environments rename acceptance Staging-Area
expect 0 after-rename sr environments list
out_contains Staging-Area
lacks "$T/after-rename.out" Acceptance
expect 0 verify-renamed sr --environment staging-area verify renamed-ref
expect 0 verify-renamed-db sr --environment Staging-Area verify db-password
equal "$(resolved db-password --environment Staging-Area)" Staging-Area \
  "the row follows the renamed type"
expect 3 old-name sr --environment Acceptance verify renamed-ref
err_contains "no such environment type"
expect 9 rename-taken sr environments rename Staging-Area test
err_contains "already exists"
expect 3 rename-missing sr environments rename Nowhere Elsewhere
err_contains "no such environment type"
expect 2 rename-bad sr environments rename Test "$(printf 'Two\nLines')"
err_contains "control character"
# A renamed-only change of case is allowed.
expect 0 rename-case sr environments rename test TEST
expect 0 verify-case sr --environment test verify db-password

# Moving a row to another type re-seals it: its secret opens there.
expect 0 move sr --environment Staging-Area set renamed-ref --environment Production
expect 0 move-verify sr --environment Production verify renamed-ref
expect 4 move-old sr --environment Staging-Area verify renamed-ref
err_contains "bound to environment type Production"
# ... and moving onto a row of the same name and type is refused.
expect 9 move-clash sr --environment Development set db-password --environment Production
err_contains "already exists"
one_line "$T/move-clash.err"
expect 0 move-clash-verify sr --environment Development verify db-password
# The store's default active type follows a rename (else every command
# would fail on a type that no longer exists), and cannot be removed even
# while another type is active by option.
expect 0 add-qa sr environments add QA
expect 0 default-qa sr parameters set environment qa
expect 9 remove-default sr --environment Production environments remove QA
err_contains "QA: it is the active environment type"
one_line "$T/remove-default.err"
expect 0 rename-default sr environments rename qa Quality
expect 0 default-renamed sr parameters get environment
equal "$(cat "$T/default-renamed.out")" Quality "the parameter follows the rename"
expect 0 list-after-rename sr list
expect 0 envs-after-rename sr environments list
out_contains "Quality (active)"
expect 0 clear-default sr parameters set environment ""
expect 0 remove-quality sr environments remove Quality

expect 0 audit sr audit
out_contains add-environment
out_contains remove-environment
out_contains rename-environment

for s in "${secrets[@]}" "$prod_only" "$renamed_secret" x-duplicate-x; do no_leak "$s"; done
