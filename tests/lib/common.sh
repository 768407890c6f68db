# SPDX-License-Identifier: Apache-2.0
# Shared by the integration tests: a private store per test, assertions,
# and leak checks. Source it first; it sets -euo pipefail.
#
# Every test runs the real programs. A missing program fails the test
# (require), it never skips it.
set -euo pipefail

# Under "ctest -T memcheck" (scripts/memcheck.sh) the test starts under
# valgrind, which would check bash only: it leaves valgrind at once and runs
# our programs under it instead, with ctest's options (below).
case ${LD_PRELOAD:-} in
*vgpreload*)
  SECRETREF_VALGRIND=1
  # valgrind's arguments, from the options to the program's name.
  SECRETREF_VALGRIND_ARGS=$(tr '\0' '\n' </proc/$$/cmdline | sed -n '2,${/^-/!q;p}')
  export SECRETREF_VALGRIND SECRETREF_VALGRIND_ARGS
  exec bash "$0" "$@"
  ;;
esac

: "${SECRETREF_BIN:?run through ctest (SECRETREF_BIN is not set)}"
: "${SECRETREF_TEST_TMP:=/tmp/secretref-tests}"
SECRETREF=$SECRETREF_BIN/secretref
test_name=$(basename "$0" .sh)
mkdir -p "$SECRETREF_TEST_TMP"
T=$(mktemp -d "$SECRETREF_TEST_TMP/$test_name.XXXXXX")
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_DATA_HOME=$T/home/.local/share
mkdir -p "$HOME"
# The default store of every test: its own folder.
export SECRETREF_STORE=$T/store/store.db SECRETREF_KEY_FILE=$T/keys/master.key
unset SECRETREF_ENVIRONMENT SECRETREF_PASSPHRASE_FILE
passed=0
failed=0
cleanup_hooks=()

# SECRETREF_WAIT_FACTOR: waits for our programs last this many times
# longer (default 1, under valgrind 20: it slows them 20-50 times).
wait_factor=${SECRETREF_WAIT_FACTOR:-1}
[ "${SECRETREF_VALGRIND:-0}" = 1 ] && wait_factor=${SECRETREF_WAIT_FACTOR:-20}
# scaled N: N (a count or seconds) times the wait factor.
scaled() { awk -v n="$1" -v f="$wait_factor" 'BEGIN { print n * f }'; }

# Under valgrind (SECRETREF_VALGRIND=1), secretref and secretref-sftp are
# scripts in $build/valgrind-bin that run the real ones under valgrind,
# logging into $vg_logs, one file per process; "foreign" does the same for
# system programs that load our modules. At the end a test fails if any log
# has an error (a memory error or a definite leak), and those logs go to
# ctest's log of the test, so they count as its defects.
vg_logs=
vg_ctest_log=
if [ "${SECRETREF_VALGRIND:-0}" = 1 ]; then
  vg_opts=()
  while read -r opt; do
    case $opt in
    --log-file=*) vg_ctest_log=${opt#--log-file=} ;;
    # Exit statuses stay the programs' own: the tests check them.
    --error-exitcode=* | "") ;;
    *) vg_opts+=("$opt") ;;
    esac
  done <<<"${SECRETREF_VALGRIND_ARGS:-}"
  export SECRETREF_VALGRIND_OPTIONS="${vg_opts[*]}"
  mkdir -p "$SECRETREF_TEST_TMP/valgrind"
  vg_logs=$(mktemp -d "$SECRETREF_TEST_TMP/valgrind/$test_name.XXXXXX")
  # Programs run as nobody log here too.
  chmod 1777 "$vg_logs"
  export SECRETREF_VALGRIND_LOGS=$vg_logs
  # Next to bin/, so that $SECRETREF_BIN/.. stays the build folder.
  vg_bin=$(cd "$SECRETREF_BIN/.." && pwd)/valgrind-bin
  mkdir -p "$vg_bin"
  for prog in secretref secretref-sftp; do
    # Written whole, then renamed: tests running at once share them.
    printf '%s\n' '#!/bin/sh' \
      '# Written by tests/lib/common.sh: the program under valgrind.' \
      '[ "${SECRETREF_VALGRIND_SKIP:-0}" = 1 ] && exec '"$SECRETREF_BIN/$prog"' "$@"' \
      'exec valgrind $SECRETREF_VALGRIND_OPTIONS --log-file="${SECRETREF_VALGRIND_LOGS:?}/'"$prog"'.%p.log" '"$SECRETREF_BIN/$prog"' "$@"' \
      >"$vg_bin/$prog.$$"
    chmod 0755 "$vg_bin/$prog.$$"
    mv -f "$vg_bin/$prog.$$" "$vg_bin/$prog"
  done
  SECRETREF=$vg_bin/secretref
  # sftp_secrets finds its transfers by their executable (under valgrind,
  # valgrind's): there secretref-sftp runs as it is.
  [ "$test_name" = sftp_secrets ] || SECRETREF_BIN=$vg_bin
fi

# vg_check: fails the test for each valgrind log with errors, and adds
# those logs to ctest's log of the test.
vg_check() {
  local log
  [ -n "$vg_logs" ] || return 0
  for log in "$vg_logs"/*.log; do
    [ -e "$log" ] || continue
    grep -qE '^==[0-9]+== ERROR SUMMARY: [1-9]' "$log" || continue
    fail "valgrind: $(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -1 | cut -c1-200): see $log"
    [ -n "$vg_ctest_log" ] && cat "$log" >>"$vg_ctest_log"
  done
  return 0
}

on_exit() {
  local status=$?
  for hook in "${cleanup_hooks[@]}"; do eval "$hook" || true; done
  vg_check
  if [ "$failed" -gt 0 ] || [ $status -ne 0 ]; then
    echo "$test_name: kept $T for inspection" >&2
    [ $status -ne 0 ] && [ "$failed" -eq 0 ] && echo "$test_name: aborted with status $status" >&2
    echo "$passed passed, $((failed + (failed == 0 && status != 0 ? 1 : 0))) failed"
    exit 1
  fi
  rm -rf "$T"
  [ -z "$vg_logs" ] || rm -rf "$vg_logs"
  echo "$passed passed, 0 failed"
}
trap on_exit EXIT

# foreign PROGRAM ARGS...: runs a program of the system (openssl, ssh,
# pkcs11-tool) that loads one of our modules. In the sanitizer build the
# module needs the ASan runtime loaded first; leak checking is then off,
# since it would report the host program's own allocations. Under valgrind
# the program and its children (timeout, env, ssh's helpers) run under it;
# strace does not, since its trace must show the program's own system calls.
foreign() {
  if [ "${SECRETREF_ASAN:-0}" = 1 ]; then
    LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$@"
  elif [ -n "$vg_logs" ] && [ "$1" != strace ]; then
    # As another user (setpriv OPTIONS PROGRAM...), valgrind starts after
    # setpriv: it reopens its log at every exec, and the new user could not
    # open the file root made.
    local as=()
    if [ "${1##*/}" = setpriv ]; then
      as=("$1")
      shift
      while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do as+=("$1"); shift; done
    fi
    # shellcheck disable=SC2086
    "${as[@]}" valgrind $SECRETREF_VALGRIND_OPTIONS --trace-children=yes \
      --log-file="$vg_logs/foreign-${1##*/}.%p.log" "$@"
  else
    "$@"
  fi
}

# wait_listen PORT PID: waits (at most 10 s, scaled) until something
# listens on 127.0.0.1:PORT, without connecting to it (a server started with
# -naccept 1 would count the probe as its one connection). Fails if PID
# exits first.
wait_listen() {
  local hex i
  hex=$(printf ':%04X ' "$1")
  for i in $(seq "$(scaled 100)"); do
    grep -q "$hex.* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# free_port: a port nothing listens on now, from 20000-60000.
free_port() {
  local port hex
  while :; do
    port=$((20000 + RANDOM % 40000))
    hex=$(printf ':%04X ' "$port")
    grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$port"; return; }
  done
}

# The options that make an openssl command load our provider.
OSSL_PROV=(-provider-path "${SECRETREF_LIB:-}" -provider secretref -provider default)

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# require PROGRAM...: a missing peer fails the test.
require() {
  local p
  for p in "$@"; do
    command -v "$p" >/dev/null 2>&1 || { fail "required program $p is not installed"; exit 1; }
  done
}

# run NAME CMD...: runs CMD with stdout in $T/NAME.out, stderr in
# $T/NAME.err, status in $status. Never fails by itself.
run() {
  local name=$1; shift
  set +e
  "$@" >"$T/$name.out" 2>"$T/$name.err"
  status=$?
  set -e
  last=$name
}

# expect STATUS NAME CMD...: run, and check the exit status.
expect() {
  local want=$1 name=$2; shift 2
  run "$name" "$@"
  if [ "$status" -eq "$want" ]; then
    pass
  else
    fail "$name: exit status $status, want $want; stderr: $(head -c 400 "$T/$name.err")"
  fi
}

# sr ARGS...: the secretref command.
sr() { "$SECRETREF" "$@"; }

# contains FILE TEXT / lacks FILE TEXT: fixed-string search.
contains() {
  if grep -aqF -- "$2" "$1"; then pass; else fail "$1 does not contain '$2': $(head -c 300 "$1")"; fi
}
lacks() {
  if grep -aqF -- "$2" "$1"; then fail "$1 contains '$2'"; else pass; fi
}
# err_contains TEXT: the last run's standard error.
err_contains() { contains "$T/$last.err" "$1"; }
out_contains() { contains "$T/$last.out" "$1"; }

# one_line FILE: an error message is exactly one line.
one_line() {
  local n; n=$(wc -l <"$1")
  if [ "$n" -eq 1 ]; then pass; else fail "$1 has $n lines, want 1: $(cat "$1")"; fi
}

# equal A B DESCRIPTION
equal() {
  if [ "$1" == "$2" ]; then pass; else fail "$3: '$1' != '$2'"; fi
}

# no_leak SECRET: the secret is in none of the outputs of this test, the
# store, its WAL, or anything else under the test folder.
no_leak() {
  local secret=$1 hits
  hits=$(grep -ralF -- "$secret" "$T" 2>/dev/null | grep -v '/input/' || true)
  if [ -n "$hits" ]; then fail "secret leaked into: $hits"; else pass; fi
}

# input NAME CONTENT: a file under $T/input (excluded from no_leak).
input() {
  mkdir -p "$T/input"
  printf '%s' "$2" >"$T/input/$1"
  echo "$T/input/$1"
}

# store_digest: a digest of the store file and its WAL, to show nothing
# changed.
# logical: a digest of the store's logical content (what every reader
# sees), which a failed write must leave as it was even where SQLite has
# already written WAL frames.
logical() { sqlite3 -readonly "$SECRETREF_STORE" .dump | sha256sum | cut -d' ' -f1; }

# tmpfs_mount DIR SIZE: mounts a tmpfs of SIZE (mount's size=) on DIR,
# unmounted at exit. Needs root, as CI has: without it the test fails.
tmpfs_mount() {
  mkdir -p "$1"
  if mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1"; then
    pass
    cleanup_hooks+=("umount '$1'")
  else
    fail "mounting a tmpfs on $1 needs root (CI runs as root)"
    exit 1
  fi
}

store_digest() {
  # No WAL is a state too: cat's failure must not end the test (pipefail).
  { cat "$SECRETREF_STORE" "$SECRETREF_STORE-wal" 2>/dev/null || true; } |
    sha256sum | cut -d' ' -f1
}
