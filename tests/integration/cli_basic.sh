#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The everyday path: init, new of each kind, list, show, verify, delete;
# file modes; JSON output; and no secret anywhere but sealed in the store.
source "$(dirname "$0")/../lib/common.sh"
require jq openssl

secret='Manual-Secret-7f3a9c!'
prod_secret='Prod-Secret-91b2e0?'

expect 0 init sr init
equal "$(stat -c %a "$T/store")" 700 "store folder mode"
equal "$(stat -c %a "$SECRETREF_STORE")" 600 "store file mode"
equal "$(stat -c %a "$SECRETREF_KEY_FILE")" 600 "key file mode"
expect 9 init-again sr init
err_contains "already exists"

expect 0 new-manual sr new db-password --description "orders database" \
  --manual --expires 2099-12-31 <<<"$secret"
printf '%s' "$prod_secret" >"$(input prod "")"; secret_file=$T/input/prod
expect 0 new-prod sr new db-password --environment Production --manual \
  --secret-file "$secret_file"
expect 0 new-kv sr new vault-ref --key-vault vault://main-vault/orders-db/3f2a
expect 0 new-cert sr new sftp-key --generate ec-p256 --description "Azure SFTP"
expect 9 new-dup sr new db-password --manual --secret-file "$secret_file"
err_contains "already exists"
one_line "$T/new-dup.err"

expect 0 list sr list
out_contains db-password
out_contains Production
out_contains vault-ref
expect 0 list-json sr list --json
equal "$(jq length "$T/list-json.out")" 4 "references listed"
equal "$(jq -r '.[] | select(.name=="vault-ref") | .kind' "$T/list-json.out")" \
  key-vault "kind in JSON"

expect 0 show sr show db-password --json
equal "$(jq -r .description "$T/show.out")" "orders database" "description"
equal "$(jq -r .secret "$T/show.out")" set "secret state"
equal "$(jq -r .expires "$T/show.out")" 2099-12-31 "expiry"
expect 0 show-kv sr show vault-ref --json
equal "$(jq -r .key_vault.version "$T/show-kv.out")" 3f2a "vault version"
expect 0 show-cert sr show sftp-key --json
equal "$(jq -r .key.type "$T/show-cert.out")" EC "key type"
equal "$(jq -r .key.curve "$T/show-cert.out")" P-256 "curve"

expect 0 verify sr verify db-password
expect 0 verify-prod sr --environment Production verify db-password
expect 0 verify-cert sr verify sftp-key
expect 3 verify-missing sr verify no-such-ref
err_contains "no-such-ref: no such reference"
one_line "$T/verify-missing.err"

expect 0 delete sr delete vault-ref
expect 3 delete-again sr delete vault-ref
expect 0 audit sr audit
out_contains "delete"
out_contains "verify"

# A secret typed after an abbreviated option (--secret for --secret-file)
# is refused without being echoed.
expect 2 abbreviated sr new other --manual --secret "Typed-On-Argv-55"
err_contains "unknown option --secret"
lacks "$T/abbreviated.err" "Typed-On-Argv-55"

expect 0 help sr new --help
out_contains "--secret-file"
expect 2 bad-option sr list --bogus

# Nothing of either secret anywhere: outputs, audit, store, WAL.
no_leak "$secret"
no_leak "$prod_secret"
