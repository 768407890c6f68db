#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input: damaged, truncated, foreign and newer stores; names with odd
# characters; a full disk. Each is refused in one line with a documented
# exit status, nothing crashes, and the store stays as it was.
source "$(dirname "$0")/../lib/common.sh"
require jq sqlite3 mount umount sha256sum

secret='Bad-Input-Secret-6b3e9d!'
unicode_secret='Unicode-Secret-ü名-0f4c21'
secret_file=$(input secret "$secret")

expect 0 init sr init
expect 0 new sr new db-password --manual --secret-file "$secret_file"
good_store=$SECRETREF_STORE

# ---- damaged stores ----------------------------------------------------------
mkdir -p "$T/damaged"
chmod 700 "$T/damaged"
head -c 16384 /dev/urandom >"$T/damaged/random.db"
size=$(stat -c %s "$good_store")
head -c $((size / 2)) "$good_store" >"$T/damaged/half.db"
: >"$T/damaged/empty.db"
printf 'this is a text file, not a store\n%.0s' {1..20} >"$T/damaged/text.db"
# A SQLite database of another program.
sqlite3 "$T/damaged/foreign.db" 'CREATE TABLE notes (x); INSERT INTO notes VALUES (1);'
# A store from a newer secretref.
cp "$good_store" "$T/damaged/newer.db"
sqlite3 "$T/damaged/newer.db" 'PRAGMA user_version = 99'
# A store whose first page is intact and every other page is garbage.
head -c 4096 "$good_store" >"$T/damaged/flipped.db"
head -c $((size - 4096)) /dev/urandom >>"$T/damaged/flipped.db"
mkdir -p "$T/damaged/directory.db"

digest_of() { sha256sum "$1" | cut -d' ' -f1; }
for kind in random half empty text foreign newer flipped; do
  db=$T/damaged/$kind.db
  before=$(digest_of "$db")
  for cmd in "list" "verify db-password" "show db-password" "export" \
    "new other --manual --secret-file $secret_file" "check"; do
    label="$kind-${cmd%% *}"
    # shellcheck disable=SC2086
    run "$label" sr --store "$db" $cmd
    if [ "$status" -eq 6 ]; then pass; else
      fail "$label: exit status $status, want 6: $(head -c 300 "$T/$label.err")"
    fi
    one_line "$T/$label.err"
    err_contains "$db"
    equal "$(cat "$T/$label.out")" "" "$label prints nothing on standard output"
  done
  equal "$(digest_of "$db")" "$before" "$kind: the file is unchanged"
  [ ! -e "$db-wal" ] && pass || fail "$kind: a WAL file was left behind"
done
for kind in random half text flipped; do
  contains "$T/$kind-list.err" "damaged"
done
contains "$T/empty-list.err" "not a secretref store"
contains "$T/foreign-list.err" "not a secretref store"
contains "$T/newer-list.err" "newer"
contains "$T/newer-list.err" "upgrade secretref"
expect 0 foreign-intact sqlite3 "$T/damaged/foreign.db" '.tables'
equal "$(cat "$T/foreign-intact.out")" notes "the foreign database keeps only its own table"
expect 6 directory sr --store "$T/damaged/directory.db" list
one_line "$T/directory.err"
err_contains "$T/damaged/directory.db"
expect 6 missing sr --store "$T/damaged/absent.db" list
err_contains "run secretref init"
one_line "$T/missing.err"
[ ! -e "$T/damaged/absent.db" ] && pass || fail "a missing store was created"
# The good store still works.
expect 0 verify sr verify db-password

# ---- names with odd characters -----------------------------------------------
uname='Ünïcødé-名前'
expect 0 u-new sr new "$uname" --description "naïve café ☕" --manual \
  <"$(input unicode "$unicode_secret")"
err_contains "$uname: created"
expect 0 u-verify sr verify "$uname"
out_contains "$uname: ok"
expect 0 u-list sr list --json
equal "$(jq -r --arg n "$uname" '.[] | select(.name == $n) | .description' "$T/u-list.out")" \
  "naïve café ☕" "a unicode description"
expect 0 u-set sr set "$uname" --manual <"$(input unicode2 "$unicode_secret-2")"
expect 0 u-rollback sr rollback "$uname" 1
expect 0 u-history sr history "$uname"
equal "$(($(wc -l <"$T/u-history.out") - 1))" 3 "unicode name: three versions"
expect 0 u-export sr export --output "$T/u-export.json"
equal "$(jq -r --arg n "$uname" '[.references[] | select(.name == $n)] | length' "$T/u-export.json")" \
  1 "the unicode name is exported"
expect 0 u-audit sr audit "$uname"
out_contains "$uname"
expect 0 u-delete sr delete "$uname"
expect 3 u-gone sr verify "$uname"
err_contains "$uname: no such reference"
# Punctuation that is fine in a name.
for name in 'a.b/c:d@e' 'with space inside' "quote's \"name\"" '%2F-percent' "$(printf 'n%.0s' {1..200})"; do
  expect 0 "ok-name-${#name}" sr new "$name" --manual --secret-file "$secret_file"
  expect 0 "ok-verify-${#name}" sr verify "$name"
done

before=$(store_digest || true)
declare -A bad_names=(
  [newline]=$'two\nlines'
  [tab]=$'tab\there'
  [leading-space]=' leading'
  [trailing-space]='trailing '
  [long]=$(printf 'n%.0s' {1..201})
  [escape]=$'esc\e[31mred'
  [delete]=$'del\x7f'
  [bad-utf8]=$'bad\xff\xfeutf8'
  [overlong-utf8]=$'over\xc0\xafslash'
)
for key in "${!bad_names[@]}"; do
  expect 2 "bad-name-$key" sr new "${bad_names[$key]}" --manual --secret-file "$secret_file"
  one_line "$T/bad-name-$key.err"
  err_contains "reference name"
  expect 2 "bad-lookup-$key" sr verify "${bad_names[$key]}"
  one_line "$T/bad-lookup-$key.err"
done
contains "$T/bad-name-newline.err" "control character"
contains "$T/bad-name-tab.err" "control character"
contains "$T/bad-name-leading-space.err" "space"
contains "$T/bad-name-long.err" "longer than 200 bytes"
contains "$T/bad-name-bad-utf8.err" "UTF-8"
expect 2 empty-name sr new "" --manual --secret-file "$secret_file"
one_line "$T/empty-name.err"
# A description of more than one line is refused.
expect 2 desc-newline sr new desc-ref --description $'one\ntwo' --manual \
  --secret-file "$secret_file"
err_contains "one line"
one_line "$T/desc-newline.err"
expect 2 desc-cr sr set db-password --description $'one\rtwo'
err_contains "one line"
one_line "$T/desc-cr.err"
expect 2 desc-long sr set db-password --description "$(printf 'd%.0s' {1..1001})"
err_contains "longer than 1000 bytes"
one_line "$T/desc-long.err"
# Secrets that are empty or too large.
expect 2 empty-secret sr new empty --manual </dev/null
err_contains "the secret is empty"
one_line "$T/empty-secret.err"
expect 2 newline-secret sr new empty --manual <"$(input nl $'\n')"
err_contains "the secret is empty"
head -c 70000 /dev/zero | tr '\0' 'x' >"$T/input/huge"
expect 8 huge-secret sr new huge --manual --secret-file "$T/input/huge"
err_contains "larger than 64 KiB"
one_line "$T/huge-secret.err"
expect 8 missing-secret-file sr new missing --manual --secret-file "$T/input/absent"
err_contains "$T/input/absent"
one_line "$T/missing-secret-file.err"
equal "$(store_digest)" "$before" "refused names and fields change nothing"

# ---- a full disk ------------------------------------------------------------
disk=$T/disk
tmpfs_mount "$disk" 600k
export SECRETREF_STORE=$disk/store/store.db SECRETREF_KEY_FILE=$T/keys/full.key
expect 0 full-init sr init
# 60 KiB secrets: random text, so SQLite cannot compress the pages away.
head -c 46080 /dev/urandom | base64 -w0 | head -c 61440 >"$T/input/big"
created=()
failed_at=
for i in $(seq 1 30); do
  before_logical=$(logical)
  before_bytes=$(store_digest || true)
  run "full-new-$i" sr new "big-$i" --manual --secret-file "$T/input/big"
  if [ "$status" -ne 0 ]; then
    failed_at=$i
    break
  fi
  created+=("big-$i")
done
if [ -z "$failed_at" ]; then
  fail "30 secrets of 60 KiB fit in a 600 KiB disk"
else
  pass
  equal "$status" 6 "a full disk: exit status"
  one_line "$T/$last.err"
  err_contains "disk is full"
  err_contains "$SECRETREF_STORE"
  equal "$(logical)" "$before_logical" "the failed command changed no content"
  # Byte for byte: SQLite may append the frames of the failed transaction
  # to the WAL before the disk runs out; readers ignore them. Report it.
  [ "$(store_digest)" = "$before_bytes" ] ||
    echo "note: the WAL bytes changed on a full disk (content unchanged)" >&2
  [ "${#created[@]}" -ge 3 ] && pass || fail "only ${#created[@]} secrets fit"
  # While full, metadata reads work.
  expect 0 full-list sr list --json
  equal "$(jq length "$T/full-list.out")" "${#created[@]}" "every created reference is listed"
  expect 3 full-show-failed sr show "big-$failed_at"
  # With room again, every reference created before verifies.
  mount -o remount,size=4m "$disk"
  for name in "${created[@]}"; do
    expect 0 "full-verify-$name" sr verify "$name"
  done
  expect 0 full-integrity sqlite3 "$SECRETREF_STORE" 'PRAGMA integrity_check'
  equal "$(cat "$T/full-integrity.out")" ok "integrity check after a full disk"
  expect 0 full-new-again sr new "big-$failed_at" --manual --secret-file "$T/input/big"
  expect 0 full-verify-again sr verify "big-$failed_at"
fi
no_leak "$(head -c 64 "$T/input/big")"
no_leak "$secret"
no_leak "$unicode_secret"
no_leak "$unicode_secret-2"
