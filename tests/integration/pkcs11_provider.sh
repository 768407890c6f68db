#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OpenSSL 3 with pkcs11-provider (Debian's, from bookworm-backports) on top
# of our PKCS#11 module: keys named by RFC 7512 pkcs11: URIs of the token
# sign through "openssl pkeyutl" and "openssl dgst" (RSA PKCS#1 v1.5 and
# PSS, ECDSA P-256/P-384, Ed25519), each verified with the public key from
# "secretref pubkey"; the public key read through the URI is the store's;
# "openssl req" makes a CSR and a self-signed certificate that verify; no
# private key comes out; a passphrase store takes its passphrase as the PIN.
source "$(dirname "$0")/../lib/common.sh"
require openssl jq

M=$SECRETREF_LIB/secretref-pkcs11.so
P11PROV=/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so
[ -f "$M" ] || { fail "module $M is not built"; exit 1; }
[ -f "$P11PROV" ] || { fail "pkcs11-provider ($P11PROV) is not installed"; exit 1; }
URI="pkcs11:token=secretref"

# openssl_cnf FILE [EXTRA]: loads the default provider and pkcs11-provider
# with our module; the module finds its store through SECRETREF_STORE and
# SECRETREF_KEY_FILE.
openssl_cnf() {
  cat >"$1" <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $P11PROV
pkcs11-module-path = $M
pkcs11-module-quirks = no-deinit no-operation-state
${2:-}
activate = 1
EOF
}
openssl_cnf "$T/openssl.cnf"
# p11foreign CMD...: "foreign" for programs that load our module through
# pkcs11-provider. That provider dlopen()s the module with RTLD_DEEPBIND,
# which the ASan runtime refuses outright; in the sanitizer build a small
# preloaded dlopen (tests/fixtures/pkcs11-nodeepbind.c) drops that flag.
if [ "${SECRETREF_ASAN:-0}" = 1 ]; then
  require gcc
  expect 0 nodeepbind gcc -shared -fPIC -O2 -o "$T/nodeepbind.so" \
    "$(dirname "$0")/../fixtures/pkcs11-nodeepbind.c" -ldl
  p11foreign() {
    LD_PRELOAD="$T/nodeepbind.so:$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$@"
  }
else
  # Under valgrind, "foreign": openssl, pkcs11-provider and our module.
  p11foreign() { foreign "$@"; }
fi
# p11ssl ARGS...: openssl with pkcs11-provider (it loads our module).
p11ssl() { OPENSSL_CONF=$T/openssl.cnf p11foreign openssl "$@"; }
# plain openssl for verification: no provider of ours, no config.
vssl() { OPENSSL_CONF=/dev/null openssl "$@"; }
verified() {
  local name=$1; shift
  expect 0 "$name" "$@"
  grep -qE "Verified OK|Signature Verified Successfully" "$T/$name.out" && pass \
    || fail "$name: not verified: $(head -c 300 "$T/$name.err")"
}

expect 0 init sr init
for k in rsa:rsa-2048 p256:ec-p256 p384:ec-p384 ed:ed25519; do
  n=${k%%:*}
  expect 0 "new-$n" sr new "$n" --generate "${k#*:}"
  expect 0 "pub-$n" sr pubkey "$n"
  cp "$T/pub-$n.out" "$T/$n.pub.pem"
done
head -c 5000 /dev/urandom >"$T/data"
printf 'other data' >"$T/other"

# The provider sees the token's keys.
expect 0 storeutl p11ssl storeutl -keys "$URI"
# (one key per reference: pkcs11-provider pairs the private and public
# objects by CKA_ID)
out_contains "Total found: 4"
expect 0 storeutl-rsa p11ssl storeutl -keys "$URI;object=rsa"
out_contains "Total found: 1"
expect 0 storeutl-certs-none p11ssl storeutl -certs "$URI"
out_contains "Total found: 0"

# --- pkeyutl -sign over a hash ---
for h in sha256 sha384; do vssl dgst "-$h" -binary "$T/data" >"$T/data.$h"; done
expect 0 pkeyutl-rsa p11ssl pkeyutl -sign -inkey "$URI;object=rsa;type=private" \
  -pkeyopt digest:sha256 -in "$T/data.sha256" -out "$T/rsa.sig"
equal "$(stat -c %s "$T/rsa.sig")" 256 "RSA signature size"
verified verify-pkeyutl-rsa vssl dgst -sha256 -verify "$T/rsa.pub.pem" \
  -signature "$T/rsa.sig" "$T/data"
expect 1 verify-pkeyutl-rsa-other vssl dgst -sha256 -verify "$T/rsa.pub.pem" \
  -signature "$T/rsa.sig" "$T/other"
expect 0 pkeyutl-rsa-pss p11ssl pkeyutl -sign -inkey "$URI;object=rsa;type=private" \
  -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest \
  -in "$T/data.sha256" -out "$T/rsa-pss.sig"
verified verify-pkeyutl-rsa-pss vssl dgst -sha256 -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:digest -verify "$T/rsa.pub.pem" -signature "$T/rsa-pss.sig" "$T/data"
for c in p256:sha256 p384:sha384; do
  n=${c%%:*} h=${c#*:}
  expect 0 "pkeyutl-$n" p11ssl pkeyutl -sign -inkey "$URI;object=$n;type=private" \
    -in "$T/data.$h" -out "$T/$n.sig"
  verified "verify-pkeyutl-$n" vssl pkeyutl -verify -pubin -inkey "$T/$n.pub.pem" \
    -in "$T/data.$h" -sigfile "$T/$n.sig"
  verified "verify-pkeyutl-$n-dgst" vssl dgst "-$h" -verify "$T/$n.pub.pem" \
    -signature "$T/$n.sig" "$T/data"
done
expect 0 pkeyutl-ed p11ssl pkeyutl -sign -rawin -inkey "$URI;object=ed;type=private" \
  -in "$T/data" -out "$T/ed.sig"
equal "$(stat -c %s "$T/ed.sig")" 64 "Ed25519 signature size"
verified verify-pkeyutl-ed vssl pkeyutl -verify -pubin -rawin -inkey "$T/ed.pub.pem" \
  -in "$T/data" -sigfile "$T/ed.sig"
expect 1 verify-pkeyutl-ed-other vssl pkeyutl -verify -pubin -rawin \
  -inkey "$T/ed.pub.pem" -in "$T/other" -sigfile "$T/ed.sig"

# --- dgst -sign: hash and sign, streamed through C_SignUpdate ---
for c in rsa:sha512 p256:sha256 p384:sha512; do
  n=${c%%:*} h=${c#*:}
  expect 0 "dgst-$n" p11ssl dgst "-$h" -sign "$URI;object=$n;type=private" \
    -out "$T/dgst-$n.sig" "$T/data"
  verified "verify-dgst-$n" vssl dgst "-$h" -verify "$T/$n.pub.pem" \
    -signature "$T/dgst-$n.sig" "$T/data"
done
expect 0 dgst-rsa-pss p11ssl dgst -sha384 -sign "$URI;object=rsa;type=private" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -out "$T/dgst-rsa-pss.sig" \
  "$T/data"
verified verify-dgst-rsa-pss vssl dgst -sha384 -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:digest -verify "$T/rsa.pub.pem" -signature "$T/dgst-rsa-pss.sig" \
  "$T/data"

# --- The public key through the URI is the store's ---
for n in rsa p256 p384 ed; do
  expect 0 "pkey-pub-$n" p11ssl pkey -pubin -in "$URI;object=$n;type=public" -pubout
  cmp -s "$T/pkey-pub-$n.out" "$T/$n.pub.pem" && pass || fail "$n: public object differs"
  # From the private key object too (pkcs11-provider writes RSA ones as
  # PKCS#1 "RSA PUBLIC KEY": compared after plain openssl rewrites them).
  expect 0 "pkey-priv-pub-$n" p11ssl pkey -in "$URI;object=$n;type=private" -pubout \
    -out "$T/priv-pub-$n.pem"
  expect 0 "norm-$n" vssl pkey -pubin -in "$T/priv-pub-$n.pem" -pubout
  cmp -s "$T/norm-$n.out" "$T/$n.pub.pem" && pass || fail "$n: private object's public key differs"
done

# --- No private key comes out ---
expect 1 pkey-export p11ssl pkey -in "$URI;object=rsa;type=private" -out "$T/exported.pem"
lacks "$T/exported.pem" "PRIVATE KEY"
expect 0 pkey-text p11ssl pkey -in "$URI;object=p256;type=private" -text -noout
lacks "$T/pkey-text.out" "priv:"
out_contains "URI pkcs11:"

# --- CSR and self-signed certificate with a token key ---
for n in rsa p256 ed; do
  expect 0 "csr-$n" p11ssl req -new -key "$URI;object=$n;type=private" \
    -subj "/CN=provider-$n/O=secretref" -out "$T/$n.csr"
  expect 0 "csr-verify-$n" vssl req -verify -in "$T/$n.csr" -noout
  err_contains "self-signature verify OK"
  # The CSR's key is the reference's.
  expect 0 "csr-pub-$n" vssl req -in "$T/$n.csr" -pubkey -noout
  cmp -s "$T/csr-pub-$n.out" "$T/$n.pub.pem" && pass || fail "$n: CSR key differs"
done
expect 0 x509-p384 p11ssl req -x509 -new -key "$URI;object=p384;type=private" \
  -subj /CN=provider-p384 -days 7 -sha384 -out "$T/p384.cert.pem"
expect 0 x509-verify vssl verify -CAfile "$T/p384.cert.pem" "$T/p384.cert.pem"
out_contains ": OK"
# The certificate attaches to the reference, and the token then has it.
expect 0 attach-p384 sr set p384 --certificate "$T/p384.cert.pem"
expect 0 storeutl-certs p11ssl storeutl -certs "$URI;object=p384"
out_contains "Total found: 1"
expect 0 stored-cert vssl x509 -in "$T/storeutl-certs.out" -outform DER -out "$T/stored.der"
expect 0 orig-cert vssl x509 -in "$T/p384.cert.pem" -outform DER -out "$T/orig.der"
cmp -s "$T/stored.der" "$T/orig.der" && pass || fail "certificate through the token differs"

# --- A passphrase store: the PIN from pkcs11-provider's configuration ---
pass_secret='Provider-Pin-Passphrase-2d9b7'
pf=$(input passphrase "$pass_secret")
export SECRETREF_STORE=$T/pstore/store.db
unset SECRETREF_KEY_FILE
expect 0 p-init sr --passphrase-file "$pf" init --passphrase
expect 0 p-new sr --passphrase-file "$pf" new pk --generate ec-p256
expect 0 p-pub sr --passphrase-file "$pf" pubkey pk
cp "$T/p-pub.out" "$T/pk.pub.pem"
# Without a PIN no private key is found and nothing is signed.
run p-nopin p11ssl pkeyutl -sign -inkey "$URI;object=pk;type=private" \
  -in "$T/data.sha256" -out "$T/pk-nopin.sig"
[ "$status" -ne 0 ] && pass || fail "signed with a passphrase store and no PIN"
[ -s "$T/pk-nopin.sig" ] && fail "p-nopin wrote a signature" || pass
# A wrong PIN: no signature.
wrong=$(input wrong-pin 'not-the-passphrase')
openssl_cnf "$T/openssl-wrong.cnf" "pkcs11-module-token-pin = file:$wrong"
SECRETREF_DEBUG=1 OPENSSL_CONF=$T/openssl-wrong.cnf run p-wrong-pin \
  p11foreign openssl pkeyutl -sign -inkey "$URI;object=pk;type=private" \
  -in "$T/data.sha256" -out "$T/pk-wrong.sig"
[ "$status" -ne 0 ] && pass || fail "signed with a wrong PIN"
[ -s "$T/pk-wrong.sig" ] && fail "p-wrong-pin wrote a signature" || pass
contains "$T/p-wrong-pin.err" "wrong encryption key: it does not open this store"
# The right one.
openssl_cnf "$T/openssl-pin.cnf" "pkcs11-module-token-pin = file:$pf"
OPENSSL_CONF=$T/openssl-pin.cnf run p-sign p11foreign openssl pkeyutl -sign \
  -inkey "$URI;object=pk;type=private" -in "$T/data.sha256" -out "$T/pk.sig"
equal "$status" 0 "signed with the passphrase as PIN: $(head -c 300 "$T/p-sign.err")"
verified p-verify vssl pkeyutl -verify -pubin -inkey "$T/pk.pub.pem" -in "$T/data.sha256" \
  -sigfile "$T/pk.sig"

no_leak "$pass_secret"
