#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The form on a terminal: new asks for the missing fields in the order of
# the product's form (Secret reference, Description, Environment type,
# Expiring date, Kind) and then for the manual secret without echo, twice.
# Driven through a real pseudo-terminal made by util-linux script(1).
# Off a terminal, the secret comes from standard input.
source "$(dirname "$0")/../lib/common.sh"
require script mkfifo jq

typed_secret='Typed-On-The-Terminal-7c2e91'
other_typed='Another-Typed-Secret-b05d3a'
piped_secret='Piped-Secret-e4a0c8!'
pass_secret='Prompted-Passphrase-Secret-19fe3b'
passphrase='terminal passphrase 5k2m'

expect 0 init sr init

# session NAME ARGS...: runs secretref ARGS on a pseudo-terminal; its
# terminal output goes to $T/NAME.tty, answers go through fd 3.
session_start() {
  local name=$1 cmd; shift
  cmd=$(printf '%q ' "$SECRETREF" "$@")
  session=$name
  mkfifo "$T/$name.fifo"
  script -q -e -c "$cmd" /dev/null <"$T/$name.fifo" >"$T/$name.tty" 2>&1 &
  session_pid=$!
  exec 3>"$T/$name.fifo"
}
# answer PROMPT TEXT: waits for PROMPT on the terminal, then types TEXT.
# Secrets are typed a moment after their prompt, once echo is off.
answer() {
  local prompt=$1 text=$2 _
  for _ in $(seq 1 "$(scaled 400)"); do
    grep -qaF -- "$prompt" "$T/$session.tty" && break
    sleep 0.05
  done
  if ! grep -qaF -- "$prompt" "$T/$session.tty"; then
    fail "$session: no prompt '$prompt': $(cat -v "$T/$session.tty")"
    return
  fi
  pass
  case $prompt in *secret*|*confirm*|*passphrase*) sleep "$(scaled 0.3)" ;; esac
  printf '%s\n' "$text" >&3
}
# session_end: closes the terminal's input and waits; sets $status.
session_end() {
  exec 3>&-
  set +e
  wait "$session_pid"
  status=$?
  set -e
  rm -f "$T/$session.fifo"
}
# in_order FILE TEXT...: each TEXT appears in FILE after the one before.
in_order() {
  local file=$1 at=-1 pos text; shift
  for text in "$@"; do
    pos=$(grep -boaF -- "$text" "$file" | head -1 | cut -d: -f1)
    if [ -z "$pos" ]; then fail "$file lacks '$text'"; return; fi
    if [ "$pos" -le "$at" ]; then fail "'$text' comes too early in $file"; return; fi
    at=$pos
  done
  pass
}

# ---- the whole form, manual kind ---------------------------------------------
session_start form new
answer "Secret reference: " prompted-ref
answer "Description: " "typed on a terminal"
answer "Environment type (empty for none): " test
answer "Expiring date (YYYY-MM-DD, empty for none): " 2099-01-02
answer "Kind (manual, key-vault, certificate) [manual]: " ""
answer "Manual secret: " "$typed_secret"
answer "Again, to confirm: " "$typed_secret"
session_end
equal "$status" 0 "new on a terminal: exit status"
in_order "$T/form.tty" "Secret reference: " "Description: " "Environment type" \
  "Expiring date" "Kind (" "Manual secret: " "Again, to confirm: " \
  "prompted-ref: created (manual)"
# The answers to the plain fields are echoed; the secret is not.
contains "$T/form.tty" "typed on a terminal"
lacks "$T/form.tty" "$typed_secret"
expect 0 form-show sr --environment Test show prompted-ref --json
equal "$(jq -r .name "$T/form-show.out")" prompted-ref "name"
equal "$(jq -r .description "$T/form-show.out")" "typed on a terminal" "description"
equal "$(jq -r .environment_type "$T/form-show.out")" Test "environment type"
equal "$(jq -r .expires "$T/form-show.out")" 2099-01-02 "expiring date"
equal "$(jq -r .kind "$T/form-show.out")" manual "kind"
equal "$(jq -r .secret "$T/form-show.out")" set "secret"
expect 0 form-verify sr --environment Test verify prompted-ref

# ---- given fields are not asked for ------------------------------------------
session_start given new given-ref --description given --environment Production \
  --expires 2098-03-04 --manual
answer "Manual secret: " "$other_typed"
answer "Again, to confirm: " "$other_typed"
session_end
equal "$status" 0 "new with every field given"
lacks "$T/given.tty" "Secret reference: "
lacks "$T/given.tty" "Description: "
lacks "$T/given.tty" "Environment type"
lacks "$T/given.tty" "Expiring date"
lacks "$T/given.tty" "Kind ("
lacks "$T/given.tty" "$other_typed"
expect 0 given-show sr --environment production show given-ref --json
equal "$(jq -r .expires "$T/given-show.out")" 2098-03-04 "given expiry"

# ---- the Key Vault kind asks for its locator -----------------------------------
session_start kv new
answer "Secret reference: " kv-ref
answer "Description: " ""
answer "Environment type (empty for none): " ""
answer "Expiring date (YYYY-MM-DD, empty for none): " ""
answer "Kind (manual, key-vault, certificate) [manual]: " key-vault
answer "Key Vault client: " main-vault
answer "Key Vault secret name: " orders-db
answer "Secret version (empty for the latest): " ""
session_end
equal "$status" 0 "a Key Vault reference from the form"
lacks "$T/kv.tty" "Manual secret"
expect 0 kv-show sr show kv-ref --json
equal "$(jq -c .key_vault "$T/kv-show.out")" \
  '{"client":"main-vault","secret":"orders-db","version":null}' "locator from the form"
equal "$(jq -r .environment_type "$T/kv-show.out")" null "empty: no environment type"
equal "$(jq -r .expires "$T/kv-show.out")" null "empty: no expiry date"

# ---- refusals on a terminal ----------------------------------------------------
session_start mismatch new mismatch-ref --description x --environment "" \
  --expires none --manual
answer "Manual secret: " "$typed_secret"
answer "Again, to confirm: " "$other_typed"
session_end
[ "$status" -ne 0 ] && [ "$status" -lt 128 ] && pass ||
  fail "two different entries: exit status $status"
contains "$T/mismatch.tty" "the two entries differ"
lacks "$T/mismatch.tty" "$typed_secret"
lacks "$T/mismatch.tty" "$other_typed"
expect 3 mismatch-none sr show mismatch-ref

session_start empty-typed new empty-ref --description x --environment "" \
  --expires none --manual
answer "Manual secret: " ""
session_end
[ "$status" -ne 0 ] && [ "$status" -lt 128 ] && pass ||
  fail "an empty typed secret: exit status $status"
contains "$T/empty-typed.tty" "the secret is empty"
expect 3 empty-typed-none sr show empty-ref

session_start bad-kind new
answer "Secret reference: " bad-kind-ref
answer "Description: " ""
answer "Environment type (empty for none): " ""
answer "Expiring date (YYYY-MM-DD, empty for none): " ""
answer "Kind (manual, key-vault, certificate) [manual]: " password
session_end
equal "$status" 2 "an unknown kind"
contains "$T/bad-kind.tty" "password: not a kind"

session_start bad-date new
answer "Secret reference: " bad-date-ref
answer "Description: " ""
answer "Environment type (empty for none): " ""
answer "Expiring date (YYYY-MM-DD, empty for none): " 2026-02-30
answer "Kind (manual, key-vault, certificate) [manual]: " manual
answer "Manual secret: " "$typed_secret"
answer "Again, to confirm: " "$typed_secret"
session_end
equal "$status" 8 "an impossible date typed in"
contains "$T/bad-date.tty" "2026-02-30: not a date"
lacks "$T/bad-date.tty" "$typed_secret"

# End of input at a prompt.
session_start eof new
answer "Secret reference: " eof-ref
session_end
equal "$status" 2 "end of input at a prompt"
contains "$T/eof.tty" "no answer"
expect 3 eof-none sr show eof-ref

# ---- a passphrase asked for on the terminal -------------------------------------
pstore=$T/pstore/store.db
expect 0 pinit sr --store "$pstore" --passphrase-file "$(input pass "$passphrase")" \
  init --passphrase
expect 0 pnew sr --store "$pstore" --passphrase-file "$T/input/pass" new api-token \
  --manual <"$(input pass-secret "$pass_secret")"
session_start pverify --store "$pstore" verify api-token
answer "Store passphrase: " "$passphrase"
session_end
equal "$status" 0 "the passphrase typed on the terminal"
contains "$T/pverify.tty" "api-token: ok"
lacks "$T/pverify.tty" "$passphrase"

# ---- off a terminal: standard input ---------------------------------------------
expect 0 piped sr new piped-ref --manual <"$(input piped "$piped_secret")"
err_contains "piped-ref: created (manual)"
lacks "$T/piped.err" "Manual secret"
expect 0 piped-verify sr verify piped-ref
printf '%s\r\n' "$piped_secret" >"$T/input/piped-crlf"
expect 0 piped-crlf sr set piped-ref --manual <"$T/input/piped-crlf"
expect 2 piped-empty sr new empty-ref --manual </dev/null
err_contains "the secret is empty"
one_line "$T/piped-empty.err"
expect 2 piped-empty-line sr new empty-ref --manual <"$(input empty-line $'\n')"
err_contains "the secret is empty"
expect 3 piped-empty-none sr show empty-ref
# Without a terminal nothing is asked: the name and kind must be given.
expect 2 no-name sr new --manual </dev/null
err_contains "give the reference's NAME"
lacks "$T/no-name.err" "Secret reference:"
expect 2 no-kind sr new no-kind-ref <"$T/input/piped"
err_contains "give the kind"
lacks "$T/no-kind.err" "Description:"
# A secret never comes from the command line.
expect 0 help sr new --help
out_contains "never from the command line"

expect 0 audit sr audit
for s in "$typed_secret" "$other_typed" "$piped_secret" "$pass_secret" "$passphrase"; do
  no_leak "$s"
done
