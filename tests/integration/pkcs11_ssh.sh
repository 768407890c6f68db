#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OpenSSH with the PKCS#11 module: "ssh-keygen -D" prints the public keys of
# the token's RSA and ECDSA references, and "ssh -I" logs into a loopback
# sshd with an ECDSA (P-256, P-384) and an RSA reference (rsa-sha2-256,
# rsa-sha2-512, ssh-rsa); a token without an authorized key is refused.
source "$(dirname "$0")/../lib/common.sh"
require ssh ssh-keygen /usr/sbin/sshd openssl jq

M=$SECRETREF_LIB/secretref-pkcs11.so
[ -f "$M" ] || { fail "module $M is not built"; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  fail "this test logs in as root to a private sshd, so it must run as root (uid $(id -u))"
  exit 1
fi

expect 0 init sr init
for k in rsa:rsa-2048 ecdsa:ec-p256 ec384:ec-p384 ed:ed25519; do
  expect 0 "new-${k%%:*}" sr new "${k%%:*}" --generate "${k#*:}"
done
# The RSA reference has a certificate too: its key is listed once.
expect 0 cert-rsa foreign openssl req "${OSSL_PROV[@]}" -x509 -key secretref:rsa \
  -subj /CN=ssh-rsa -days 30 -out "$T/rsa.cert.pem"
expect 0 attach-rsa sr set rsa --certificate "$T/rsa.cert.pem"
for n in rsa ecdsa ec384; do
  expect 0 "openssh-$n" sr pubkey "$n" --format openssh
  cut -d' ' -f1,2 "$T/openssh-$n.out" >"$T/$n.openssh"
  equal "$(wc -l <"$T/$n.openssh")" 1 "$n: one OpenSSH line"
  expect 0 "fp-$n" ssh-keygen -lf "$T/openssh-$n.out"
  cut -d' ' -f2 "$T/fp-$n.out" >"$T/$n.fp"
done
grep -q '^ssh-rsa AAAA' "$T/rsa.openssh" && pass || fail "rsa: not an ssh-rsa line"
grep -q '^ecdsa-sha2-nistp256 AAAA' "$T/ecdsa.openssh" && pass || fail "ecdsa: not nistp256"
grep -q '^ecdsa-sha2-nistp384 AAAA' "$T/ec384.openssh" && pass || fail "ec384: not nistp384"

# --- ssh-keygen -D: the public keys, read without logging in ---
expect 0 keygen-D foreign ssh-keygen -D "$M"
cut -d' ' -f1,2 "$T/keygen-D.out" | sort >"$T/keygen-D.keys"
sort "$T/rsa.openssh" "$T/ecdsa.openssh" "$T/ec384.openssh" >"$T/want.keys"
if cmp -s "$T/keygen-D.keys" "$T/want.keys"; then pass; else
  fail "ssh-keygen -D keys differ: $(diff "$T/want.keys" "$T/keygen-D.keys")"
fi
# Each line carries the reference's name as its comment.
for n in rsa ecdsa ec384; do
  grep -qF "$(cat "$T/$n.openssh") $n" "$T/keygen-D.out" && pass \
    || fail "ssh-keygen -D: no line for $n with its name"
done
# (OpenSSH 9.2 has no Ed25519 over PKCS#11: that key is skipped, not shown.)
lacks "$T/keygen-D.out" "ssh-ed25519"

# --- A loopback sshd that accepts rsa, ecdsa and ec384 ---
mkdir -p /run/sshd
chmod 0755 /run/sshd
expect 0 hostkey ssh-keygen -q -t ed25519 -N '' -C test-host -f "$T/host_ed25519"
cat "$T/rsa.openssh" "$T/ecdsa.openssh" "$T/ec384.openssh" >"$T/authorized_keys"
chmod 600 "$T/authorized_keys"
port=$(free_port)
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $T/host_ed25519
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthenticationMethods publickey
PubkeyAcceptedAlgorithms +ssh-rsa,rsa-sha2-256,rsa-sha2-512
MaxAuthTries 20
LogLevel VERBOSE
EOF
expect 0 sshd-config /usr/sbin/sshd -t -f "$T/sshd_config"
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
sshd_pid=$!
cleanup_hooks+=("kill $sshd_pid 2>/dev/null; wait $sshd_pid 2>/dev/null")
if wait_listen "$port" "$sshd_pid"; then pass; else
  fail "sshd did not listen on $port: $(cat "$T/sshd.log")"
  exit 1
fi

# ssh_login NAME ALGORITHMS [STATUS [OPTIONS...]]: ssh -I with the token,
# offering only its keys of those algorithms: no agent, no config, no key
# files. (OpenSSH 9.2's IdentitiesOnly=yes drops the token's keys unless an
# IdentityFile names their public key: used once below.)
ssh_login() {
  local name=$1 algs=$2 want=${3:-0}
  shift 2; [ $# -gt 0 ] && shift
  expect "$want" "$name" foreign env -u SSH_AUTH_SOCK timeout "$(scaled 60)" ssh -F /dev/null \
    -I "$M" -o IdentityFile=none -o IdentityAgent=none "$@" \
    -o PubkeyAcceptedAlgorithms="$algs" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=20 \
    -o LogLevel=ERROR -p "$port" root@127.0.0.1 echo ok
}
# accepted_with NAME: sshd logged a login with that reference's key.
accepted_with() {
  local fp
  fp=$(cat "$T/$1.fp")
  grep -q "Accepted publickey for root from 127.0.0.1 .*$fp" "$T/sshd.log" && pass \
    || fail "sshd did not accept $1's key ($fp): $(grep -E 'Accepted|Failed|error' "$T/sshd.log" | tail -5)"
}

ssh_login ssh-ecdsa ecdsa-sha2-nistp256
equal "$(cat "$T/ssh-ecdsa.out")" ok "ssh with the ECDSA P-256 reference"
accepted_with ecdsa
ssh_login ssh-ec384 ecdsa-sha2-nistp384
equal "$(cat "$T/ssh-ec384.out")" ok "ssh with the ECDSA P-384 reference"
accepted_with ec384
ssh_login ssh-rsa-256 rsa-sha2-256
equal "$(cat "$T/ssh-rsa-256.out")" ok "ssh with the RSA reference (rsa-sha2-256)"
accepted_with rsa
ssh_login ssh-rsa-512 rsa-sha2-512
equal "$(cat "$T/ssh-rsa-512.out")" ok "ssh with the RSA reference (rsa-sha2-512)"
ssh_login ssh-rsa-sha1 ssh-rsa
equal "$(cat "$T/ssh-rsa-sha1.out")" ok "ssh with the RSA reference (ssh-rsa)"
grep -q "Accepted publickey .*RSA SHA256:" "$T/sshd.log" && pass || fail "no RSA login logged"
# IdentitiesOnly with the reference's public key as IdentityFile: that key.
cp "$T/openssh-ecdsa.out" "$T/ecdsa.pub"
ssh_login ssh-identity-file ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,rsa-sha2-256 0 \
  -o IdentitiesOnly=yes -o IdentityFile="$T/ecdsa.pub"
equal "$(cat "$T/ssh-identity-file.out")" ok "ssh with IdentitiesOnly and the public key file"
equal "$(grep -c "Accepted publickey .*$(cat "$T/ecdsa.fp")" "$T/sshd.log")" 2 \
  "ecdsa chosen by its public key file"
equal "$(grep -c 'Accepted publickey' "$T/sshd.log")" 6 "logins accepted"

# --- A token whose only key is not authorized: refused ---
export SECRETREF_STORE=$T/other/store.db SECRETREF_KEY_FILE=$T/other/master.key
expect 0 other-init sr init
expect 0 other-new sr new stranger --generate ec-p256
expect 0 other-keygen-D foreign ssh-keygen -D "$M"
out_contains "ecdsa-sha2-nistp256 "
ssh_login ssh-stranger ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,rsa-sha2-256 255
err_contains "Permission denied (publickey)"
lacks "$T/ssh-stranger.out" "ok"
equal "$(grep -c 'Accepted publickey' "$T/sshd.log")" 6 "no further login accepted"
# The stranger's key was offered and turned down, not skipped.
expect 0 fp-stranger-pub sr pubkey stranger --format openssh
expect 0 fp-stranger ssh-keygen -lf "$T/fp-stranger-pub.out"
fp=$(cut -d' ' -f2 "$T/fp-stranger.out")
grep -q "$fp" "$T/sshd.log" && pass || fail "sshd never saw the stranger's key $fp"
