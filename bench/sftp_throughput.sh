#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# secretref-sftp next to OpenSSH's sftp against the same loopback sshd,
# set up like Azure Blob Storage SFTP (tests/lib/sshd.sh), with the same
# user key: an ECDSA P-256 key made by ssh-keygen, given to sftp -i and
# imported into the store for secretref-sftp. In each round the two take
# turns on a 512 MiB upload, a 512 MiB download and a tree of 64 files of
# 8 MiB (secretref-sftp --parallel 4 against sftp's put -r); the report is
# the median MB/s of each and their ratio. Not run by ctest.
#
#   bench/sftp_throughput.sh [BUILD_DIR]   (or SECRETREF_BUILD=BUILD_DIR)
#   options: --rounds N (3)  --size MiB (512)  --files N (64)
#            --file-size MiB (8)  --parallel N (4)  --workdir DIR
#            --rtt MS (0): both clients reach sshd through
#              bench_delay_proxy, which adds MS of round-trip time, as a
#              link to Azure has (loopback alone measures only CPU)
#
# Needs root (sshd), OpenSSH's sshd, sftp and ssh-keygen. Files go to
# /dev/shm when it has room, so the disk does not set the pace.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
rounds=3 size=512 files=64 file_size=8 parallel=4 workdir= rtt=0
build=${SECRETREF_BUILD:-}
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --file-size) file_size=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --rtt) rtt=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "sftp_throughput: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
build=$(cd "${build:-$src/build}" && pwd)
S=$build/bin/secretref-sftp
SR=$build/bin/secretref
for p in "$S" "$SR"; do
  [ -x "$p" ] || { echo "sftp_throughput: $p is not built (cmake --build $build --target secretref secretref_provider secretref_sftp_cmd)" >&2; exit 1; }
done
[ -f "$build/lib/secretref.so" ] || { echo "sftp_throughput: $build/lib/secretref.so is not built" >&2; exit 1; }

# What tests/lib/sshd.sh expects of tests/lib/common.sh.
cleanup_hooks=()
fail() { echo "sftp_throughput: $*" >&2; }
require() {
  local p
  for p in "$@"; do command -v "$p" >/dev/null 2>&1 || { fail "$p is not installed"; exit 1; }; done
}
free_port() {
  local port hex
  while :; do
    port=$((20000 + RANDOM % 40000))
    hex=$(printf ':%04X ' "$port")
    grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$port"; return; }
  done
}
wait_listen() {
  local hex i
  hex=$(printf ':%04X ' "$1")
  for i in $(seq 100); do
    grep -q "$hex.* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
require sftp ssh-keygen sha256sum cmp awk sort

need_mb=$((size * 3 + files * file_size * 3 + 64))
if [ -z "$workdir" ]; then
  avail=$(df -Pm /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$avail" ] && [ "$avail" -gt "$need_mb" ]; then workdir=/dev/shm; else workdir=${TMPDIR:-/tmp}; fi
fi
T=$(mktemp -d "$workdir/secretref-sftp-bench.XXXXXX")
on_exit() {
  local hook
  for hook in "${cleanup_hooks[@]}"; do eval "$hook" || true; done
  rm -rf "$T"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# shellcheck source=../tests/lib/sshd.sh
source "$src/tests/lib/sshd.sh"
sshd_init ecdsa
sshd_start "LogLevel ERROR"

export SECRETREF_STORE=$T/store/store.db SECRETREF_KEY_FILE=$T/keys/master.key HOME=$T/home
unset SECRETREF_ENVIRONMENT SECRETREF_PASSPHRASE_FILE OPENSSL_CONF
mkdir -p "$HOME"
"$SR" init >/dev/null 2>&1
# One key for both: OpenSSH reads the file, secretref-sftp the reference.
ssh-keygen -q -t ecdsa -b 256 -N '' -C bench -f "$T/id_ecdsa"
"$SR" new bench-key --certificate "$T/id_ecdsa" >/dev/null 2>&1
sshd_authorize "$T/id_ecdsa.pub"
"$SR" pubkey bench-key --format openssh | cut -d' ' -f1-2 >"$T/ref.pub"
if [ "$(cut -d' ' -f1-2 "$T/id_ecdsa.pub")" != "$(cat "$T/ref.pub")" ]; then
  fail "the imported key is not the key file's"; exit 1
fi

# Where the clients connect: sshd itself, or the delay proxy in front of it.
PORT=$SSHD_PORT URL=$SSHD_URL KNOWN=$SSHD_KNOWN
if [ "$rtt" -gt 0 ]; then
  proxy=$build/bench/bench_delay_proxy
  [ -x "$proxy" ] || { fail "$proxy is not built (cmake --build $build --target bench_delay_proxy)"; exit 1; }
  PORT=$(free_port)
  "$proxy" "$PORT" "$SSHD_PORT" $((rtt / 2)) &
  proxy_pid=$!
  cleanup_hooks+=("kill $proxy_pid 2>/dev/null")
  wait_listen "$PORT" "$proxy_pid" || { fail "the delay proxy did not start"; exit 1; }
  KNOWN=$T/known_hosts.proxy
  printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f2- "$SSHD_KNOWN")" >"$KNOWN"
  URL=sftp://root@127.0.0.1:$PORT
fi

# libssh2 1.10 negotiates aes128-ctr with hmac-sha2-256 against Azure's
# lists (it has no AES-GCM and no ETM MACs); OpenSSH would pick
# aes128-ctr with hmac-sha2-256-etm. Both get the same algorithms here.
CIPHER=aes128-ctr MAC=hmac-sha2-256
ours() { "$S" --quiet --known-hosts "$KNOWN" --key secretref:bench-key "$@"; }
openssh() {
  sftp -q -b "$1" -i "$T/id_ecdsa" -P "$PORT" -o IdentitiesOnly=yes \
    -o BatchMode=yes -o UserKnownHostsFile="$KNOWN" -o StrictHostKeyChecking=yes \
    -c "$CIPHER" -o MACs="$MAC" "root@127.0.0.1:$SSHD_FILES" >/dev/null
}

negotiated=$(ours --verbose "$URL$SSHD_FILES" ls 2>&1 >/dev/null | grep -o 'cipher .*' || true)
openssh_algs=$(sftp -v -b /dev/null -i "$T/id_ecdsa" -P "$PORT" -o IdentitiesOnly=yes \
  -o BatchMode=yes -o UserKnownHostsFile="$KNOWN" -c "$CIPHER" -o MACs="$MAC" \
  "root@127.0.0.1:$SSHD_FILES" 2>&1 | grep -m1 'cipher:' | sed 's/.*cipher: //' || true)

echo "preparing $size MiB and $files x $file_size MiB in $T ..." >&2
L=$T/local
mkdir -p "$L/tree" "$T/down"
head -c "${size}M" /dev/urandom >"$L/big.bin"
for i in $(seq -w 1 "$files"); do head -c "${file_size}M" /dev/urandom >"$L/tree/f$i.bin"; done
tree_bytes=$((files * file_size * 1048576))
big_bytes=$((size * 1048576))
# The server's copy for the downloads, made once.
cp "$L/big.bin" "$SSHD_FILES/src.bin"

printf 'put %s up.bin\n' "$L/big.bin" >"$T/put.batch"
printf 'get src.bin %s\n' "$T/down/src.bin" >"$T/get.batch"
printf 'put -r %s tree\n' "$L/tree" >"$T/tree.batch"

now() { date +%s.%N; }
tick=$(getconf CLK_TCK)
# CPU seconds of this shell's finished children (the client, and sftp's
# ssh), and of the server's finished sessions (reaped by the listener).
# (times in this shell, not in a $(...) subshell, which has no children.)
client_cpu() {
  times >"$T/times"
  awk 'NR == 2 {for (i = 1; i <= 2; i++) {split($i, a, "m"); s += a[1] * 60 + a[2]} print s}' "$T/times"
}
server_cpu() { awk -v t="$tick" '{sub(/^.*\) /, ""); print ($14 + $15) / t}' "/proc/$SSHD_PID/stat"; }
# timed OUT CMD...: the seconds CMD took, appended to OUT.times; the
# client's and the server's CPU seconds to OUT.cpu.
timed() {
  local out=$1 t0 t1 c0 c1 s0 s1; shift
  client_cpu >"$T/c0"; s0=$(server_cpu); t0=$(now)
  if ! "$@"; then fail "failed: $*"; exit 1; fi
  t1=$(now)
  # The session's process ends just after the client: wait for its CPU.
  for _ in $(seq 50); do [ -z "$(sshd_descendants "$SSHD_PID")" ] && break; sleep 0.02; done
  client_cpu >"$T/c1"; s1=$(server_cpu); c0=$(cat "$T/c0"); c1=$(cat "$T/c1")
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f\n", b - a}' >>"$T/$out.times"
  awk -v a="$c0" -v b="$c1" -v c="$s0" -v d="$s1" 'BEGIN {printf "%.3f %.3f\n", b - a, d - c}' >>"$T/$out.cpu"
}
clean() { rm -rf "$SSHD_FILES/up.bin" "$SSHD_FILES/tree" "$T/down/src.bin"; sync; }
checked() {  # each side's result is right, once
  case $1 in
    up) cmp -s "$L/big.bin" "$SSHD_FILES/up.bin" ;;
    down) cmp -s "$L/big.bin" "$T/down/src.bin" ;;
    tree) diff -r -q "$L/tree" "$SSHD_FILES/tree" >/dev/null ;;
  esac || { fail "$1 ($2): the transferred data differs: $(ls -R "$SSHD_FILES" | head -20)"; exit 1; }
}

run_case() {  # CASE WHO
  clean
  case $1/$2 in
    up/ours) timed up-ours ours "$URL$SSHD_FILES" put "$L/big.bin" up.bin ;;
    up/openssh) timed up-openssh openssh "$T/put.batch" ;;
    down/ours) timed down-ours ours "$URL$SSHD_FILES" get src.bin "$T/down/src.bin" ;;
    down/openssh) timed down-openssh openssh "$T/get.batch" ;;
    tree/ours) timed tree-ours ours --parallel "$parallel" "$URL$SSHD_FILES" put -r "$L/tree" tree ;;
    tree/openssh) timed tree-openssh openssh "$T/tree.batch" ;;
  esac
  [ "$round" -gt 1 ] || checked "$1" "$2"
}

for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds ..." >&2
  for c in up down tree; do
    # Who goes first alternates, so neither always meets a warm cache.
    if [ $((round % 2)) = 1 ]; then run_case $c ours; run_case $c openssh
    else run_case $c openssh; run_case $c ours; fi
  done
done
clean

median_of() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
median() { median_of <"$T/$1.times"; }
# cpu_per_gb OUT FIELD BYTES: the median CPU seconds per GB (10^9 bytes).
cpu_per_gb() { awk -v f="$2" '{print $f}' "$T/$1.cpu" | median_of | awk -v b="$3" '{printf "%.2f", $1 / (b / 1e9)}'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.1f", b / 1e6 / s}'; }

echo
echo "secretref-sftp vs OpenSSH sftp: loopback sshd with Azure's algorithm lists, on $(basename "$workdir") ($workdir)"
if [ "$rtt" -gt 0 ]; then echo "round-trip time: $rtt ms added by bench_delay_proxy"; else echo "round-trip time: loopback (none added: CPU sets the pace)"; fi
echo "user key: the same ECDSA P-256 key for both (sftp -i FILE; secretref-sftp --key secretref:bench-key, imported)"
echo "secretref-sftp: ${negotiated:-?} (libssh2 $(dpkg-query -W -f '${Version}' libssh2-1 2>/dev/null || echo '?'))"
echo "OpenSSH sftp:   -c $CIPHER -o MACs=$MAC (its own choice here would be aes128-ctr with hmac-sha2-256-etm@openssh.com, which libssh2 1.10 lacks)${openssh_algs:+; negotiated $openssh_algs}"
echo "$rounds rounds, taking turns; median of each; MB/s = 10^6 bytes per second, connection and login included"
echo
printf '%-34s %15s %13s %7s %8s\n' case secretref-sftp "OpenSSH sftp" ratio target
row() {  # CASE LABEL BYTES TARGET
  local mo ms ours_r theirs_r ratio verdict
  mo=$(median "$1-ours"); ms=$(median "$1-openssh")
  ours_r=$(mbps "$3" "$mo"); theirs_r=$(mbps "$3" "$ms")
  ratio=$(awk -v a="$ours_r" -v b="$theirs_r" 'BEGIN {printf "%.2f", a / b}')
  verdict=$(awk -v r="$ratio" -v t="$4" 'BEGIN {print (r >= t) ? "met" : "MISSED"}')
  printf '%-34s %10s MB/s %8s MB/s %7s %5s %s\n' "$2" "$ours_r" "$theirs_r" "$ratio" ">=$4" "$verdict"
}
row up "upload, $size MiB" "$big_bytes" 0.9
row down "download, $size MiB" "$big_bytes" 0.9
row tree "put -r, $files x $file_size MiB (--parallel $parallel)" "$tree_bytes" 1.3
echo
echo "CPU seconds per GB (median; client = the program and, for OpenSSH, its ssh; server = sshd's sessions); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %15s %13s %15s %13s\n' case "client: ours" "OpenSSH" "server: ours" "OpenSSH"
cpu_row() {
  printf '%-34s %15s %13s %15s %13s\n' "$2" "$(cpu_per_gb "$1-ours" 1 "$3")" \
    "$(cpu_per_gb "$1-openssh" 1 "$3")" "$(cpu_per_gb "$1-ours" 2 "$3")" "$(cpu_per_gb "$1-openssh" 2 "$3")"
}
cpu_row up "upload, $size MiB" "$big_bytes"
cpu_row down "download, $size MiB" "$big_bytes"
cpu_row tree "put -r, $files x $file_size MiB" "$tree_bytes"
