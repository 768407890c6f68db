#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# secretref-sftp through a connector kept in the store (key reference,
# remote folder, pinned host key; a password connector; overrides from the
# command line) and through batch files in OpenSSH sftp syntax: quoted and
# escaped names with spaces, comments, a '-' command that fails without
# stopping the batch, a failing command that stops it with its own exit
# status, standard input, and the same batch run by OpenSSH's sftp giving
# the same files.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/sshd.sh"
require sha256sum find cmp sftp ssh-keygen

sshd_init ecdsa
sshd_password_user
sshd_start "PasswordAuthentication yes"

expect 0 init sr init
expect 0 new-key sr new sftp-key --generate ec-p256
expect 0 pub sr pubkey sftp-key --format openssh
sshd_authorize "$T/pub.out"
expect 0 new-other sr new other-key --generate ec-p256  # never authorized
expect 0 new-pw sr new sftp-pw --manual --secret-file "$T/input/sshd-password"
# OpenSSH's own client, for the batch comparison.
ssh-keygen -q -t ecdsa -b 256 -N '' -C '' -f "$T/id_openssh"
sshd_authorize "$T/id_openssh.pub"

S=$SECRETREF_BIN/secretref-sftp
L=$T/local
mkdir -p "$L" "$T/back"
head -c 300000 /dev/urandom >"$L/data.bin"
printf 'spaces\n' >"$L/name with spaces.txt"
printf 'single\n' >"$L/single quoted.txt"
printf 'escaped\n' >"$L/escaped name.txt"
printf 'ünï\n' >"$L/ünïcødé.txt"

# ---- connectors ---------------------------------------------------------------
mkdir -p "$SSHD_FILES/conn"
expect 0 add-conn sr connector add lab --host 127.0.0.1 --port "$SSHD_PORT" \
  --user root --key-ref sftp-key --host-key "$SSHD_FP" --folder "$SSHD_FILES/conn"
# No known_hosts anywhere: the pinned key is what is checked.
[ ! -e "$HOME/.ssh/known_hosts" ] && pass || fail "a known_hosts file in HOME"
expect 0 conn-put "$S" --quiet lab put "$L/data.bin" data.bin
cmp -s "$L/data.bin" "$SSHD_FILES/conn/data.bin" && pass || fail "put through the connector"
expect 0 conn-put-sp "$S" --quiet lab put "$L/name with spaces.txt" "name with spaces.txt"
expect 0 conn-ls "$S" --quiet lab ls
out_contains "data.bin"
out_contains "name with spaces.txt"
expect 0 conn-stat "$S" --quiet lab stat data.bin
out_contains "path: $SSHD_FILES/conn/data.bin"
out_contains "size: 300000"
expect 0 conn-get "$S" --quiet lab get data.bin "$T/back/data.bin"
cmp -s "$L/data.bin" "$T/back/data.bin" && pass || fail "get through the connector"
expect 0 conn-put-r "$S" --quiet lab put -r "$L" tree
equal "$(tree_sums "$SSHD_FILES/conn/tree")" "$(tree_sums "$L")" "put -r through the connector"
expect 0 conn-get-r "$S" --quiet lab get -r tree "$T/back/tree"
equal "$(tree_sums "$T/back/tree")" "$(tree_sums "$L")" "get -r through the connector"
expect 0 conn-verbose "$S" --verbose lab ls
err_contains "host key $SSHD_FP"

# The connector's pinned key, wrong: 12, nothing touched.
before=$(listing "$SSHD_FILES")
expect 0 add-badpin sr connector add badpin --host 127.0.0.1 --port "$SSHD_PORT" \
  --user root --key-ref sftp-key --folder "$SSHD_FILES/conn" \
  --host-key "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect 12 badpin "$S" --quiet badpin put "$L/data.bin" pinned.bin
err_contains "$SSHD_FP"
one_line "$T/badpin.err"
# --host-key on the command line wins over the connector's.
expect 0 pin-override "$S" --quiet --host-key "$SSHD_FP" badpin ls
expect 12 pin-override-bad "$S" --quiet --host-key \
  "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" lab ls
# --key on the command line wins over the connector's key.
expect 13 key-override "$S" --quiet --key secretref:other-key lab ls
one_line "$T/key-override.err"
# No pinned key: known_hosts is checked.
expect 0 add-nopin sr connector add nopin --host 127.0.0.1 --port "$SSHD_PORT" \
  --user root --key secretref:sftp-key --folder "$SSHD_FILES/conn"
expect 11 nopin-unknown "$S" --quiet nopin ls
err_contains "$SSHD_FP"
expect 0 nopin-known "$S" --quiet --known-hosts "$SSHD_KNOWN" nopin ls
out_contains "data.bin"
equal "$(listing "$SSHD_FILES")" "$before" "failed connections touched no server file"
# A connector that does not exist: usage, one line.
expect 2 no-conn "$S" --quiet no-such-connector ls
one_line "$T/no-conn.err"
err_contains "no-such-connector"

# A password connector, its folder relative to the login folder.
expect 0 add-pw sr connector add lab-pw --host 127.0.0.1 --port "$SSHD_PORT" \
  --user "$SSHD_PW_USER" --password-ref sftp-pw --host-key "$SSHD_FP" --folder files
expect 0 pw-put "$S" --quiet lab-pw put "$L/data.bin" data.bin
cmp -s "$L/data.bin" "$SSHD_PW_HOME/data.bin" && pass || fail "put through the password connector"
expect 0 pw-get "$S" --quiet lab-pw get data.bin "$T/back/pw.bin"
cmp -s "$L/data.bin" "$T/back/pw.bin" && pass || fail "get through the password connector"

# A URL without a folder: relative names are from the login folder.
expect 0 url-nopath "$S" --quiet --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw \
  "$SSHD_PW_URL" put "$L/data.bin" files/relative.bin
cmp -s "$L/data.bin" "$SSHD_PW_HOME/relative.bin" && pass || fail "put relative to the login folder"
expect 0 url-nopath-pwd "$S" --quiet --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw \
  "$SSHD_PW_URL" ls files
out_contains relative.bin

# ---- batch files ------------------------------------------------------------------
mkdir -p "$SSHD_FILES/b"
cat >"$T/ok.batch" <<EOF
# a comment, then a blank line

mkdir batch
put "$L/name with spaces.txt" "batch/name with spaces.txt"
put '$L/single quoted.txt' 'batch/single quoted.txt'
put $L/escaped\\ name.txt batch/escaped\\ name.txt
put "$L/ünïcødé.txt" batch/ünïcødé.txt
  put $L/data.bin batch/data.bin
-rm batch/does-not-exist
-put $L/no-such-local-file batch/x
ls batch
@stat "batch/name with spaces.txt"
get "batch/name with spaces.txt" "$T/back/name with spaces.txt"
rename batch/data.bin "batch/data renamed.bin"
mkdir batch/sub
rmdir batch/sub
EOF
expect 0 batch-ok "$S" --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/ok.batch" "$SSHD_URL$SSHD_FILES/b"
B=$SSHD_FILES/b/batch
for f in "name with spaces.txt" "single quoted.txt" "escaped name.txt" "ünïcødé.txt"; do
  cmp -s "$L/$f" "$B/$f" && pass || fail "batch put of '$f'"
done
cmp -s "$L/data.bin" "$B/data renamed.bin" && [ ! -e "$B/data.bin" ] && pass ||
  fail "batch rename"
[ ! -e "$B/sub" ] && pass || fail "batch rmdir"
cmp -s "$L/name with spaces.txt" "$T/back/name with spaces.txt" && pass || fail "batch get"
# Commands are echoed as OpenSSH sftp does, '@' ones not.
out_contains 'sftp> mkdir batch'
out_contains 'sftp> -rm batch/does-not-exist'
lacks "$T/batch-ok.out" 'sftp> @stat'
lacks "$T/batch-ok.out" 'stat "batch'
out_contains "size: 7"
out_contains "name with spaces.txt"
# The two ignored failures were said, and did not stop the batch.
err_contains "batch/does-not-exist"
err_contains "no-such-local-file"
equal "$(wc -l <"$T/batch-ok.err")" 2 "one line per ignored failure"

# A failing command without '-' stops the batch with its own status.
cat >"$T/stop.batch" <<EOF
put $L/data.bin batch/before.bin
rm batch/nothing-here
put $L/data.bin batch/after.bin
EOF
expect 14 batch-stop "$S" --quiet --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/stop.batch" "$SSHD_URL$SSHD_FILES/b"
[ -f "$B/before.bin" ] && pass || fail "the command before the failure did not run"
[ ! -e "$B/after.bin" ] && pass || fail "the batch went on after a failure"
one_line "$T/batch-stop.err"
# A local failure: its status, 15.
printf 'put %s batch/l.bin\nput %s batch/after.bin\n' "$L/missing" "$L/data.bin" >"$T/local.batch"
expect 15 batch-local "$S" --quiet --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/local.batch" "$SSHD_URL$SSHD_FILES/b"
[ ! -e "$B/after.bin" ] && [ ! -e "$B/l.bin" ] && pass || fail "batch went on after a local failure"
# Rename onto an existing name: 14, naming Azure, and the batch stops.
printf 'rename batch/before.bin "batch/data renamed.bin"\nrm batch/before.bin\n' >"$T/rename.batch"
expect 14 batch-rename "$S" --quiet --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/rename.batch" "$SSHD_URL$SSHD_FILES/b"
err_contains "Azure"
[ -f "$B/before.bin" ] && pass || fail "the batch went on after a refused rename"
# An unknown command stops it as a usage error.
printf 'chmod 600 batch/before.bin\nrm batch/before.bin\n' >"$T/unknown.batch"
expect 2 batch-unknown "$S" --quiet --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/unknown.batch" "$SSHD_URL$SSHD_FILES/b"
[ -f "$B/before.bin" ] && pass || fail "the batch went on after an unknown command"
# An unterminated quote on the first line: nothing runs.
printf 'put "%s batch/q.bin\n' "$L/data.bin" >"$T/quote.batch"
expect 2 batch-quote "$S" --quiet --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/quote.batch" "$SSHD_URL$SSHD_FILES/b"
one_line "$T/batch-quote.err"
[ ! -e "$B/q.bin" ] && pass || fail "a bad batch line ran"
# -b with a command too is a usage error.
expect 2 batch-and-cmd "$S" --key secretref:sftp-key -b "$T/ok.batch" \
  "$SSHD_URL$SSHD_FILES/b" ls
# From standard input, through a connector; 'bye' ends it.
printf 'cd %s\nput %s stdin.bin\nbye\nput %s never.bin\n' \
  "$B" "$L/data.bin" "$L/data.bin" >"$T/stdin.batch"
expect 0 batch-stdin "$S" --quiet -b - lab <"$T/stdin.batch"
cmp -s "$L/data.bin" "$B/stdin.bin" && pass ||
  fail "batch from standard input: $(cat "$T/batch-stdin.err")"
find "$SSHD_FILES" -name never.bin | grep -q . && fail "the batch went on after bye" || pass

# ---- the same batch through OpenSSH's sftp: the same files -----------------------
# The commands both share (OpenSSH sftp has no stat).
cat >"$T/common.batch" <<EOF
mkdir cmp
put "$L/name with spaces.txt" "cmp/name with spaces.txt"
put '$L/single quoted.txt' 'cmp/single quoted.txt'
put $L/escaped\\ name.txt cmp/escaped\\ name.txt
put $L/data.bin cmp/data.bin
-rm cmp/does-not-exist
rename cmp/data.bin "cmp/data renamed.bin"
mkdir cmp/sub
rmdir cmp/sub
ls cmp
EOF
mkdir -p "$SSHD_FILES/ours" "$SSHD_FILES/openssh"
expect 0 common-ours "$S" --quiet --key secretref:sftp-key --host-key "$SSHD_FP" \
  -b "$T/common.batch" "$SSHD_URL$SSHD_FILES/ours"
expect 0 common-openssh sftp -q -i "$T/id_openssh" -P "$SSHD_PORT" \
  -o UserKnownHostsFile="$SSHD_KNOWN" -o StrictHostKeyChecking=yes \
  -o BatchMode=yes -o IdentitiesOnly=yes -b "$T/common.batch" \
  "root@127.0.0.1:$SSHD_FILES/openssh"
equal "$(tree_sums "$SSHD_FILES/ours")" "$(tree_sums "$SSHD_FILES/openssh")" \
  "the same batch, the same files as OpenSSH sftp"
[ -n "$(tree_sums "$SSHD_FILES/ours")" ] && pass || fail "the common batch made nothing"

[ -z "$(find "$SSHD_FILES" "$T/back" -name '*.part-*')" ] && pass || fail "temporaries left"
no_leak "$SSHD_PASSWORD"
