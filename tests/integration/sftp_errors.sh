#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# secretref-sftp's failures, each its own exit status and one line on
# standard error (with the host key's fingerprint where it matters), and no
# file touched on the server or locally: unknown host key (11), changed
# host key and pin mismatch (12), wrong key, a key type Azure refuses and
# wrong password (13), closed port (10), unusable references (17), usage
# errors (2). Hashed known_hosts entries work; --accept-new records a new
# key but never a changed one.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/sshd.sh"
require sha256sum find cmp ssh-keygen

sshd_init ecdsa
sshd_password_user
sshd_start "PasswordAuthentication yes"

expect 0 init sr init
expect 0 new-key sr new good --generate ec-p256
expect 0 pub sr pubkey good --format openssh
sshd_authorize "$T/pub.out"
expect 0 new-other sr new other --generate ec-p384      # not authorized
expect 0 new-ed sr new ed --generate ed25519            # Azure refuses Ed25519
expect 0 pub-ed sr pubkey ed --format openssh
sshd_authorize "$T/pub-ed.out"
expect 0 new-pw sr new good-pw --manual --secret-file "$T/input/sshd-password"
wrong_pw='Wrong-Password-5e1c9a?'
expect 0 new-wrong sr new wrong-pw --manual --secret-file "$(input wrong "$wrong_pw")"

S=$SECRETREF_BIN/secretref-sftp
L=$T/local
mkdir -p "$L"
head -c 200000 /dev/urandom >"$L/up.bin"
printf 'on the server\n' >"$SSHD_FILES/there.txt"
cp "$SSHD_FILES/there.txt" "$SSHD_PW_HOME/there.txt"
chown "$SSHD_PW_USER:" "$SSHD_PW_HOME/there.txt"
URL=$SSHD_URL$SSHD_FILES

# Another host key, for the "changed" cases.
ssh-keygen -q -t ecdsa -b 256 -N '' -C '' -f "$T/other_host"
other_fp=$(ssh-keygen -l -E sha256 -f "$T/other_host.pub" | awk '{print $2}')
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1-2 "$T/other_host.pub")" >"$T/changed_hosts"

snapshot() { listing "$SSHD_FILES"; listing "$SSHD_PW_HOME"; listing "$L"; }
# refused STATUS NAME ARGS...: runs a put and a get that must both fail
# with STATUS and one line, and checks that no file changed anywhere.
refused() {
  local want=$1 name=$2 before; shift 2
  before=$(snapshot)
  expect "$want" "$name-put" "$S" "$@" put "$L/up.bin" up.bin
  one_line "$T/$name-put.err"
  expect "$want" "$name-get" "$S" "$@" get there.txt "$L/there.txt"
  one_line "$T/$name-get.err"
  equal "$(snapshot)" "$before" "$name: files touched"
  last=$name-put
}

# ---- host keys ----------------------------------------------------------------------
# Unknown: an empty known_hosts, a missing one, the default (~/.ssh).
: >"$T/empty_hosts"
refused 11 unknown --known-hosts "$T/empty_hosts" --key secretref:good "$URL"
err_contains "$SSHD_FP"
err_contains "unknown host key"
equal "$(stat -c %s "$T/empty_hosts")" 0 "known_hosts written without --accept-new"
refused 11 unknown-missing --known-hosts "$T/missing_hosts" --key secretref:good "$URL"
err_contains "$SSHD_FP"
[ ! -e "$T/missing_hosts" ] && pass || fail "a missing known_hosts was created"
refused 11 unknown-default --key secretref:good "$URL"
err_contains "$HOME/.ssh/known_hosts"

# Changed: known_hosts has another key for [127.0.0.1]:PORT.
sum=$(sha256sum <"$T/changed_hosts")
refused 12 changed --known-hosts "$T/changed_hosts" --key secretref:good "$URL"
err_contains "$SSHD_FP"
err_contains "changed"
# --accept-new never replaces a changed key.
refused 12 changed-accept --accept-new --known-hosts "$T/changed_hosts" \
  --key secretref:good "$URL"
err_contains "$SSHD_FP"
equal "$(sha256sum <"$T/changed_hosts")" "$sum" "known_hosts changed by --accept-new"
# A pin that is not the server's.
refused 12 pin --host-key "$other_fp" --key secretref:good "$URL"
err_contains "$SSHD_FP"
err_contains "$other_fp"
expect 2 pin-and-file "$S" --host-key "$SSHD_FP" --known-hosts "$SSHD_KNOWN" \
  --key secretref:good "$URL" ls

# Hashed entries (ssh-keygen -H): the right key works, another is a change.
cp "$SSHD_KNOWN" "$T/hashed_hosts"
ssh-keygen -q -H -f "$T/hashed_hosts" >/dev/null 2>&1
rm -f "$T/hashed_hosts.old"
grep -q '^|1|' "$T/hashed_hosts" && pass || fail "ssh-keygen -H did not hash: $(cat "$T/hashed_hosts")"
lacks "$T/hashed_hosts" "127.0.0.1"
expect 0 hashed "$S" --quiet --known-hosts "$T/hashed_hosts" --key secretref:good "$URL" \
  put "$L/up.bin" hashed.bin
cmp -s "$L/up.bin" "$SSHD_FILES/hashed.bin" && pass || fail "put with a hashed known_hosts"
rm -f "$SSHD_FILES/hashed.bin"
cp "$T/changed_hosts" "$T/hashed_changed"
ssh-keygen -q -H -f "$T/hashed_changed" >/dev/null 2>&1
refused 12 hashed-changed --known-hosts "$T/hashed_changed" --key secretref:good "$URL"
err_contains "$SSHD_FP"

# --accept-new: records an unknown key as OpenSSH would, then it is known.
cp "$T/other_host.pub" "$T/accept_hosts"   # an unrelated line stays
sed -i 's/^/other.example /' "$T/accept_hosts"
expect 0 accept "$S" --accept-new --known-hosts "$T/accept_hosts" \
  --key secretref:good "$URL" ls
out_contains there.txt
err_contains "recorded new host key $SSHD_FP"
one_line "$T/accept.err"
equal "$(wc -l <"$T/accept_hosts")" 2 "known_hosts lines after --accept-new"
head -1 "$T/accept_hosts" | grep -q '^other.example ' && pass || fail "the old line changed"
recorded=$(ssh-keygen -l -E sha256 -F "[127.0.0.1]:$SSHD_PORT" -f "$T/accept_hosts" | grep -v '^#' | awk '{print $3}')
equal "$recorded" "$SSHD_FP" "OpenSSH reads the recorded key"
expect 0 accepted "$S" --quiet --known-hosts "$T/accept_hosts" --key secretref:good "$URL" ls
sum=$(sha256sum <"$T/accept_hosts")
expect 0 accept-again "$S" --quiet --accept-new --known-hosts "$T/accept_hosts" \
  --key secretref:good "$URL" ls
equal "$(sha256sum <"$T/accept_hosts")" "$sum" "a known key recorded twice"

# ---- authentication -----------------------------------------------------------------
refused 13 wrong-key --known-hosts "$SSHD_KNOWN" --key secretref:other "$URL"
err_contains "authentication failed"
err_contains "root@127.0.0.1"
refused 13 ed25519 --known-hosts "$SSHD_KNOWN" --key secretref:ed "$URL"
grep -q "Accepted publickey .* ED25519" "$SSHD_LOG" && fail "an Ed25519 key was accepted" || pass
PWURL=$SSHD_PW_URL$SSHD_PW_HOME
refused 13 wrong-pw --known-hosts "$SSHD_KNOWN" --password-ref wrong-pw "$PWURL"
err_contains "password refused"
grep -q "Failed password for $SSHD_PW_USER" "$SSHD_LOG" && pass || fail "no failed password in the sshd log"
# Key first, then password: a refused key falls back to the password.
expect 0 key-then-pw "$S" --verbose --known-hosts "$SSHD_KNOWN" --key secretref:other \
  --password-ref good-pw "$PWURL" ls
out_contains there.txt
err_contains "the key was refused"
# A password for root, whom the server lets in by key only.
refused 13 root-pw --known-hosts "$SSHD_KNOWN" --password-ref good-pw "$URL"

# ---- connection ----------------------------------------------------------------------
closed=$(free_port)
refused 10 closed --known-hosts "$SSHD_KNOWN" --key secretref:good \
  "sftp://root@127.0.0.1:$closed$SSHD_FILES"
err_contains "port $closed"
err_contains "refused"

# ---- references and usage -------------------------------------------------------------
refused 17 no-key --known-hosts "$SSHD_KNOWN" --key secretref:no-such-ref "$URL"
err_contains "no-such-ref"
refused 17 no-pw --known-hosts "$SSHD_KNOWN" --password-ref no-such-pw "$URL"
err_contains "no-such-pw"
refused 17 key-file --known-hosts "$SSHD_KNOWN" --key "$T/no-such-key.pem" "$URL"
err_contains "no-such-key.pem: No such file or directory"
# A password reference is not a key, and a key reference is not a password.
refused 17 pw-as-key --known-hosts "$SSHD_KNOWN" --key secretref:good-pw "$URL"
refused 17 key-as-pw --known-hosts "$SSHD_KNOWN" --password-ref good "$URL"

refused 2 azure-bad --azure foo
err_contains "ACCOUNT"
refused 2 azure-dot --azure "acct."
refused 2 azure-lead --azure ".user"
refused 2 no-user --key secretref:good "sftp://127.0.0.1:$SSHD_PORT/x"
refused 2 bad-port --key secretref:good "sftp://root@127.0.0.1:99999/x"
refused 2 no-auth --known-hosts "$SSHD_KNOWN" "$URL"
expect 2 no-command "$S" --key secretref:good "$URL"
expect 2 bad-parallel "$S" --parallel 0 --key secretref:good "$URL" ls
expect 2 bad-option "$S" --bogus "$URL" ls
expect 2 bad-command "$S" --known-hosts "$SSHD_KNOWN" --key secretref:good "$URL" chmod 600 there.txt
one_line "$T/bad-command.err"
expect 0 help "$S" --help
out_contains "--azure"

# Local failures: a missing local file, a folder without -r: 15, nothing made.
before=$(snapshot)
expect 15 put-missing "$S" --known-hosts "$SSHD_KNOWN" --key secretref:good "$URL" \
  put "$L/missing.bin" missing.bin
one_line "$T/put-missing.err"
expect 15 put-folder "$S" --known-hosts "$SSHD_KNOWN" --key secretref:good "$URL" \
  put "$L" folder
err_contains "put -r"
expect 15 get-nodir "$S" --known-hosts "$SSHD_KNOWN" --key secretref:good "$URL" \
  get there.txt "$L/no/such/dir/there.txt"
err_contains "$L/no/such/dir/there.txt: No such file or directory"
lacks "$T/get-nodir.err" ".part-"
equal "$(snapshot)" "$before" "local failures touched files"

[ -z "$(find "$SSHD_FILES" "$SSHD_PW_HOME" "$L" -name '*.part-*')" ] && pass || fail "temporaries left"
no_leak "$SSHD_PASSWORD"
no_leak "$wrong_pw"
