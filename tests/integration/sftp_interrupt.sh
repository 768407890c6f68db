#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The server dies (SIGKILL to sshd and its sessions) in the middle of a
# 200 MiB upload and of a 200 MiB download: the exit status says the
# transfer did not complete (16, or 10 for the connection), no file is
# under the final name (an older version stays whole), and a rerun after
# sshd is back completes with the right checksum. The same with a
# --parallel put -r, and with only the session process killed.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/sshd.sh"
require sha256sum find cmp head stat

sshd_init ecdsa
sshd_start

expect 0 init sr init
expect 0 new-key sr new k --generate ec-p256
expect 0 pub sr pubkey k --format openssh
sshd_authorize "$T/pub.out"

S=$SECRETREF_BIN/secretref-sftp
sftp_() { "$S" --quiet --known-hosts "$SSHD_KNOWN" --key secretref:k "$@"; }
L=$T/local
mkdir -p "$L"
head -c 200M /dev/urandom >"$L/big.bin"
big_sum=$(sha256sum <"$L/big.bin")

# size_of GLOB: the size of the first file matching GLOB, else 0.
size_of() {
  local f IFS=
  for f in $1; do [ -f "$f" ] && { stat -c %s "$f"; return; }; done
  echo 0
}

# interrupted NAME GLOB KILL CMD...: runs CMD in the background, kills the
# server with KILL (a function) once the file(s) matching GLOB hold at
# least 8 MiB, and sets $status to CMD's exit status. Bounded: 60 s for
# the transfer to start, 60 s for the command to end after the kill.
interrupted() {
  local name=$1 glob=$2 killer=$3 pid i size=0; shift 3
  "$@" >"$T/$name.out" 2>"$T/$name.err" &
  pid=$!
  for i in $(seq "$(scaled 6000)"); do
    size=$(size_of "$glob")
    [ "$size" -ge $((8 << 20)) ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  if ! kill -0 "$pid" 2>/dev/null; then
    fail "$name: the transfer ended before the kill (at $size bytes): $(cat "$T/$name.err")"
  fi
  "$killer"
  for i in $(seq "$(scaled 600)"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    fail "$name: secretref-sftp still running 60 s after the server died"
    kill -9 "$pid" 2>/dev/null || true
  fi
  set +e
  wait "$pid"
  status=$?
  set -e
  last=$name
  echo "$name: killed at $size bytes, exit status $status" >&2
}

# Status 16 (incomplete) or 10 (connection lost), one line (one for each
# connection of a parallel transfer: each lost its own).
says_incomplete() {
  local lines
  case $status in
    16|10) pass ;;
    *) fail "$last: exit status $status, want 16 or 10: $(cat "$T/$last.err")" ;;
  esac
  lines=$(wc -l <"$T/$last.err")
  [ "$lines" -ge 1 ] && [ "$lines" -le "${1:-1}" ] && pass ||
    fail "$last: $lines lines of errors, want 1 to ${1:-1}: $(cat "$T/$last.err")"
}

# Only the processes serving sessions die; the listener stays.
kill_sessions() {
  local pids
  pids=$(sshd_descendants "$SSHD_PID")
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
}

# ---- upload, the whole sshd killed ---------------------------------------------------
interrupted up "$SSHD_FILES/.big.bin.part-*" sshd_kill9 \
  sftp_ "$SSHD_URL$SSHD_FILES" put "$L/big.bin" big.bin
says_incomplete
[ ! -e "$SSHD_FILES/big.bin" ] && pass || fail "an interrupted upload left big.bin"
# The temporary may stay on the server (the connection was gone before it
# could be removed); it is never under the final name.
parts=$(find "$SSHD_FILES" -name '.big.bin.part-*' | wc -l)
[ "$parts" -le 1 ] && pass || fail "$parts temporaries for one upload"
sshd_restart
expect 0 up-rerun sftp_ "$SSHD_URL$SSHD_FILES" put "$L/big.bin" big.bin
equal "$(sha256sum <"$SSHD_FILES/big.bin")" "$big_sum" "checksum after the rerun"
equal "$(find "$SSHD_FILES" -name '.big.bin.part-*' | wc -l)" "$parts" \
  "temporaries made by the rerun"

# ---- upload over an older version, the session killed -------------------------------
printf 'old version\n' >"$SSHD_FILES/old.bin"
interrupted up-old "$SSHD_FILES/.old.bin.part-*" kill_sessions \
  sftp_ "$SSHD_URL$SSHD_FILES" put "$L/big.bin" old.bin
says_incomplete
equal "$(cat "$SSHD_FILES/old.bin")" "old version" "the old version after an interrupted upload"
kill -0 "$SSHD_PID" && pass || fail "the listener died with its session"
expect 0 up-old-rerun sftp_ "$SSHD_URL$SSHD_FILES" put "$L/big.bin" old.bin
equal "$(sha256sum <"$SSHD_FILES/old.bin")" "$big_sum" "checksum after replacing"

# ---- download, the whole sshd killed --------------------------------------------------
mkdir -p "$T/down"
interrupted down "$T/down/.big.bin.part-*" sshd_kill9 \
  sftp_ "$SSHD_URL$SSHD_FILES" get big.bin "$T/down/big.bin"
says_incomplete
[ ! -e "$T/down/big.bin" ] && pass || fail "an interrupted download left big.bin"
# Locally the temporary is removed.
equal "$(find "$T/down" -name '*.part-*' | wc -l)" 0 "local temporaries"
sshd_restart
expect 0 down-rerun sftp_ "$SSHD_URL$SSHD_FILES" get big.bin "$T/down/big.bin"
equal "$(sha256sum <"$T/down/big.bin")" "$big_sum" "checksum after the download rerun"

# Over an older local file, the session killed: the old file stays whole.
printf 'old local\n' >"$T/down/old.bin"
interrupted down-old "$T/down/.old.bin.part-*" kill_sessions \
  sftp_ "$SSHD_URL$SSHD_FILES" get old.bin "$T/down/old.bin"
says_incomplete
equal "$(cat "$T/down/old.bin")" "old local" "the old local file after an interrupted download"
equal "$(find "$T/down" -name '*.part-*' | wc -l)" 0 "local temporaries"

# ---- a parallel put -r, the whole sshd killed ------------------------------------------
mkdir -p "$L/tree/sub dir"
for i in 1 2 3 4; do head -c 40M /dev/urandom >"$L/tree/sub dir/f$i.bin"; done
tree_sums "$L/tree" >"$T/tree.sums"
interrupted tree "$SSHD_FILES/tree/sub dir/.f*.part-*" sshd_kill9 \
  sftp_ --parallel 4 "$SSHD_URL$SSHD_FILES" put -r "$L/tree" tree
says_incomplete 4
# Whatever is under a final name is whole.
for f in "$SSHD_FILES/tree/sub dir"/f*.bin; do
  [ -e "$f" ] || continue
  cmp -s "$f" "$L/tree/sub dir/${f##*/}" && pass || fail "a partial file under its final name: $f"
done
sshd_restart
expect 0 tree-rerun sftp_ --parallel 4 "$SSHD_URL$SSHD_FILES" put -r "$L/tree" tree
equal "$(tree_sums "$SSHD_FILES/tree" | grep -v '\.part-')" "$(cat "$T/tree.sums")" "tree after the rerun"
