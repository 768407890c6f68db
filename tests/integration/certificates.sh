#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Certificate references from every key file format and key type, made at
# test time by the real tools (openssl genpkey/pkey/pkcs8/pkcs12/req/x509,
# ssh-keygen), and compared with what those tools say the public key and
# fingerprint are. Passwords and encrypted OpenSSH keys, certificate
# chains and their expiry dates, a certificate that does not match,
# --generate for every type; and no private key (text or bytes) and no
# password in any output, the store or its WAL.
source "$(dirname "$0")/../lib/common.sh"
require openssl ssh-keygen jq xxd sqlite3 base64 date

password='Pkcs-Password-5e2d81!'
wrong_password='not-the-password-41c7'
ssh_password='Ssh-Passphrase-93af0c'
K=$T/input
mkdir -p "$K"
pwfile=$(input pw "$password")
wrongpw=$(input wrongpw "$wrong_password")

expect 0 init sr init

# Hold a connection to the store for the whole test, so the WAL is never
# checkpointed away and removed when a command exits: the leak check at
# the end then sees what the commands wrote into it.
mkfifo "$T/hold"
sqlite3 "$SECRETREF_STORE" <"$T/hold" >/dev/null 2>&1 &
holder=$!
exec 7>"$T/hold"
echo "select count(*) from parameters;" >&7
cleanup_hooks+=("exec 7>&-; wait $holder")

types=(rsa-2048 rsa-3072 rsa-4096 ec-p256 ec-p384 ec-p521 ed25519)
# Every private chunk (hex) that must not be in the store; its label.
chunks=()
chunk_labels=()

# gen_key TYPE FILE: a PKCS#8 PEM key made by openssl genpkey.
gen_key() {
  case $1 in
    rsa-*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${1#rsa-}" -out "$2" ;;
    ec-p*) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:P-${1#ec-p}" -out "$2" ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$2" ;;
  esac 2>/dev/null
  chmod 600 "$2"
}

# want_type/want_bits/want_curve TYPE: what show --json should say.
want_type() { case $1 in rsa-*) echo RSA ;; ec-*) echo EC ;; ed25519) echo Ed25519 ;; esac; }
want_bits() { case $1 in rsa-*) echo "${1#rsa-}" ;; ec-p*) echo "${1#ec-p}" ;; ed25519) echo 256 ;; esac; }
want_curve() { case $1 in ec-p*) echo "P-${1#ec-p}" ;; *) echo null ;; esac; }

# private_hex FILE: 24 bytes (hex) from the middle of the private exponent
# or scalar of a key openssl can read.
private_hex() {
  openssl pkey -in "$1" -text -noout |
    awk '/^(priv|privateExponent):/ {on = 1; next} /^[^ ]/ {on = 0} on' |
    tr -d ' :\n' | cut -c9-56
}

# ed25519_line PUBKEY_PEM: the OpenSSH line of an Ed25519 public key, made
# by hand (ssh-keygen cannot read Ed25519 PEM): "ssh-ed25519 BASE64".
ed25519_line() {
  printf 'ssh-ed25519 %s\n' "$({ printf '\0\0\0\013ssh-ed25519\0\0\0\040'
    openssl pkey -pubin -in "$1" -outform DER | tail -c 32; } | base64 -w0)"
}

# remember NAME HEX: a private chunk to look for in the store at the end.
remember() {
  if [ "${#2}" -eq 48 ]; then
    chunks+=("$2"); chunk_labels+=("$1"); pass
  else
    fail "$1: could not extract a private chunk ('$2')"
  fi
}

# check_public NAME KEY TYPE: the reference's public key, OpenSSH line and
# fingerprint equal what openssl and ssh-keygen say about the key file
# KEY (PEM or DER that openssl reads); its type, size and curve.
check_public() {
  local name=$1 key=$2 type=$3 line
  openssl pkey -in "$key" -pubout -out "$K/$name.pub.pem" 2>/dev/null
  expect 0 "pubkey-$name" sr pubkey "$name"
  if cmp -s "$T/pubkey-$name.out" "$K/$name.pub.pem"; then pass
  else fail "$name: pubkey differs from openssl pkey -pubout"; fi
  if [ "$type" = ed25519 ]; then
    line=$(ed25519_line "$K/$name.pub.pem")
  else
    line=$(ssh-keygen -y -f "$key" | cut -d' ' -f1,2)
  fi
  echo "$line" >"$K/$name.ssh.pub"
  expect 0 "pubkey-ssh-$name" sr pubkey "$name" --format openssh
  equal "$(cut -d' ' -f1,2 "$T/pubkey-ssh-$name.out")" "$line" "$name: openssh line"
  one_line "$T/pubkey-ssh-$name.out"
  expect 0 "show-$name" sr show "$name" --json
  equal "$(jq -r .kind "$T/show-$name.out")" certificate "$name: kind"
  equal "$(jq -r .key.type "$T/show-$name.out")" "$(want_type "$type")" "$name: key type"
  equal "$(jq -r .key.bits "$T/show-$name.out")" "$(want_bits "$type")" "$name: key bits"
  equal "$(jq -r .key.curve "$T/show-$name.out")" "$(want_curve "$type")" "$name: curve"
  equal "$(jq -r .key.fingerprint "$T/show-$name.out")" \
    "$(ssh-keygen -lf "$K/$name.ssh.pub" | cut -d' ' -f2)" "$name: fingerprint"
  expect 0 "verify-$name" sr verify "$name"
}

# refused_clean NAME: the last `new NAME` failed with one line on
# standard error, and created nothing.
refused_clean() {
  local name=$1
  one_line "$T/$last.err"
  expect 3 "show-refused-$name" sr show "$name"
}

# enddate_day CERT: the certificate's notAfter as YYYY-MM-DD.
enddate_day() {
  date -u -d "$(openssl x509 -enddate -noout -in "$1" | cut -d= -f2)" +%F
}

# ---- every format of every key type (openssl) ---------------------------
for type in "${types[@]}"; do
  key=$K/$type.pem
  gen_key "$type" "$key"
  remember "$type" "$(private_hex "$key")"
  # A self-signed certificate for the PKCS#12 files.
  openssl req -x509 -new -key "$key" -subj "/CN=$type" -days 400 \
    -out "$K/$type.crt" 2>/dev/null

  # PEM PKCS#1 (RSA) or SEC1 (EC): the "traditional" encoding. Ed25519 has
  # none.
  if [ "$type" != ed25519 ]; then
    openssl pkey -in "$key" -traditional -out "$K/$type.trad.pem"
    case $type in
      rsa-*) contains "$K/$type.trad.pem" "BEGIN RSA PRIVATE KEY" ;;
      ec-*) contains "$K/$type.trad.pem" "BEGIN EC PRIVATE KEY" ;;
    esac
    expect 0 "new-$type.pkcs1" sr new "$type.pkcs1" --certificate "$K/$type.trad.pem"
    check_public "$type.pkcs1" "$key" "$type"
  fi

  # PEM PKCS#8.
  contains "$key" "BEGIN PRIVATE KEY"
  expect 0 "new-$type.pkcs8" sr new "$type.pkcs8" --certificate "$key"
  check_public "$type.pkcs8" "$key" "$type"

  # Encrypted PKCS#8: with the password, without it, with a wrong one.
  openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$key" -passout "file:$pwfile" \
    -out "$K/$type.enc.pem"
  contains "$K/$type.enc.pem" "BEGIN ENCRYPTED PRIVATE KEY"
  expect 0 "new-$type.enc" sr new "$type.enc" --certificate "$K/$type.enc.pem" \
    --password-file "$pwfile"
  check_public "$type.enc" "$key" "$type"
  expect 8 "new-$type.enc-wrong" sr new "$type.enc-wrong" \
    --certificate "$K/$type.enc.pem" --password-file "$wrongpw"
  err_contains "wrong password"
  refused_clean "$type.enc-wrong"
  expect 8 "new-$type.enc-none" sr new "$type.enc-none" --certificate "$K/$type.enc.pem"
  err_contains "password"
  refused_clean "$type.enc-none"

  # DER (PKCS#8).
  openssl pkey -in "$key" -outform DER -out "$K/$type.der"
  expect 0 "new-$type.der" sr new "$type.der" --certificate "$K/$type.der"
  check_public "$type.der" "$key" "$type"

  # PKCS#12 with a password (and a wrong one), and with an empty password.
  openssl pkcs12 -export -inkey "$key" -in "$K/$type.crt" -name "$type" \
    -passout "file:$pwfile" -out "$K/$type.p12"
  expect 0 "new-$type.p12" sr new "$type.p12" --certificate "$K/$type.p12" \
    --password-file "$pwfile"
  check_public "$type.p12" "$key" "$type"
  equal "$(jq -r .certificate.chain_length "$T/show-$type.p12.out")" 1 "$type.p12: chain"
  equal "$(jq -r .expires "$T/show-$type.p12.out")" "$(enddate_day "$K/$type.crt")" \
    "$type.p12: expiry from notAfter"
  expect 8 "new-$type.p12-wrong" sr new "$type.p12-wrong" \
    --certificate "$K/$type.p12" --password-file "$wrongpw"
  err_contains "wrong password"
  refused_clean "$type.p12-wrong"
  openssl pkcs12 -export -inkey "$key" -in "$K/$type.crt" -passout pass: \
    -out "$K/$type.nopw.p12"
  expect 0 "new-$type.p12-nopw" sr new "$type.p12-nopw" --certificate "$K/$type.nopw.p12"
  check_public "$type.p12-nopw" "$key" "$type"
done

# ---- OpenSSH private keys (ssh-keygen) -------------------------------------
for spec in rsa:3072:rsa-3072 ecdsa:256:ec-p256 ecdsa:384:ec-p384 \
            ecdsa:521:ec-p521 ed25519::ed25519; do
  IFS=: read -r algo bits type <<<"$spec"
  name=ssh-$type
  key=$K/$name
  ssh-keygen -q -t "$algo" ${bits:+-b "$bits"} -N '' -C "test@secretref" -f "$key"
  contains "$key" "BEGIN OPENSSH PRIVATE KEY"
  expect 0 "new-$name" sr new "$name" --certificate "$key"
  expect 0 "pubkey-ssh-$name" sr pubkey "$name" --format openssh
  equal "$(cut -d' ' -f1,2 "$T/pubkey-ssh-$name.out")" \
    "$(ssh-keygen -y -f "$key" | cut -d' ' -f1,2)" "$name: openssh line"
  equal "$(cut -d' ' -f1,2 "$T/pubkey-ssh-$name.out")" \
    "$(cut -d' ' -f1,2 "$key.pub")" "$name: equals the .pub file"
  expect 0 "show-$name" sr show "$name" --json
  equal "$(jq -r .key.fingerprint "$T/show-$name.out")" \
    "$(ssh-keygen -lf "$key" | cut -d' ' -f2)" "$name: fingerprint"
  equal "$(jq -r .key.type "$T/show-$name.out")" "$(want_type "$type")" "$name: type"
  equal "$(jq -r .key.bits "$T/show-$name.out")" "$(want_bits "$type")" "$name: bits"
  expect 0 "pubkey-$name" sr pubkey "$name"
  if [ "$type" = ed25519 ]; then
    # ssh-keygen cannot write Ed25519 as PEM: compare the OpenSSH line
    # made from our PEM with the .pub file instead.
    equal "$(ed25519_line "$T/pubkey-$name.out")" \
      "$(cut -d' ' -f1,2 "$key.pub")" "$name: PEM public key"
    # The private seed: the 64-byte private field of the key blob is
    # "\0\0\0\x40" seed(32) public(32).
    remember "$name" "$(sed '1d;$d' "$key" | base64 -d | xxd -p | tr -d '\n' |
      grep -o '00000040[0-9a-f]\{128\}' | head -1 | cut -c17-64)"
  else
    ssh-keygen -e -m PKCS8 -f "$key.pub" >"$K/$name.pub.pem"
    if cmp -s "$T/pubkey-$name.out" "$K/$name.pub.pem"; then pass
    else fail "$name: PEM public key differs from ssh-keygen -e -m PKCS8"; fi
    # A PEM copy that openssl can read, for the private chunk.
    cp "$key" "$key.copy"
    ssh-keygen -q -p -P '' -N '' -m PEM -f "$key.copy" >/dev/null
    remember "$name" "$(private_hex "$key.copy")"
  fi
  expect 0 "verify-$name" sr verify "$name"
done

# An encrypted OpenSSH key is refused with how to convert it.
ssh-keygen -q -t ed25519 -N "$ssh_password" -f "$K/ssh-encrypted"
expect 8 new-ssh-encrypted sr new ssh-encrypted --certificate "$K/ssh-encrypted"
err_contains "ssh-keygen"
refused_clean ssh-encrypted
expect 8 new-ssh-encrypted-pw sr new ssh-encrypted-pw --certificate "$K/ssh-encrypted" \
  --password-file "$(input sshpw "$ssh_password")"
err_contains "ssh-keygen"
refused_clean ssh-encrypted-pw

# ---- certificate chains, expiry, a certificate that does not match ------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/ca.key" -out "$K/ca.crt" \
  -subj /CN=Test-CA -days 3650 2>/dev/null
gen_key ec-p256 "$K/leaf.key"
remember leaf "$(private_hex "$K/leaf.key")"
openssl req -new -key "$K/leaf.key" -subj /CN=leaf.example -out "$K/leaf.csr"
openssl x509 -req -in "$K/leaf.csr" -CA "$K/ca.crt" -CAkey "$K/ca.key" \
  -CAcreateserial -days 200 -out "$K/leaf.crt" 2>/dev/null
cat "$K/leaf.key" "$K/leaf.crt" "$K/ca.crt" >"$K/bundle.pem"
expect 0 new-chain sr new chain --certificate "$K/bundle.pem"
expect 0 show-chain sr show chain --json
equal "$(jq -r .certificate.chain_length "$T/show-chain.out")" 2 "chain kept"
equal "$(jq -r .certificate.subject "$T/show-chain.out")" CN=leaf.example "leaf first"
equal "$(jq -r .expires "$T/show-chain.out")" "$(enddate_day "$K/leaf.crt")" \
  "expiry is the leaf's notAfter"
equal "$(jq -r .certificate.not_after "$T/show-chain.out")" \
  "$(openssl x509 -enddate -noout -in "$K/leaf.crt" | cut -d= -f2)" "not_after"
check_public chain "$K/leaf.key" ec-p256
# The same bundle in another order: certificates first.
cat "$K/ca.crt" "$K/leaf.crt" "$K/leaf.key" >"$K/bundle2.pem"
expect 0 new-chain2 sr new chain2 --certificate "$K/bundle2.pem"
expect 0 show-chain2 sr show chain2 --json
equal "$(jq -r .certificate.chain_length "$T/show-chain2.out")" 2 "chain kept (reordered)"
equal "$(jq -r .certificate.subject "$T/show-chain2.out")" CN=leaf.example "leaf first (reordered)"
# --expires overrides the certificate's date.
expect 0 new-chain-expires sr new chain-expires --certificate "$K/bundle.pem" \
  --expires 2031-05-06
expect 0 show-chain-expires sr show chain-expires --json
equal "$(jq -r .expires "$T/show-chain-expires.out")" 2031-05-06 "--expires wins"
# A certificate for another key is refused, and nothing is created.
cat "$K/rsa-2048.pem" "$K/leaf.crt" >"$K/mismatch.pem"
before=$(store_digest)
expect 8 new-mismatch sr new mismatch --certificate "$K/mismatch.pem"
err_contains "does not match"
refused_clean mismatch
equal "$(store_digest)" "$before" "store unchanged by a refused import"
# A PKCS#12 whose certificate is another key's.
openssl pkcs12 -export -inkey "$K/rsa-2048.pem" -in "$K/rsa-3072.crt" \
  -passout pass: -out "$K/mismatch.p12" 2>/dev/null || true
if [ -s "$K/mismatch.p12" ]; then
  expect 8 new-mismatch-p12 sr new mismatch-p12 --certificate "$K/mismatch.p12"
  refused_clean mismatch-p12
fi

# ---- keys generated in the store ------------------------------------------
for type in "${types[@]}"; do
  name=gen-$type
  expect 0 "new-$name" sr new "$name" --generate "$type"
  expect 0 "pubkey-$name" sr pubkey "$name"
  contains "$T/pubkey-$name.out" "BEGIN PUBLIC KEY"
  openssl pkey -pubin -in "$T/pubkey-$name.out" -noout 2>/dev/null && pass ||
    fail "$name: openssl cannot read the PEM public key"
  expect 0 "pubkey-ssh-$name" sr pubkey "$name" --format openssh
  cut -d' ' -f1,2 "$T/pubkey-ssh-$name.out" >"$K/$name.ssh.pub"
  case $type in
    rsa-*) algo=ssh-rsa ;;
    ec-p*) algo=ecdsa-sha2-nistp${type#ec-p} ;;
    ed25519) algo=ssh-ed25519 ;;
  esac
  equal "$(cut -d' ' -f1 "$K/$name.ssh.pub")" "$algo" "$name: ssh algorithm"
  # The OpenSSH line and the PEM are the same key.
  if [ "$type" = ed25519 ]; then
    equal "$(ed25519_line "$T/pubkey-$name.out")" "$(cat "$K/$name.ssh.pub")" \
      "$name: PEM and OpenSSH agree"
  else
    ssh-keygen -e -m PKCS8 -f "$K/$name.ssh.pub" >"$K/$name.pub.pem"
    if cmp -s "$T/pubkey-$name.out" "$K/$name.pub.pem"; then pass
    else fail "$name: PEM and OpenSSH lines disagree"; fi
  fi
  expect 0 "show-$name" sr show "$name" --json
  equal "$(jq -r .key.type "$T/show-$name.out")" "$(want_type "$type")" "$name: type"
  equal "$(jq -r .key.bits "$T/show-$name.out")" "$(want_bits "$type")" "$name: bits"
  equal "$(jq -r .key.fingerprint "$T/show-$name.out")" \
    "$(ssh-keygen -lf "$K/$name.ssh.pub" | cut -d' ' -f2)" "$name: fingerprint"
  equal "$(jq -r .expires "$T/show-$name.out")" null "$name: no expiry"
  expect 0 "verify-$name" sr verify "$name"
done

# ---- nothing private anywhere ---------------------------------------------
# The store and its WAL: no PEM private key text, and none of the private
# chunks (compared as hex, as the store is binary).
wal=$SECRETREF_STORE-wal
if [ -s "$wal" ]; then pass; else fail "the WAL is empty: the leak check would miss it"; fi
for f in "$SECRETREF_STORE" "$wal"; do
  [ -e "$f" ] || continue
  lacks "$f" "PRIVATE KEY"
  lacks "$f" "OPENSSH"
  xxd -p "$f" | tr -d '\n' >"$K/$(basename "$f").hex"
  for i in "${!chunks[@]}"; do
    if grep -qF "${chunks[$i]}" "$K/$(basename "$f").hex"; then
      fail "private bytes of ${chunk_labels[$i]} found in $(basename "$f")"
    else
      pass
    fi
  done
done
# A sanity check of the method: the chunk of a key is found in its own DER.
xxd -p "$K/rsa-2048.der" | tr -d '\n' >"$K/rsa-2048.der.hex"
contains "$K/rsa-2048.der.hex" "${chunks[0]}"
# No output of any command, nor the audit log, carries key text or the
# passwords.
expect 0 audit sr audit
expect 0 export sr export
for f in "$T"/*.out "$T"/*.err; do
  lacks "$f" "PRIVATE KEY"
done
no_leak "$password"
no_leak "$wrong_password"
no_leak "$ssh_password"
