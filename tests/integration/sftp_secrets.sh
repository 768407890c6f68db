#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# No secret leaves secretref-sftp: the password of a manual reference and
# the private key of a certificate reference appear in no output (with
# --verbose), no log (sshd's at DEBUG3 too), no known_hosts, and not in the
# arguments or environment of any process while a transfer runs. A key
# imported from a file: none of its private bytes anywhere but sealed in
# the store.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/sshd.sh"
require sha256sum find cmp ssh-keygen openssl ps grep

sshd_init ecdsa
sshd_password_user
# DEBUG3 first: the first value of a keyword is the one sshd takes.
sshd_start "LogLevel DEBUG3" "PasswordAuthentication yes"

wrong_pw='Wrong-Secret-Password-8c4e2b!'
expect 0 init sr init
expect 0 new-pw sr new sftp-pw --manual --secret-file "$T/input/sshd-password"
expect 0 new-wrong sr new wrong-pw --manual --secret-file "$(input wrong "$wrong_pw")"
expect 0 new-gen sr new gen --generate rsa-3072
expect 0 pub-gen sr pubkey gen --format openssh
sshd_authorize "$T/pub-gen.out"

# An imported key whose private scalar has no NUL or newline byte, so a
# byte search can find it in any file.
mkdir -p "$T/input"
for i in $(seq 50); do
  rm -f "$T/input/imported" "$T/input/imported.pub"
  ssh-keygen -q -m PEM -t ecdsa -b 256 -N '' -C '' -f "$T/input/imported"
  priv=$(openssl pkey -in "$T/input/imported" -text -noout |
    sed -n '/^priv:/,/^pub:/p' | grep -v '^p' | tr -d ' :\n')
  priv=${priv: -64}
  [ ${#priv} -eq 64 ] || continue
  echo "$priv" | grep -qE '^(..)*(00|0a)' || break
done
[ ${#priv} -eq 64 ] && pass || fail "no private scalar read from the imported key"
expect 0 new-imported sr new imported --certificate "$T/input/imported"
expect 0 pub-imported sr pubkey imported --format openssh
sshd_authorize "$T/pub-imported.out"
pem_body=$(grep -v -- '-----' "$T/input/imported" | head -1)

S=$SECRETREF_BIN/secretref-sftp
L=$T/local
mkdir -p "$L"
head -c 150M /dev/urandom >"$L/big.bin"

# watched NAME CMD...: runs a transfer and, while it runs, records the
# arguments and environment of every process on the machine; then waits
# (at most 120 s) and checks the status is 0.
watched() {
  local name=$1 pid i kids seen=0; shift
  "$@" >"$T/$name.out" 2>"$T/$name.err" &
  pid=$!
  for i in $(seq "$(scaled 1000)"); do
    # Logged in: sshd titles the session "sshd: USER@notty".
    kids=$(sshd_descendants "$SSHD_PID" | paste -sd, -)
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$S")" ] &&
      [ -n "$kids" ] && ps -o args= -p "$kids" 2>/dev/null | grep -q '@notty'; then
      tr '\0' ' ' <"/proc/$pid/cmdline" >"$T/$name.cmdline"
      tr '\0' '\n' <"/proc/$pid/environ" >"$T/$name.environ"
      # This process and the server's, by ps.
      ps -o pid,args -p "$pid,$SSHD_PID,$kids" >"$T/$name.ps" || true
      # Every process on the machine (others' too: only for the password,
      # which no other process could know).
      for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null || true; echo
      done >"$T/$name.ps-all"
      seen=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  [ "$seen" = 1 ] && pass || fail "$name: the transfer was not seen running"
  for i in $(seq "$(scaled 1200)"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "$name: still running after 120 s"; }
  set +e; wait "$pid"; status=$?; set -e
  last=$name
  [ "$status" -eq 0 ] && pass || fail "$name: exit status $status: $(cat "$T/$name.err")"
}

watched pw-put "$S" --verbose --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw \
  "$SSHD_PW_URL$SSHD_PW_HOME" put "$L/big.bin" big.bin
contains "$T/pw-put.cmdline" "--password-ref sftp-pw"
contains "$T/pw-put.ps" "secretref-sftp"
contains "$T/pw-put.ps" "sshd: $SSHD_PW_USER@notty"
watched pw-get "$S" --verbose --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw \
  "$SSHD_PW_URL$SSHD_PW_HOME" get big.bin "$T/pw-back.bin"
cmp -s "$L/big.bin" "$T/pw-back.bin" && pass || fail "password transfer"
watched key-put "$S" --verbose --known-hosts "$SSHD_KNOWN" --key secretref:gen \
  "$SSHD_URL$SSHD_FILES" put "$L/big.bin" big.bin
watched imported-get "$S" --verbose --known-hosts "$SSHD_KNOWN" --key secretref:imported \
  "$SSHD_URL$SSHD_FILES" get big.bin "$T/key-back.bin"
cmp -s "$L/big.bin" "$T/key-back.bin" && pass || fail "key transfer"
watched tree "$S" --verbose --parallel 4 --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw \
  --key secretref:gen "$SSHD_PW_URL$SSHD_PW_HOME" put -r "$L" tree
# Failures say no secret either: a wrong password, a key refused, --accept-new.
expect 13 wrong "$S" --verbose --known-hosts "$SSHD_KNOWN" --password-ref wrong-pw \
  "$SSHD_PW_URL$SSHD_PW_HOME" ls
expect 13 refused "$S" --verbose --known-hosts "$SSHD_KNOWN" --key secretref:imported \
  --password-ref wrong-pw "$SSHD_PW_URL$SSHD_PW_HOME" ls
expect 0 accept "$S" --verbose --accept-new --known-hosts "$T/accepted_hosts" \
  --password-ref sftp-pw "$SSHD_PW_URL$SSHD_PW_HOME" ls
# The audit log and the connector, too.
expect 0 add-conn sr connector add c --host 127.0.0.1 --port "$SSHD_PORT" \
  --user "$SSHD_PW_USER" --password-ref sftp-pw --key-ref imported --host-key "$SSHD_FP"
expect 0 conn "$S" --verbose c ls "$SSHD_PW_HOME"
expect 0 audit sr audit
expect 0 export sr export
grep -q "Accepted password for $SSHD_PW_USER" "$SSHD_LOG" && pass || fail "no password login logged"
grep -q "debug3" "$SSHD_LOG" && pass || fail "the sshd log is not at DEBUG3"

# The transferred data is random and large: out of the search.
rm -f "$L/big.bin" "$T/pw-back.bin" "$T/key-back.bin" "$SSHD_FILES/big.bin" \
  "$SSHD_PW_HOME/big.bin" "$SSHD_PW_HOME/tree/big.bin"
# Everything the test made: outputs, logs, known_hosts, process lists, the
# store and its WAL (sealed), the server's files. input/ holds the secrets.
no_leak "$SSHD_PASSWORD"
no_leak "$wrong_pw"
no_leak "$pem_body"
hits=$(grep -rlaF -- "PRIVATE KEY" "$T" | grep -v "^$T/input/" |
  grep -v "^$SSHD_DIR/host_key$" | grep -v '\.ps-all$' || true)
[ -z "$hits" ] && pass || fail "'PRIVATE KEY' in: $hits"
pattern=$(echo "$priv" | sed 's/../\\x&/g')
hits=$(LC_ALL=C grep -rlaPz -- "$pattern" "$T" | grep -v "^$T/input/" || true)
[ -z "$hits" ] && pass || fail "the imported key's private bytes in: $hits"
# The check itself finds the bytes where they are.
LC_ALL=C grep -qaPz -- "$pattern" <(openssl ec -in "$T/input/imported" -outform DER 2>/dev/null) &&
  pass || fail "the private-byte search does not find the key in its own DER"
