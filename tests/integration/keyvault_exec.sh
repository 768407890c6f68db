#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# secretref exec with Key Vault and manual references, against the Azure
# double: the child gets each secret, byte for byte, in its environment;
# nothing else sees it: not secretref's output or errors, not the arguments
# of any process while the child runs, not secretref's own environment, not
# the audit log or the store; the child gets no token and no client secret;
# the child's exit status (and signal) is passed through; a reference that
# cannot be resolved runs nothing.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/azure.sh"
require jq sh ps grep tr sleep

expect 0 init sr init
azure_start
kv_secret_client kv myvault

db_password='Db-Password-5c81e0!'
tricky=$'Kv "quoted" $HOME `cmd` \\ spaces\ttab ünï'
api_key='Manual-Api-Key-0b7d3a?'
azure_secret myvault db-password "$db_password" >/dev/null
azure_secret myvault tricky "$tricky" >/dev/null
expect 0 new-kv sr new kvref --key-vault vault://kv/db-password
expect 0 new-tricky sr new tricky --key-vault kv --vault-secret tricky
expect 0 new-manual sr new manualref --manual --secret-file "$(input api "$api_key")"
O=$T/input
mkdir -p "$O"

# ---- the child gets the secrets --------------------------------------------------
azure_mark
expect 0 exec sr exec --env DB_PASSWORD=kvref --env API=manualref --env TRICKY=tricky -- \
  sh -c 'printf "%s" "$DB_PASSWORD" >"$0/db"; printf "%s" "$API" >"$0/api";
         printf "%s" "$TRICKY" >"$0/tricky"; env >"$0/child-env"; echo child-ran' "$O"
equal "$(cat "$O/db")" "$db_password" "Key Vault secret in the child"
equal "$(cat "$O/api")" "$api_key" "manual secret in the child"
[ "$(cat "$O/tricky")" == "$tricky" ] && pass || fail "a value with quotes, \$, backquotes, tabs and UTF-8 changed"
out_contains child-ran
lacks "$T/exec.out" "$db_password"
equal "$(azure_requests '.kind=="token"')" 1 "one token for two secrets of one client"
# A token with under 2 minutes left is not reused: with 100 s tokens, each
# resolution gets its own.
azure_lifetime "$KV_CLIENT_ID" 100
azure_mark
expect 0 exec-short sr exec --env A=kvref --env B=tricky -- true
equal "$(azure_requests '.kind=="token"')" 2 "a token with under 2 minutes left is refreshed"
azure_lifetime "$KV_CLIENT_ID" 3599
# The child's environment holds the secrets asked for, and no token or
# client secret.
lacks "$O/child-env" "$KV_CLIENT_SECRET"
while IFS= read -r tok; do
  grep -qF -- "${tok##*.}" "$O/child-env" && fail "a token is in the child's environment" || pass
done < <(azure_tokens)

# ---- nothing else sees them while the child runs ------------------------------------
# The child waits (at most 10 s) for a go file; meanwhile every process's
# arguments, and secretref's own environment, are read.
rm -f "$O/go" "$O/ready"
"$SECRETREF" exec --env DB_PASSWORD=kvref -- sh -c 'printf "%s" "$DB_PASSWORD" >"$0/db2"; : >"$0/ready";
  i=0; while [ ! -f "$0/go" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done' "$O" \
  >"$T/watched.out" 2>"$T/watched.err" &
pid=$!
for i in $(seq "$(scaled 200)"); do [ -f "$O/ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if [ -f "$O/ready" ]; then
  pass
  child=$(ps -o pid= --ppid "$pid" | tr -d ' ' | head -1)
  # Every process's arguments (the secret only: no other process can know it).
  hits=0
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$db_password"; then hits=$((hits + 1)); fi
  done
  equal "$hits" 0 "processes with the secret in their arguments"
  if tr '\0' '\n' <"/proc/$pid/environ" | grep -qF -- "$db_password"; then
    fail "the secret is in secretref's own environment"
  else pass; fi
  if [ -n "$child" ] && tr '\0' '\n' <"/proc/$child/environ" | grep -qxF -- "DB_PASSWORD=$db_password"; then
    pass
  else
    fail "the child's environment does not hold DB_PASSWORD (child pid '$child')"
  fi
  tr '\0' ' ' <"/proc/$pid/cmdline" >"$T/watched.cmdline"
  contains "$T/watched.cmdline" "--env DB_PASSWORD=kvref"
else
  fail "the child never started: $(cat "$T/watched.err")"
fi
: >"$O/go"
for i in $(seq "$(scaled 100)"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "exec still running"; }
set +e; wait "$pid"; status=$?; set -e
equal "$status" 0 "exec while watched"
equal "$(cat "$O/db2")" "$db_password" "the watched child got the secret"

# ---- exit status passed through ---------------------------------------------------
expect 42 exit-42 sr exec --env X=kvref -- sh -c 'exit 42'
expect 0 exit-0 sr exec --env X=kvref -- true
expect 143 signal sr exec --env X=kvref -- sh -c 'kill -TERM $$'
expect 127 no-program sr exec --env X=kvref -- /nonexistent/program
lacks "$T/no-program.err" "$db_password"

# ---- nothing runs without its secrets -------------------------------------------------
expect 0 new-missing sr new missing --key-vault vault://kv/no-such-secret
rm -f "$O/ran"
expect 7 unresolved sr exec --env A=kvref --env B=missing -- sh -c ': >"$0/ran"' "$O"
one_line "$T/unresolved.err"
err_contains SecretNotFound
[ -f "$O/ran" ] && fail "the child ran without all its secrets" || pass
expect 3 unknown sr exec --env A=no-such-ref -- sh -c ': >"$0/ran"' "$O"
[ -f "$O/ran" ] && fail "the child ran for an unknown reference" || pass
expect 0 new-cert sr new a-key --generate ec-p256
expect 9 wrong-kind sr exec --env A=a-key -- sh -c ': >"$0/ran"' "$O"
[ -f "$O/ran" ] && fail "the child ran with a key reference" || pass
expect 2 bad-var sr exec --env 1BAD=kvref -- true
expect 2 no-command sr exec --env A=kvref
expect 2 no-env sr exec -- true

# ---- nowhere else ------------------------------------------------------------------------
expect 0 audit sr audit
expect 0 audit-json sr audit --json
expect 0 list sr list --json
expect 0 show sr show kvref --json
for s in "$db_password" "$api_key" "$KV_CLIENT_SECRET" "$tricky"; do no_leak "$s"; done
azure_no_token_leak
