#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Retries against the Azure double: 429 with Retry-After in seconds and as
# an HTTP date, 503 and the other retryable answers (408, 500, 502, 504), a
# dropped connection, a refused connection, and the token endpoint's and
# the metadata service's own 503s are retried and succeed, waiting as
# Azure asks; the deadline (SECRETREF_KEYVAULT_DEADLINE) holds against a
# persistent 503, a Retry-After beyond it and a slow answer; 400, 403 and
# 404 are sent once; an expired token gets exactly one refresh and one
# retry, and a token the vault keeps refusing no more than that.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/azure.sh"
require jq date awk sh

expect 0 init sr init
azure_start
kv_secret_client kv myvault
client_id=$KV_CLIENT_ID
value='Retry-Value-41c9e2!'
azure_secret myvault db "$value" >/dev/null
expect 0 new-ref sr new db --key-vault vault://kv/db
# The sanitizer build starts slower: a little more room on timings.
slack=0
[ "${SECRETREF_ASAN:-0}" = 1 ] && slack=1.5
# Under valgrind, secretref takes seconds to start (and to end).
[ "${SECRETREF_VALGRIND:-0}" = 1 ] && slack=$(scaled 0.5)
hi() { awk -v a="$1" -v b="$slack" 'BEGIN { print a + b }'; }

# gets: the authorized GETs of db since the mark, as "status" lines.
gets() { azure_since '.kind=="secret" and .path=="/secrets/db" and .headers.Authorization != null' | jq -r .status; }
# gap N: seconds between the (N-1)th and the Nth authorized GET.
gap() {
  azure_since '.kind=="secret" and .path=="/secrets/db" and .headers.Authorization != null' |
    jq -s -r --argjson n "$1" '.[$n - 1].time - .[$n - 2].time'
}
at_least() {
  awk -v d="$1" -v lo="$2" 'BEGIN { exit !(d >= lo) }' && pass || fail "$3: $1 s, want at least $2 s"
}

# ---- retried and successful ------------------------------------------------------
# 429 with Retry-After: 2 (seconds), twice.
azure_fault vault 429 2 '{"vault": "myvault", "secret": "db", "authorized": true, "retry_after": 2}'
azure_mark
value_is db "$value" "after two 429s"
equal "$(gets | paste -sd' ')" "429 429 200" "429, 429, then the secret"
at_least "$(gap 2)" 1.9 "Retry-After: 2 honoured (1st)"
at_least "$(gap 3)" 1.9 "Retry-After: 2 honoured (2nd)"

# 429 with Retry-After as an HTTP date, 3 s ahead (whole seconds: 2-3 s).
azure_fault vault 429 1 '{"secret": "db", "authorized": true, "retry_after_date": 3}'
azure_mark
value_is db "$value" "after a 429 with an HTTP date"
equal "$(gets | paste -sd' ')" "429 200" "429 (date), then the secret"
at_least "$(gap 2)" 1.5 "Retry-After as an HTTP date honoured"

# 503 without Retry-After: backoff, then success.
azure_fault vault 503 2 '{"secret": "db", "authorized": true}'
azure_mark
value_is db "$value" "after two 503s"
equal "$(gets | paste -sd' ')" "503 503 200" "503, 503, then the secret"
at_least "$(gap 2)" 0.2 "a backoff before the first retry"

# The other retryable answers.
for code in 408 500 502 504; do
  azure_fault vault "$code" 1 '{"secret": "db", "authorized": true}'
  azure_mark
  value_is db "$value" "after a $code"
  equal "$(gets | paste -sd' ')" "$code 200" "$code retried"
done

# A connection dropped without an answer.
azure_fault vault drop 1 '{"secret": "db", "authorized": true}'
azure_mark
value_is db "$value" "after a dropped connection"
equal "$(gets | paste -sd' ')" "dropped 200" "a dropped connection is retried"

# Entra ID and the metadata service retry too.
azure_fault login 503 1
azure_mark
value_is db "$value" "after a 503 from Entra ID"
equal "$(azure_since '.kind=="token"' | jq -r .status | paste -sd' ')" "503 200" "token endpoint 503 retried"
azure_fault login 429 1 '{"retry_after": 1}'
azure_mark
value_is db "$value" "after a 429 from Entra ID"
equal "$(azure_since '.kind=="token"' | jq -r .status | paste -sd' ')" "429 200" "token endpoint 429 retried"
mi_id=$(uuid)
azure_identity "$mi_id"
azure_grant myvault "$mi_id"
expect 0 add-mi sr keyvault add kv-mi --vault-url https://myvault.vault.azure.net \
  --client-id "$mi_id" --managed-identity --authority "$AZURE_IMDS_URL" --ca-file "$AZURE_CA"
expect 0 new-mi sr new db-mi --key-vault vault://kv-mi/db
azure_fault imds 503 1
azure_mark
value_is db-mi "$value" "after a 503 from the metadata service"
equal "$(azure_since '.kind=="imds"' | jq -r .status | paste -sd' ')" "503 200" "IMDS 503 retried"

# ---- the deadline ------------------------------------------------------------------
export SECRETREF_KEYVAULT_DEADLINE=3
# A vault that answers 503 forever.
azure_fault vault 503 1000 '{"secret": "db", "authorized": true}'
azure_mark
t0=$(now)
expect 7 deadline-503 sr verify db
t1=$(now)
within 0.5 "$(hi 4)" "$t0" "$t1" "a persistent 503 within the 3 s deadline"
one_line "$T/deadline-503.err"
err_matches "503|ServiceUnavailable"
err_contains kv
[ "$(azure_requests '.kind=="secret" and .status==503')" -ge 2 ] && pass ||
  fail "a persistent 503 was not retried"
azure_clear_faults

# Retry-After beyond the deadline: fail now rather than wait past it.
azure_fault vault 429 1000 '{"secret": "db", "authorized": true, "retry_after": 30}'
t0=$(now)
expect 7 deadline-429 sr verify db
t1=$(now)
within 0 "$(hi 4)" "$t0" "$t1" "Retry-After: 30 with a 3 s deadline"
one_line "$T/deadline-429.err"
err_matches "429|Throttled"
azure_clear_faults

# A slow answer (10 s) beyond the deadline.
azure_fault vault slow 1 '{"secret": "db", "authorized": true, "delay": 6}'
azure_mark
t0=$(now)
expect 7 deadline-slow sr verify db
t1=$(now)
within 2 "$(hi 5)" "$t0" "$t1" "a 6 s answer with a 3 s deadline"
one_line "$T/deadline-slow.err"
err_contains kv
azure_clear_faults
# The double finishes that answer (to a closed connection) before going on.
azure_wait_for '.fault=="slow"' 10 && pass || fail "the slow answer never finished"

# Nothing listening: transport errors are retried until the deadline.
closed=$(free_port)
t0=$(now)
SECRETREF_KEYVAULT_CONNECT_TO="myvault.vault.azure.net:443:127.0.0.1:$closed,login.microsoftonline.com:443:127.0.0.1:$closed" \
  expect 7 refused sr verify db
t1=$(now)
within 1.5 "$(hi 5)" "$t0" "$t1" "a refused connection retried until the deadline"
one_line "$T/refused.err"
err_contains kv
export SECRETREF_KEYVAULT_DEADLINE=30

# ---- not retried -------------------------------------------------------------------
# once NAME CODE REF: verify REF fails (7) after exactly one authorized GET.
once() {
  azure_mark
  expect 7 "$1" sr verify "$3"
  one_line "$T/$1.err"
  err_contains "$2"
  equal "$(azure_requests '.kind=="secret" and .headers.Authorization != null')" 1 "$1: sent once"
}
azure_fault vault 400 5 '{"secret": "db", "authorized": true}'
once bad-request BadParameter db
azure_clear_faults
norole_id=$(uuid)
azure_client_secret "$norole_id" "$KV_CLIENT_SECRET"
expect 0 add-norole sr keyvault add kv-norole --vault-url https://myvault.vault.azure.net \
  --tenant "$AZURE_TENANT" --client-id "$norole_id" --client-secret-ref kv-secret --ca-file "$AZURE_CA"
expect 0 new-norole sr new db-norole --key-vault vault://kv-norole/db
once forbidden Forbidden db-norole
expect 0 new-missing sr new missing --key-vault vault://kv/missing
once not-found SecretNotFound missing
# A refused client secret: one token request.
expect 0 new-wrong sr new wrong-secret --manual --secret-file "$(input wrong 'Wrong-Secret-77ab01')"
expect 0 add-wrong sr keyvault add kv-wrong --vault-url https://myvault.vault.azure.net \
  --tenant "$AZURE_TENANT" --client-id "$client_id" --client-secret-ref wrong-secret --ca-file "$AZURE_CA"
expect 0 new-wrong-ref sr new db-wrong --key-vault vault://kv-wrong/db
azure_mark
expect 7 wrong-secret sr verify db-wrong
equal "$(azure_requests '.kind=="token"')" 1 "a refused client secret is sent once"

# ---- 401: one refresh, one retry -----------------------------------------------------
# The token expires while the vault holds the request (a slow answer): the
# vault answers 401, the client gets a new token and tries once more.
azure_fault vault slow 1 '{"secret": "db", "authorized": true, "delay": 3}'
azure_mark
sr verify db >"$T/refresh.out" 2>"$T/refresh.err" &
pid=$!
if azure_wait_for '.kind=="token" and .status==200' 10; then
  azure_expire "$client_id"
  pass
else
  fail "no token request seen"
fi
for i in $(seq "$(scaled 200)"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "verify still running after $(scaled 20) s"; }
set +e; wait "$pid"; status=$?; set -e
last=refresh
equal "$status" 0 "an expired token is refreshed: $(cat "$T/refresh.err")"
equal "$(gets | paste -sd' ')" "401 200" "401, then the secret with a new token"
equal "$(azure_requests '.kind=="token" and .status==200')" 2 "exactly one refresh"
tokens=$(azure_since '.kind=="secret" and .headers.Authorization != null' | jq -r .headers.Authorization | sort -u | wc -l)
equal "$tokens" 2 "the retry carries the new token"

# A vault that refuses every token (issued by another tenant): one refresh,
# one retry, then the error.
tenant2=$(uuid)
azure_tenant "$tenant2"
t2_id=$(uuid)
azure_client_secret "$t2_id" "$KV_CLIENT_SECRET" "$tenant2"
azure_grant myvault "$t2_id"
expect 0 add-t2 sr keyvault add kv-t2 --vault-url https://myvault.vault.azure.net \
  --tenant "$tenant2" --client-id "$t2_id" --client-secret-ref kv-secret --ca-file "$AZURE_CA"
expect 0 new-t2 sr new db-t2 --key-vault vault://kv-t2/db
azure_mark
expect 7 always-401 sr verify db-t2
one_line "$T/always-401.err"
err_contains Unauthorized
equal "$(azure_requests '.kind=="token"')" 2 "one token, one refresh"
equal "$(gets | paste -sd' ')" "401 401" "one retry after the refresh, no more"

# Nothing secret anywhere.
no_leak "$value"
no_leak "$KV_CLIENT_SECRET"
azure_no_token_leak
