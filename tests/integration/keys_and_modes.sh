#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The encryption key: a wrong key file, a key file others can read, a
# missing or malformed one, and a store sealed with a passphrase. Metadata
# commands open the store without its key; everything that opens a secret
# needs the right one.
source "$(dirname "$0")/../lib/common.sh"
require jq sqlite3

secret='Key-Test-Secret-4d1e8b!'
rotated='Key-Test-Rotated-0c6f2a#'
pass_secret='Passphrase-Store-Secret-93ab7e%'
passphrase='correct horse battery staple 7Q'
wrong_passphrase='incorrect horse battery staple'

# ---- a store sealed with a key file, and a second, unrelated store ------
expect 0 init sr init
expect 0 new sr new db-password --description "orders" --manual \
  <"$(input secret "$secret")"
expect 0 verify sr verify db-password

other_key=$T/other/master.key
expect 0 init-other sr --store "$T/other/store.db" --key-file "$other_key" init
equal "$(stat -c %a "$other_key")" 600 "second key file mode"

# Another valid key: every command that opens a secret refuses it.
before=$(store_digest || true)
expect 5 wrong-verify sr --key-file "$other_key" verify db-password
err_contains "wrong encryption key"
one_line "$T/wrong-verify.err"
SECRETREF_KEY_FILE=$other_key expect 5 wrong-verify-env sr verify db-password
err_contains "wrong encryption key"
one_line "$T/wrong-verify-env.err"
expect 5 wrong-new sr --key-file "$other_key" new other --manual \
  <"$(input secret2 "$rotated")"
err_contains "wrong encryption key"
one_line "$T/wrong-new.err"
expect 5 wrong-set sr --key-file "$other_key" set db-password --manual \
  <"$(input rotated "$rotated")"
err_contains "wrong encryption key"
one_line "$T/wrong-set.err"
expect 5 wrong-rollback sr --key-file "$other_key" rollback db-password 1
err_contains "wrong encryption key"
equal "$(store_digest)" "$before" "store unchanged by a wrong key"

# Metadata commands open the store without its key (cli_open(cli, 0)), so
# they work with a wrong key, and even with no key file at all; they never
# show a secret.
expect 0 wrong-list sr --key-file "$other_key" list
out_contains db-password
expect 0 wrong-show sr --key-file "$other_key" show db-password --json
equal "$(jq -r .secret "$T/wrong-show.out")" set "show with a wrong key"
equal "$(jq -r .description "$T/wrong-show.out")" orders "description"
expect 0 wrong-export sr --key-file "$other_key" export
equal "$(jq -r '.references[0].name' "$T/wrong-export.out")" db-password \
  "export with a wrong key"
expect 0 wrong-history sr --key-file "$other_key" history db-password
expect 0 nokey-list sr --key-file "$T/keys/absent.key" list
out_contains db-password
# ... but verify, the one that opens the secret, still fails.
expect 5 wrong-verify-again sr --key-file "$other_key" verify db-password
err_contains "wrong encryption key"

# ---- key file modes -------------------------------------------------------
chmod 0644 "$SECRETREF_KEY_FILE"
expect 5 mode-644 sr verify db-password
err_contains "mode 0644"
err_contains "chmod 600"
err_contains "$SECRETREF_KEY_FILE"
one_line "$T/mode-644.err"
expect 5 mode-644-new sr new other --manual <"$(input secret3 "$rotated")"
err_contains "mode 0644"
chmod 0640 "$SECRETREF_KEY_FILE"
expect 5 mode-640 sr verify db-password
err_contains "mode 0640"
err_contains "chmod 600"
chmod 0604 "$SECRETREF_KEY_FILE"
expect 5 mode-604 sr verify db-password
err_contains "mode 0604"
chmod 0400 "$SECRETREF_KEY_FILE"
expect 0 mode-400 sr verify db-password
chmod 0600 "$SECRETREF_KEY_FILE"
expect 0 mode-600 sr verify db-password

# ---- a missing or malformed key file --------------------------------------
expect 5 missing-key sr --key-file "$T/keys/absent.key" verify db-password
err_contains "key file $T/keys/absent.key"
err_contains "No such file or directory"
one_line "$T/missing-key.err"
bad_key=$T/keys/bad.key
printf 'not a key at all\n' >"$bad_key"
chmod 600 "$bad_key"
expect 5 malformed-key sr --key-file "$bad_key" verify db-password
err_contains "not a secretref key"
one_line "$T/malformed-key.err"
mkdir -p "$T/keys/dir.key"
chmod 700 "$T/keys/dir.key"
expect 5 dir-key sr --key-file "$T/keys/dir.key" verify db-password
err_contains "not a regular file"
one_line "$T/dir-key.err"
# init never overwrites an existing key file.
expect 9 init-over-key sr --store "$T/third/store.db" \
  --key-file "$SECRETREF_KEY_FILE" init
err_contains "already exists"
one_line "$T/init-over-key.err"
[ ! -e "$T/third/store.db" ] && pass || fail "init left a store behind"

# ---- a store sealed with a passphrase -------------------------------------
pstore=$T/pstore/store.db
pass_file=$(input passphrase "$passphrase")
wrong_file=$(input wrong-passphrase "$wrong_passphrase")
printf '%s\n' "$passphrase" >"$T/input/passphrase-nl"
psr() { sr --store "$pstore" "$@"; }

expect 2 pinit-no-pass psr init --passphrase </dev/null
err_contains "--passphrase-file"
[ ! -e "$pstore" ] && pass || fail "init --passphrase left a store behind"
expect 0 pinit psr --passphrase-file "$pass_file" init --passphrase
err_contains "passphrase"
equal "$(stat -c %a "$pstore")" 600 "passphrase store mode"
expect 0 pnew psr --passphrase-file "$pass_file" new api-token --manual \
  <"$(input pass-secret "$pass_secret")"
# The key file is not used by a passphrase store.
expect 0 pverify psr --key-file "$T/keys/absent.key" \
  --passphrase-file "$pass_file" verify api-token
out_contains "api-token: ok"
# The passphrase from the environment; a trailing newline in the file is
# the editor's.
SECRETREF_PASSPHRASE_FILE=$T/input/passphrase-nl \
  expect 0 pverify-env psr verify api-token
# A wrong passphrase: the wrong key, in one line.
before=$(cat "$pstore" "$pstore-wal" 2>/dev/null | sha256sum || true)
expect 5 pwrong psr --passphrase-file "$wrong_file" verify api-token
err_contains "wrong encryption key"
one_line "$T/pwrong.err"
SECRETREF_PASSPHRASE_FILE=$wrong_file expect 5 pwrong-env psr verify api-token
err_contains "wrong encryption key"
# The option wins over the environment.
SECRETREF_PASSPHRASE_FILE=$pass_file \
  expect 5 pwrong-option psr --passphrase-file "$wrong_file" verify api-token
err_contains "wrong encryption key"
expect 5 pwrong-set psr --passphrase-file "$wrong_file" set api-token --manual \
  <"$(input pass-rotated "$rotated")"
err_contains "wrong encryption key"
equal "$(cat "$pstore" "$pstore-wal" 2>/dev/null | sha256sum)" "$before" \
  "passphrase store unchanged by a wrong passphrase"
# No passphrase at all, and not on a terminal: say how to give it.
expect 5 pnone psr verify api-token </dev/null
err_contains "passphrase"
err_contains "--passphrase-file"
one_line "$T/pnone.err"
expect 8 pmissing-file psr --passphrase-file "$T/input/absent" verify api-token
err_contains "$T/input/absent"
one_line "$T/pmissing-file.err"
# The store's parameters say where its key comes from.
expect 0 pparams psr parameters list
contains "$T/pparams.out" "key-source"
equal "$(awk '$1 == "key-source" {print $2}' "$T/pparams.out")" passphrase \
  "key-source of a passphrase store"
expect 0 params sr parameters list
equal "$(awk '$1 == "key-source" {print $2}' "$T/params.out")" file \
  "key-source of a key-file store"
expect 0 pget psr parameters get key-source
equal "$(cat "$T/pget.out")" passphrase "parameters get key-source"
expect 2 pset-source psr parameters set key-source file
err_contains "read-only"
# Metadata commands work without the passphrase; the audit log shows the
# use but no value.
expect 0 plist psr list
out_contains api-token
expect 0 paudit psr audit
out_contains verify
# The salt and scrypt parameters are in the key ring, not the passphrase.
equal "$(sqlite3 "$pstore" "SELECT source, scrypt_n, scrypt_r, scrypt_p,
  length(salt) FROM keyring")" "passphrase|131072|8|1|16" "scrypt parameters"

expect 0 audit sr audit
no_leak "$secret"
no_leak "$rotated"
no_leak "$pass_secret"
no_leak "$passphrase"
no_leak "$wrong_passphrase"
# The key itself (hex in the key file) appears nowhere but in its file.
key_hex=$(head -c 64 "$SECRETREF_KEY_FILE")
hits=$(grep -ralF -- "$key_hex" "$T" | grep -vx "$SECRETREF_KEY_FILE" || true)
[ -z "$hits" ] && pass || fail "the key leaked into: $hits"
