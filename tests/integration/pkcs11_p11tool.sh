#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GnuTLS's p11tool against the PKCS#11 module (list, export of certificates
# and public keys, test signatures, key generation, no private key out), and
# the module through p11-kit: registered in a user's module config (with its
# store in x-init-reserved), listed by "p11-kit list-modules", served by
# p11-kit-proxy; and process isolation: served by "p11-kit server" and used
# from another process through p11-kit-client.so, which never opens the
# store, its key file or our module.
source "$(dirname "$0")/../lib/common.sh"
require p11tool p11-kit pkcs11-tool openssl jq sha256sum strace setpriv

M=$SECRETREF_LIB/secretref-pkcs11.so
[ -f "$M" ] || { fail "module $M is not built"; exit 1; }
MULTIARCH=/usr/lib/x86_64-linux-gnu
PROXY=$MULTIARCH/p11-kit-proxy.so
CLIENT=$MULTIARCH/pkcs11/p11-kit-client.so
SPY=$MULTIARCH/pkcs11/pkcs11-spy.so
for f in "$PROXY" "$CLIENT" "$SPY"; do
  [ -f "$f" ] || { fail "$f is not installed"; exit 1; }
done
# With the ASan runtime preloaded (the sanitizer build), programs that
# initialize p11-kit's library (p11tool, p11-kit) hang in exit(): p11-kit's
# destructor waits forever on glibc's locale lock, whose reader count
# libasan's presence has left off by one. "LD_PRELOAD=libasan.so p11-kit
# list-modules" hangs the same with no module of ours. So these programs run
# under a time limit, and in that build a run that is still there at the
# limit has hung on its way out: the test judges it by its output (checked
# after every such run) and, for a failure, by the error it printed.
ASAN_ENV=()
if [ "${SECRETREF_ASAN:-0}" = 1 ]; then
  ASAN_ENV=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
fi
# Under valgrind, p11tool runs under it with what it loads (p11-kit's
# library, our module); the runs as another user do not (see foreign).
bounded() {
  local s=0
  if [ ${#ASAN_ENV[@]} -gt 0 ]; then
    timeout 8 "${ASAN_ENV[@]}" "$@" || s=$?
    [ "$s" -eq 124 ] && s=0
  elif [ -n "$vg_logs" ] && [ "$1" = p11tool ]; then
    foreign timeout "$(scaled 60)" "$@" || s=$?
  else
    timeout 60 "$@" || s=$?
  fi
  return "$s"
}
p11t() { bounded p11tool --provider "$M" "$@"; }
# p11t_fails NAME ARGS...: p11tool must fail (status 1, or in the sanitizer
# build hang after printing its error).
p11t_fails() {
  local name=$1; shift
  local limit=60
  [ ${#ASAN_ENV[@]} -gt 0 ] && limit=8
  if [ -n "$vg_logs" ]; then
    run "$name" foreign timeout "$(scaled 60)" p11tool "$@"
  else
    run "$name" timeout "$limit" "${ASAN_ENV[@]}" p11tool "$@"
  fi
  if [ "$status" -eq 1 ] || { [ "$status" -eq 124 ] && [ ${#ASAN_ENV[@]} -gt 0 ] &&
    grep -q "^Error in" "$T/$name.err"; }; then
    pass
  else
    fail "$name: exit status $status, want 1: $(head -c 300 "$T/$name.err")"
  fi
}
TOKEN="pkcs11:token=secretref"
idof() {
  printf %s "$(sr show "$1" --json | jq -r .id)" | sha256sum | cut -c1-32
}
verified() {
  local name=$1; shift
  expect 0 "$name" "$@"
  grep -qE "Verified OK|Signature Verified Successfully" "$T/$name.out" && pass \
    || fail "$name: not verified: $(head -c 300 "$T/$name.err")"
}

expect 0 init sr init
for k in rsa:rsa-2048 p256:ec-p256 p384:ec-p384 ed:ed25519 bare:ec-p256; do
  expect 0 "new-${k%%:*}" sr new "${k%%:*}" --generate "${k#*:}"
done
for n in rsa p256 ed; do
  expect 0 "cert-$n" foreign openssl req "${OSSL_PROV[@]}" -x509 -key "secretref:$n" \
    -subj "/CN=p11tool-$n" -days 30 -out "$T/$n.cert.pem"
  expect 0 "attach-$n" sr set "$n" --certificate "$T/$n.cert.pem"
done

# --- p11tool --provider ---
expect 0 list-tokens p11t --list-tokens
out_contains "Label: secretref"
out_contains "URL: pkcs11:model=secretref%20store;manufacturer=secretref;serial="
expect 0 list-all p11t --list-all "$TOKEN"
for n in rsa p256 ed; do
  for t in private public cert; do
    grep -qE "URL: pkcs11:.*token=secretref;.*object=$n;type=$t$" "$T/list-all.out" \
      && pass || fail "--list-all has no $t object for $n"
  done
done
for t in private public; do
  grep -qE "URL: pkcs11:.*token=secretref;.*object=bare;type=$t$" "$T/list-all.out" \
    && pass || fail "--list-all has no $t object for bare"
done
grep -qE "object=bare;type=cert" "$T/list-all.out" && fail "bare has a certificate" || pass
equal "$(grep -c 'Flags: CKA_PRIVATE; CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;' "$T/list-all.out")" \
  5 "private keys sensitive and never extractable"
out_contains "Type: Private key (EdDSA (Ed25519))"
out_contains "Type: Private key (EC/ECDSA-SECP384R1)"
# The CKA_ID in the URL is the reference's.
id=$(idof rsa | sed 's/../%&/g' | tr a-f A-F)
grep -qF "id=$id;object=rsa;type=cert" "$T/list-all.out" && pass \
  || fail "rsa's certificate URL does not carry its CKA_ID $id"

# --export of a certificate: the one attached, PEM and DER.
for n in rsa p256 ed; do
  expect 0 "export-$n" p11t --export "$TOKEN;object=$n;type=cert"
  expect 0 "export-$n-der" openssl x509 -in "$T/export-$n.out" -outform DER \
    -out "$T/export-$n.der"
  expect 0 "orig-$n-der" openssl x509 -in "$T/$n.cert.pem" -outform DER -out "$T/$n.cert.der"
  cmp -s "$T/export-$n.der" "$T/$n.cert.der" && pass || fail "exported $n certificate differs"
  # ... and what "secretref show" says of it.
  expect 0 "show-$n" sr show "$n" --json
  expect 0 "serial-$n" openssl x509 -in "$T/export-$n.out" -noout -serial
  equal "$(cut -d= -f2 "$T/serial-$n.out")" "$(jq -r .certificate.serial "$T/show-$n.out")" \
    "$n certificate serial"
  equal "$(jq -r .certificate.subject "$T/show-$n.out")" "CN=p11tool-$n" "$n subject"
done
expect 0 export-outder p11t --export "$TOKEN;object=rsa;type=cert" --outder \
  --outfile "$T/export-outder.der"
cmp -s "$T/export-outder.der" "$T/rsa.cert.der" && pass || fail "--outder certificate differs"
p11t_fails export-bare --provider "$M" --export "$TOKEN;object=bare;type=cert"

# --export-pubkey: the store's public key.
for n in rsa p384 ed; do
  expect 0 "pubkey-$n" sr pubkey "$n"
  expect 0 "export-pub-$n" p11t --export-pubkey "$TOKEN;object=$n;type=public"
  cmp -s "$T/export-pub-$n.out" "$T/pubkey-$n.out" && pass || fail "$n public key differs"
done

# A private key does not come out: the module answers CKA_VALUE with
# CKR_ATTRIBUTE_SENSITIVE (seen through OpenSC's pkcs11-spy).
export PKCS11SPY="$M" PKCS11SPY_OUTPUT="$T/spy.log"
p11t_fails export-private --provider "$SPY" --export "$TOKEN;object=rsa;type=private"
unset PKCS11SPY PKCS11SPY_OUTPUT
lacks "$T/export-private.out" "PRIVATE KEY"
contains "$T/spy.log" "CKR_ATTRIBUTE_SENSITIVE"
lacks "$T/spy.log" "CKA_PRIVATE_EXPONENT  0000"

# --test-sign: p11tool signs and verifies with the token's public key.
# (p11tool reports on standard error.)
expect 0 test-sign-rsa p11t --test-sign "$TOKEN;object=rsa"
err_contains "Signing using RSA-SHA256... ok"
err_contains "Verifying against public key in the token... ok"
expect 0 test-sign-rsa-pss p11t --test-sign --sign-params RSA-PSS "$TOKEN;object=rsa"
err_contains "Signing using RSA-PSS-SHA256... ok"
for n in p256 p384 bare; do
  expect 0 "test-sign-$n" p11t --test-sign --hash SHA384 "$TOKEN;object=$n"
  err_contains "Signing using ECDSA-SHA384... ok"
  err_contains "Verifying against public key in the token... ok"
done
expect 0 test-sign-ed p11t --test-sign --hash SHA512 "$TOKEN;object=ed"
err_contains "Signing using EdDSA-Ed25519... ok"
err_contains "Verifying against public key in the token... ok"

# --generate-privkey makes references. (GnuTLS 3.7.9 asks for an Ed25519
# pair with CKM_EDDSA, not CKM_EC_EDWARDS_KEY_PAIR_GEN: the module rightly
# refuses that, so only RSA and ECDSA are generated here.)
expect 0 gen-ec p11t --generate-privkey ECDSA --curve secp256r1 --label gen-ec "$TOKEN" \
  --outfile "$T/gen-ec.pub.pem" </dev/null
expect 0 gen-rsa p11t --generate-privkey RSA --bits 2048 --label gen-rsa "$TOKEN" \
  --outfile "$T/gen-rsa.pub.pem" </dev/null
for n in gen-ec gen-rsa; do
  expect 0 "show-$n" sr show "$n" --json
  equal "$(jq -r .kind "$T/show-$n.out")" certificate "$n is a certificate reference"
  expect 0 "pubkey-$n" sr pubkey "$n"
  cmp -s "$T/pubkey-$n.out" "$T/$n.pub.pem" && pass || fail "$n public key differs"
  expect 0 "test-sign-$n" p11t --test-sign "$TOKEN;object=$n"
  err_contains "Verifying against public key in the token... ok"
done

# --- p11-kit: a user's module config, the store in x-init-reserved ---
# p11-kit reads user configs only for users other than root: as root (the
# CI), this part runs as "nobody" with a store of its own.
if [ "$(id -u)" -eq 0 ]; then
  # nobody must reach $T: through the test folder's parent too.
  chmod o+x "$(dirname "$T")"
  chmod 711 "$T"
  U=$T/user
  mkdir -p "$U"
  chown nobody:nogroup "$U"
  AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
else
  U=$T/user
  mkdir -p "$U"
  AS_USER=()
fi
USTORE=$U/store/store.db UKEY=$U/keys/master.key
# The user's environment: no SECRETREF_* variables, so the store can only
# come from the module config.
UENV=(env -u SECRETREF_STORE -u SECRETREF_KEY_FILE HOME="$U/home"
  XDG_CONFIG_HOME="$U/home/.config")
uenv() { "${UENV[@]}" "${AS_USER[@]}" "$@"; }
ufor() { bounded "${UENV[@]}" "${AS_USER[@]}" "$@"; }
expect 0 u-init uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" init
expect 0 u-new-ec uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" \
  new u-ec --generate ec-p256
expect 0 u-new-rsa uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" \
  new u-rsa --generate rsa-2048
expect 0 u-pub-ec uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" pubkey u-ec
cp "$T/u-pub-ec.out" "$T/u-ec.pub.pem"
expect 0 u-pub-rsa uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" pubkey u-rsa
cp "$T/u-pub-rsa.out" "$T/u-rsa.pub.pem"
uid_ec=$(uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" show u-ec --json \
  | jq -r .id | tr -d '\n' | sha256sum | cut -c1-32)
uid_rsa=$(uenv "$SECRETREF" --store "$USTORE" --key-file "$UKEY" show u-rsa --json \
  | jq -r .id | tr -d '\n' | sha256sum | cut -c1-32)
expect 0 u-config uenv sh -c 'mkdir -p "$1" && cat >"$1/secretref.module"' sh \
  "$U/home/.config/pkcs11/modules" <<EOF
# secretref for this user (see pkcs11/secretref.module)
module: $M
critical: no
x-init-reserved: store=$USTORE key_file=$UKEY
EOF

expect 0 list-modules ufor p11-kit list-modules
out_contains "secretref: $M"
out_contains "library-description: secretref PKCS#11 module"
out_contains "    token: secretref"
out_contains "model: secretref store"
grep -A12 "^secretref:" "$T/list-modules.out" | grep -q "token-initialized" && pass \
  || fail "list-modules: token not initialized"
# p11tool with no --provider uses the modules p11-kit knows. GnuTLS 3.7
# initializes them itself, without x-init-reserved: for GnuTLS programs the
# store comes from SECRETREF_STORE/SECRETREF_KEY_FILE.
expect 0 p11kit-p11tool ufor env SECRETREF_STORE="$USTORE" SECRETREF_KEY_FILE="$UKEY" \
  p11tool --list-all "$TOKEN"
out_contains "object=u-ec;type=private"
out_contains "object=u-rsa;type=public"

# p11-kit-proxy serves the token.
px() { ufor pkcs11-tool --module "$PROXY" --token-label secretref "$@"; }
expect 0 proxy-L ufor pkcs11-tool --module "$PROXY" -L
out_contains "token label        : secretref"
expect 0 proxy-O px -O
equal "$(grep -c "ID:         $uid_ec$" "$T/proxy-O.out")" 2 "u-ec objects through the proxy"
out_contains "Access:     sensitive, always sensitive, never extractable"
head -c 2000 /dev/urandom >"$T/data"
chmod 644 "$T/data"
# (Written where the user may write.)
expect 0 proxy-sign-ec px --sign --id "$uid_ec" -m ECDSA-SHA256 --signature-format openssl \
  -i "$T/data" -o "$U/proxy-ec.sig"
verified proxy-verify-ec openssl dgst -sha256 -verify "$T/u-ec.pub.pem" \
  -signature "$U/proxy-ec.sig" "$T/data"
expect 0 proxy-sign-rsa px --sign --id "$uid_rsa" -m SHA256-RSA-PKCS-PSS \
  -i "$T/data" -o "$U/proxy-rsa.sig"
verified proxy-verify-rsa openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:digest -verify "$T/u-rsa.pub.pem" \
  -signature "$U/proxy-rsa.sig" "$T/data"

# --- Process isolation: p11-kit server and p11-kit-client.so ---
# The server (the test's own store, from SECRETREF_STORE/SECRETREF_KEY_FILE)
# forks p11-kit-remote per connection, which loads the module.
sock=$T/p11.sock
(
  if [ "${SECRETREF_ASAN:-0}" = 1 ]; then
    export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1
  fi
  exec p11-kit server -f -t 120 --provider "$M" -n "$sock" "$TOKEN"
) >"$T/server.out" 2>"$T/server.err" &
server_pid=$!
cleanup_hooks+=("kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null")
for i in $(seq 100); do
  [ -S "$sock" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -S "$sock" ]; then pass; else fail "p11-kit server did not start: $(cat "$T/server.err")"; fi
contains "$T/server.out" "P11_KIT_SERVER_ADDRESS=unix:path=$sock"

# The client knows where the store is (SECRETREF_* are set) but must not
# touch it: only p11-kit-client.so is loaded, and nothing is opened but
# system files. No "foreign": nothing of ours is loaded in this process.
client() {
  P11_KIT_SERVER_ADDRESS="unix:path=$sock" strace -f -qq -e trace=open,openat,connect \
    -o "$T/$1.strace" pkcs11-tool --module "$CLIENT" "${@:2}"
}
id_rsa=$(idof rsa) id_p256=$(idof p256)
expect 0 client-L client client-L -L
out_contains "token label        : secretref"
expect 0 client-O client client-O -O
equal "$(grep -c "ID:         $id_rsa$" "$T/client-O.out")" 3 "rsa objects through the client"
# p11-kit 0.24's RPC passes only the mechanisms it can serialize (CKM_ECDSA,
# not CKM_ECDSA_SHA256): a hash is signed.
openssl dgst -sha256 -binary "$T/data" >"$T/data.sha256"
expect 0 client-sign-ec client client-sign-ec --sign --id "$id_p256" -m ECDSA \
  --signature-format openssl -i "$T/data.sha256" -o "$T/client-ec.sig"
expect 0 pubkey-p256 sr pubkey p256
cp "$T/pubkey-p256.out" "$T/p256.pub.pem"
verified client-verify-ec openssl dgst -sha256 -verify "$T/p256.pub.pem" \
  -signature "$T/client-ec.sig" "$T/data"
expect 0 client-sign-rsa client client-sign-rsa --sign --id "$id_rsa" -m SHA256-RSA-PKCS \
  -i "$T/data" -o "$T/client-rsa.sig"
cp "$T/pubkey-rsa.out" "$T/rsa.pub.pem"
verified client-verify-rsa openssl dgst -sha256 -verify "$T/rsa.pub.pem" \
  -signature "$T/client-rsa.sig" "$T/data"
store_dir=$(dirname "$SECRETREF_STORE") key_dir=$(dirname "$SECRETREF_KEY_FILE")
for log in client-L client-O client-sign-ec client-sign-rsa; do
  f=$T/$log.strace
  contains "$f" "$CLIENT"
  contains "$f" "$sock"
  lacks "$f" "secretref-pkcs11.so"
  lacks "$f" "$store_dir"
  lacks "$f" "$key_dir"
  lacks "$f" "$SECRETREF_LIB"
done
# The trace does see these when the module is loaded in-process.
expect 0 direct-sign foreign strace -f -qq -e trace=open,openat -o "$T/direct.strace" \
  pkcs11-tool --module "$M" --sign --id "$id_p256" -m ECDSA -i "$T/data.sha256" \
  -o "$T/direct.sig"
contains "$T/direct.strace" "secretref-pkcs11.so"
contains "$T/direct.strace" "$SECRETREF_STORE"
contains "$T/direct.strace" "$SECRETREF_KEY_FILE"
# The server is still up after the clients came and went.
kill -0 "$server_pid" 2>/dev/null && pass || fail "p11-kit server exited: $(cat "$T/server.err")"
