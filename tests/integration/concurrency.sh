#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Concurrency (design.md: WAL and a busy timeout, so concurrent readers and
# a writer never fail with "database is locked"): four processes loop over
# verify, show and list while one writes (rotations with set, new
# references) for about five seconds. Every command must exit 0 and no
# standard error may mention "locked" or "busy".
source "$(dirname "$0")/../lib/common.sh"
require jq

duration=$(scaled 5) # seconds of concurrent load (longer under valgrind)
duration=${duration%.*}
max_rounds=5000   # a bound on every loop, whatever the clock says
shared=5          # references the readers use and the writer rotates

expect 0 init sr init
for i in $(seq 0 $((shared - 1))); do
  printf 'Initial-Secret-%s-c0ffee' "$i" | { expect 0 "new-shared-$i" sr new "shared-$i" --manual; }
done
expect 0 new-cert sr new shared-cert --generate ec-p256

# record ROLE COMMAND...: runs one command, appending its standard error to
# ROLE.err and a line to ROLE.fail when it exits non-zero.
record() {
  local role=$1 status=0; shift
  "$@" >/dev/null 2>"$T/$role.last" || status=$?
  cat "$T/$role.last" >>"$T/$role.err"
  if [ "$status" -ne 0 ]; then
    echo "$role: $* exited $status: $(head -c 300 "$T/$role.last")" >>"$T/$role.fail"
  fi
}

reader() {
  local id=$1 end=$(($(date +%s) + duration)) round=0 name
  while [ "$(date +%s)" -lt "$end" ] && [ "$round" -lt "$max_rounds" ]; do
    name=shared-$((round % shared))
    record "reader$id" sr verify "$name"
    record "reader$id" sr show "$name" --json
    record "reader$id" sr list --json
    record "reader$id" sr verify shared-cert
    round=$((round + 1))
  done
  echo "$round" >"$T/reader$id.rounds"
}

writer() {
  local end=$(($(date +%s) + duration)) round=0 rotations=0 created=0
  while [ "$(date +%s)" -lt "$end" ] && [ "$round" -lt "$max_rounds" ]; do
    printf 'Rotated-Secret-%s-5ca1ab1e' "$round" >"$T/input/rotate"
    record writer sr set "shared-$((round % shared))" --manual --secret-file "$T/input/rotate"
    rotations=$((rotations + 1))
    printf 'New-Secret-%s-5ca1ab1e' "$round" >"$T/input/new"
    record writer sr new "w-$round" --manual --secret-file "$T/input/new" \
      --description "written while others read"
    created=$((created + 1))
    round=$((round + 1))
  done
  echo "$rotations $created" >"$T/writer.rounds"
}

mkdir -p "$T/input"
: >"$T/writer.err"
pids=()
for id in 1 2 3 4; do
  : >"$T/reader$id.err"
  reader "$id" &
  pids+=($!)
done
writer &
pids+=($!)
# Every background job is waited for; a job that died counts as a failure.
for pid in "${pids[@]}"; do
  if wait "$pid"; then pass; else fail "background job $pid exited $?"; fi
done

# No command failed, and none said "locked" or "busy".
for role in reader1 reader2 reader3 reader4 writer; do
  if [ -s "$T/$role.fail" ]; then
    fail "$role: $(wc -l <"$T/$role.fail") failed commands; first: $(head -1 "$T/$role.fail")"
  else
    pass
  fi
  if grep -qiE 'locked|busy' "$T/$role.err"; then
    fail "$role: $(grep -iE 'locked|busy' "$T/$role.err" | head -1)"
  else
    pass
  fi
done

# The load was real: every process went round more than once (a
# sanitizer build on two cores manages a handful of rounds, a plain build
# some twenty).
for id in 1 2 3 4; do
  rounds=$(cat "$T/reader$id.rounds" 2>/dev/null || echo 0)
  if [ "$rounds" -ge 2 ]; then pass; else fail "reader $id did only $rounds rounds"; fi
done
read -r rotations created <"$T/writer.rounds" || true
if [ "${rotations:-0}" -ge 2 ]; then pass; else fail "the writer did only ${rotations:-0} rotations"; fi
echo "concurrency: readers $(cat "$T"/reader?.rounds | tr '\n' ' ')rounds; writer $rotations rotations, $created new"

# What the writer did is all there, and every secret still opens.
expect 0 list sr list --json
equal "$(jq length "$T/list.out")" $((shared + 1 + created)) "references after the load"
for i in $(seq 0 $((shared - 1))); do
  expect 0 "history-$i" sr history "shared-$i"
  expect 0 "verify-after-$i" sr verify "shared-$i"
done
expect 0 verify-last sr verify "w-$((created - 1))"
expect 0 audit sr audit
out_contains "update"

# No secret written during the load is anywhere but sealed in the store.
no_leak "Initial-Secret-"
no_leak "Rotated-Secret-"
no_leak "New-Secret-"
