#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An SFTP upload and download to the loopback sshd (Azure's algorithms,
# password logins for a dedicated user) with the password from a Key Vault
# reference (secretref-sftp --password-ref), resolved through the Azure
# double; a rotated password picked up by an unpinned reference, the old
# one still used by a pinned reference (and refused by the server); a
# reference Key Vault cannot resolve fails before any login, naming the
# Key Vault error. The password appears in no output, log or store.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/sshd.sh"
source "$(dirname "$0")/../lib/azure.sh"
require sha256sum cmp ssh-keygen jq grep

sshd_init ecdsa
sshd_password_user
sshd_start "PasswordAuthentication yes"

expect 0 init sr init
azure_start
kv_secret_client kv myvault
v1=$(azure_secret myvault sftp-password "$SSHD_PASSWORD")
expect 0 new-pw sr new sftp-pw --key-vault vault://kv/sftp-password
expect 0 new-pinned sr new sftp-pw-v1 --key-vault "vault://kv/sftp-password/$v1"

S=$SECRETREF_BIN/secretref-sftp
L=$T/local
mkdir -p "$L" "$T/back"
head -c 300000 /dev/urandom >"$L/up.bin"
URL=$SSHD_PW_URL$SSHD_PW_HOME

# ---- upload and download with the Key Vault password ---------------------------------
azure_mark
expect 0 put "$S" --verbose --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw "$URL" \
  put "$L/up.bin" up.bin
cmp -s "$L/up.bin" "$SSHD_PW_HOME/up.bin" && pass || fail "the upload differs"
equal "$(stat -c %U "$SSHD_PW_HOME/up.bin")" "$SSHD_PW_USER" "uploaded as the password user"
equal "$(azure_requests '.kind=="secret" and .path=="/secrets/sftp-password" and .status==200')" 1 \
  "the password came from Key Vault"
grep -q "Accepted password for $SSHD_PW_USER" "$SSHD_LOG" && pass || fail "sshd logged no password login"
expect 0 get "$S" --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw "$URL" \
  get up.bin "$T/back/up.bin"
cmp -s "$L/up.bin" "$T/back/up.bin" && pass || fail "the download differs"
expect 0 ls "$S" --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw-v1 "$URL" ls
out_contains up.bin

# ---- the password rotated in Key Vault only -------------------------------------------
# The server still has the old password: the unpinned reference now gets the
# new one and is refused; the pinned one still logs in.
new_pw="Rotated-$(head -c 9 /dev/urandom | base64 | tr '+/' '-_')!"
azure_secret myvault sftp-password "$new_pw" >/dev/null
expect 13 rotated "$S" --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw "$URL" ls
err_contains "password refused"
expect 0 pinned "$S" --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw-v1 "$URL" ls
# The server's password rotated too: the unpinned reference works again.
printf '%s:%s\n' "$SSHD_PW_USER" "$new_pw" | chpasswd
expect 0 rotated-both "$S" --known-hosts "$SSHD_KNOWN" --password-ref sftp-pw "$URL" \
  put "$L/up.bin" again.bin
cmp -s "$L/up.bin" "$SSHD_PW_HOME/again.bin" && pass || fail "upload with the rotated password"

# ---- Key Vault cannot resolve it: no login attempt ---------------------------------
expect 0 new-missing sr new sftp-missing --key-vault vault://kv/no-such-password
logins=$(grep -c "password for $SSHD_PW_USER" "$SSHD_LOG" || true)
expect 17 missing "$S" --known-hosts "$SSHD_KNOWN" --password-ref sftp-missing "$URL" ls
one_line "$T/missing.err"
err_contains SecretNotFound
err_contains sftp-missing
equal "$(grep -c "password for $SSHD_PW_USER" "$SSHD_LOG" || true)" "$logins" "no login without a password"

# Nothing of either password anywhere but the inputs: outputs, sshd's log,
# the store.
no_leak "$SSHD_PASSWORD"
no_leak "$new_pw"
no_leak "$KV_CLIENT_SECRET"
azure_no_token_leak
