#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash safety of rekey (design.md: "a crash leaves either the old or the
# new key in force, never a mix"): a store of 1,000 manual references plus
# certificate references, and `secretref rekey` killed with SIGKILL
#  - while it waits for the write lock (before its transaction),
#  - after its commit, while its WAL checkpoint waits for a reader,
#  - at delays spread over a measured rekey's duration.
# After each kill exactly one of the two keys opens the store, every
# sealed value records that key and unwraps under it (shown by re-keying a
# copy of the store), and a sample of references verifies. Then one rekey
# runs to the end: the old key is refused, the new one verifies every
# reference, one key id is left, and the WAL is checkpointed.
#
# The store lives on tmpfs when there is one: a process crash does not
# depend on fsync, and tmpfs makes the 1,000 commands fast enough.
source "$(dirname "$0")/../lib/common.sh"
require sqlite3 jq openssl xargs stdbuf

refs=1000
runs=8      # kills at timed delays

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  S=$(mktemp -d /dev/shm/secretref-crash.XXXXXX)
  cleanup_hooks+=("rm -rf '$S'")
else
  S=$T/shm
  mkdir -p "$S"
fi
export SECRETREF_STORE=$S/store/store.db
mkdir -p "$T/input" "$T/keys"
db=$SECRETREF_STORE

# new_key FILE: a key file made outside secretref (64 hex digits, 0600).
new_key() {
  (umask 077; openssl rand -hex 32 >"$1")
}
# q SQL: one value from the store.
q() { sqlite3 "$db" "$1"; }
# ms: milliseconds since the epoch.
ms() { echo $(($(date +%s%N) / 1000000)); }
# seconds MS: MS as a sleep argument.
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# A sqlite3 session on the store that the test drives through fd 8, to hold
# a lock or a read snapshot while secretref runs (its output line-buffered,
# so the test sees when a statement has run).
session_open() {
  rm -f "$T/session"
  mkfifo "$T/session"
  stdbuf -oL sqlite3 "$db" <"$T/session" >"$T/session.out" 2>&1 &
  session=$!
  exec 8>"$T/session"
}
session_close() {
  exec 8>&-
  wait "$session" || true
}

# ---- a store of 1,000 references -----------------------------------------
keyA=$T/keys/A.key
export SECRETREF_KEY_FILE=$keyA
expect 0 init sr init
start=$(ms)
# Four writers at once: the busy timeout lets them take turns. In a
# sanitizer build, the leak check at each exit is skipped for the two bulk
# loops of this test (setup, and verifying every reference), and under
# valgrind they run without it: it only makes them slow, and the same
# commands are leak-checked in the other tests.
bulk_asan="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
if seq 1 "$refs" | ASAN_OPTIONS=$bulk_asan SECRETREF_VALGRIND_SKIP=1 xargs -P 4 -I{} sh -c \
    'printf "Crash-Secret-%s-7e1f" "$1" | "$0" new "ref-$1" --manual 2>>"$2"' \
    "$SECRETREF" {} "$T/create.err"; then
  pass
else
  fail "creating $refs references failed: $(head -3 "$T/create.err")"
fi
echo "crash_rekey: created $refs references in $(($(ms) - start)) ms"
# Certificate references, an environment-bound one, and more versions.
for t in ec-p256 ed25519 rsa-2048; do
  expect 0 "new-cert-$t" sr new "cert-$t" --generate "$t"
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
  -out "$T/input/imported.pem" 2>/dev/null
expect 0 new-imported sr new cert-imported --certificate "$T/input/imported.pem"
printf 'Prod-Secret-7e1f' | { expect 0 new-prod sr new ref-1 --environment Production --manual; }
for v in 2 3; do
  printf 'Rotated-%s-7e1f' "$v" | { expect 0 "rotate-$v" sr set ref-2 --manual; }
done
sealed=$(q "select count(*) from ref_versions where sealed is not null")
if [ "$sealed" -ge $((refs + 7)) ]; then pass; else fail "only $sealed sealed values"; fi
sample=(ref-1 ref-2 "ref-$((refs / 2))" "ref-$refs" cert-ec-p256 cert-ed25519
        cert-rsa-2048 cert-imported)

# ---- how long a rekey takes (on a copy, on the same file system) ----------
mkdir -p "$S/measure/store"
cp "$db" "$S/measure/store/"
[ -e "$db-wal" ] && cp "$db-wal" "$S/measure/store/"
new_key "$T/keys/measure.key"
start=$(ms)
expect 0 rekey-measure sr --store "$S/measure/store/store.db" rekey --key-file "$T/keys/measure.key"
duration=$(($(ms) - start))
rm -rf "$S/measure"
echo "crash_rekey: one rekey of $sealed values takes $duration ms"

# check_one_key CURRENT OTHER LABEL: exactly CURRENT opens the store, and
# every sealed value is under CURRENT's key id.
check_one_key() {
  local cur=$1 other=$2 label=$3 active bad
  expect 0 "$label-cur" sr --key-file "$cur" verify ref-1
  expect 5 "$label-other" sr --key-file "$other" verify ref-1
  err_contains "wrong encryption key"
  one_line "$T/$label-other.err"
  active=$(q "select value from parameters where name = 'active-key-id'")
  equal "$(q "select count(distinct key_id) from ref_versions where sealed is not null")" 1 \
    "$label: one key id among sealed values"
  # The key id column and the id recorded inside each sealed value agree
  # with the active key.
  bad=$(q "select count(*) from ref_versions where sealed is not null and
           (key_id != $active or hex(substr(sealed, 2, 4)) != printf('%08X', $active))")
  equal "$bad" 0 "$label: values not under the active key $active"
  equal "$(q "select count(*) from keyring where retired is null")" 1 "$label: one active key"
  for name in "${sample[@]}"; do
    expect 0 "$label-verify-$name" sr --key-file "$cur" verify "$name"
  done
  expect 0 "$label-verify-prod" sr --key-file "$cur" --environment Production verify ref-1
  # Every wrapped data key opens under the key in force: re-keying a copy
  # of the store unwraps each of them, and fails at the first that does
  # not.
  rm -rf "$S/copy"
  mkdir -p "$S/copy/store"
  cp "$db" "$S/copy/store/"
  [ -e "$db-wal" ] && cp "$db-wal" "$S/copy/store/"
  rm -f "$T/keys/copy.key"
  new_key "$T/keys/copy.key"
  expect 0 "$label-rekey-copy" sr --store "$S/copy/store/store.db" --key-file "$cur" \
    rekey --key-file "$T/keys/copy.key"
  rm -rf "$S/copy"
}

# after_kill LABEL NEXT: which key is in force after a killed rekey from
# $cur to NEXT; checks it, and moves $cur along when the new key won.
after_kill() {
  local label=$1 next=$2
  if sr --key-file "$next" verify ref-1 >/dev/null 2>&1; then
    check_one_key "$next" "$cur" "$label"
    echo "crash_rekey: $label: the new key is in force"
    cur=$next
    won_new=$((won_new + 1))
  else
    check_one_key "$cur" "$next" "$label"
    echo "crash_rekey: $label: the old key is in force"
    won_old=$((won_old + 1))
  fi
  if grep -qiE 'locked|busy' "$T/$label.err"; then
    fail "$label: $(cat "$T/$label.err")"
  fi
}

# Killed rekeys run "$SECRETREF" itself in the background, not the sr
# function: $! must be the process that the kill hits.
cur=$keyA
won_new=0
won_old=0

# ---- killed while waiting for the write lock: the old key stays -----------
next=$T/keys/locked.key
new_key "$next"
session_open
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&8
for _ in $(seq 1 100); do grep -q locked "$T/session.out" && break; sleep 0.05; done
"$SECRETREF" --key-file "$cur" rekey --key-file "$next" >"$T/locked.out" 2>"$T/locked.err" &
pid=$!
sleep "$(scaled 0.5)"
kill -9 "$pid" 2>/dev/null && pass || fail "rekey ended while the store was locked"
wait "$pid" 2>/dev/null || true
echo "ROLLBACK;" >&8
session_close
old=$cur
after_kill locked "$next"
equal "$cur" "$old" "killed before its transaction: the old key stays"

# ---- killed after its commit, while the checkpoint waits for a reader -------
next=$T/keys/checkpoint.key
new_key "$next"
before_id=$(q "select value from parameters where name = 'active-key-id'")
session_open
echo "BEGIN; SELECT 'reading', count(*) FROM refs;" >&8
for _ in $(seq 1 100); do grep -q reading "$T/session.out" && break; sleep 0.05; done
"$SECRETREF" --key-file "$cur" rekey --key-file "$next" >"$T/checkpoint.out" 2>"$T/checkpoint.err" &
pid=$!
# Wait until the commit is visible, then kill it in its checkpoint.
for _ in $(seq 1 "$(scaled 200)"); do
  [ "$(q "select value from parameters where name = 'active-key-id'")" != "$before_id" ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null && pass || fail "rekey ended while a reader held the WAL"
wait "$pid" 2>/dev/null || true
# The commit is in the WAL only; the session, still open, keeps it there
# while the store is checked (and the copy re-keyed replays it).
if [ -s "$db-wal" ]; then pass; else fail "the WAL is empty: the kill missed the checkpoint"; fi
echo "COMMIT;" >&8
after_kill checkpoint "$next"
equal "$cur" "$next" "killed after its commit: the new key is in force"
session_close

# ---- killed at delays spread over a rekey ------------------------------------
for run in $(seq 1 "$runs"); do
  next=$T/keys/run$run.key
  new_key "$next"
  # From 0% to 140% of a measured rekey, start-up included, so kills land
  # before, during and after its transaction.
  delay_ms=$((duration * (run - 1) * 20 / 100))
  "$SECRETREF" --key-file "$cur" rekey --key-file "$next" >"$T/run$run.out" 2>"$T/run$run.err" &
  pid=$!
  sleep "$(seconds "$delay_ms")"
  kill -9 "$pid" 2>/dev/null && killed=yes || killed="no (it had finished)"
  wait "$pid" 2>/dev/null || true
  echo "crash_rekey: run $run: kill after $delay_ms ms; killed: $killed"
  after_kill "run$run" "$next"
done

# ---- one rekey to the end -------------------------------------------------------
final=$T/keys/final.key
new_key "$final"
# Hold an idle connection, so the WAL is not removed when secretref exits:
# only rekey's own checkpoint can have emptied it.
session_open
echo "SELECT count(*) FROM parameters;" >&8
expect 0 rekey-final sr --key-file "$cur" rekey --key-file "$final"
err_contains "new key"
wal_size=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
equal "$wal_size" 0 "the WAL is checkpointed after rekey"
session_close
expect 5 old-key sr --key-file "$cur" verify ref-1
err_contains "wrong encryption key"
one_line "$T/old-key.err"
expect 5 first-key sr --key-file "$keyA" verify "ref-$refs"
err_contains "wrong encryption key"
equal "$(q "select count(distinct key_id) from ref_versions where sealed is not null")" 1 \
  "one key id after rekey"
equal "$(q "select count(*) from ref_versions where sealed is not null and
            key_id != (select value from parameters where name = 'active-key-id')")" 0 \
  "every value under the active key"
# Every reference, one by one, verifies with the new key.
expect 0 list sr --key-file "$final" list --json
jq -r '.[] | select(.environment_type == null) | .name' "$T/list.out" >"$T/names"
equal "$(wc -l <"$T/names")" $((refs + 4)) "references listed"
if ASAN_OPTIONS=$bulk_asan SECRETREF_VALGRIND_SKIP=1 xargs -P 4 -I{} "$SECRETREF" --key-file "$final" verify {} <"$T/names" \
    >"$T/verify-all.out" 2>"$T/verify-all.err"; then
  pass
else
  fail "verify of every reference: $(head -3 "$T/verify-all.err")"
fi
equal "$(grep -c ': ok$' "$T/verify-all.out")" $((refs + 4)) "references verified"
expect 0 verify-prod sr --key-file "$final" --environment Production verify ref-1
expect 0 history sr --key-file "$final" history ref-2
echo "crash_rekey: after the kills the new key was in force $won_new times, the old $won_old times"
