#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Certificates and CMS with secretref keys through the real openssl
# command: req -new and req -x509 (RSA, RSA-PSS signatures, EC, Ed25519),
# x509 -req -CA ca.crt -CAkey secretref:CA, a demo CA with openssl ca
# (certificates and a CRL), cms -sign (with and without signed attributes)
# and cms -decrypt (PKCS#1 v1.5 and OAEP key transport). Everything is
# checked by the default provider alone: openssl verify, req -verify,
# crl -verify, cms -verify; every certificate's key equals
# `secretref pubkey`. Once with -provider secretref -provider default,
# once in the other order, once through an openssl.cnf that activates the
# provider.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/provider.sh"
require openssl cmp
: "${SECRETREF_LIB:?run through ctest (SECRETREF_LIB is not set)}"
unset OPENSSL_CONF

expect 0 init sr init
expect 0 new-ca sr new CA --generate ec-p384 --description "demo CA"
expect 0 new-ca-rsa sr new CA-RSA --generate rsa-2048
expect 0 new-rsa sr new rsa --generate rsa-2048
expect 0 new-rsa3 sr new rsa3 --generate rsa-3072
expect 0 new-ec sr new ec --generate ec-p256
expect 0 new-ec5 sr new ec5 --generate ec-p521
expect 0 new-ed sr new ed --generate ed25519
leaves=(rsa rsa3 ec ec5 ed)
for n in CA CA-RSA "${leaves[@]}"; do
  sr pubkey "$n" >"$T/$n.pub"
done

provider_cnf "$T/openssl.cnf"


# cert_key NAME CERT WHAT: the certificate's public key is the reference's.
cert_key() {
  equal "$(openssl x509 -in "$2" -noout -pubkey)" "$(cat "$T/$1.pub")" "$3: public key"
}
# verify_ok CAFILE CERT WHAT: openssl verify (default provider) accepts it.
verify_ok() {
  expect 0 "verify-$3" openssl verify -CAfile "$1" "$2"
  out_contains "$2: OK"
}

echo "signed and sealed by secretref" >"$T/doc.txt"
head -c 3000 /dev/urandom >>"$T/doc.txt"

for m in sd ds cnf; do
  d=$T/$m
  mkdir -p "$d/ca/newcerts"
  : >"$d/ca/index.txt"
  echo 1000 >"$d/ca/serial"
  echo 01 >"$d/ca/crlnumber"

  # The CA: self-signed, EC P-384.
  expect 0 "ca-x509-$m" ossl "$m" req -x509 -new -key secretref:CA -subj "/CN=secretref demo CA $m" \
    -days 30 -sha384 -out "$d/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  verify_ok "$d/ca.crt" "$d/ca.crt" "ca-$m"
  cert_key CA "$d/ca.crt" "CA certificate $m"
  contains "$d/ca.crt" "BEGIN CERTIFICATE"

  for n in "${leaves[@]}"; do
    # A CSR, checked by the default provider.
    expect 0 "req-$n-$m" ossl "$m" req -new -key "secretref:$n" -subj "/CN=$n $m" -out "$d/$n.csr"
    expect 0 "req-verify-$n-$m" openssl req -in "$d/$n.csr" -verify -noout
    err_contains "verify OK"
    equal "$(openssl req -in "$d/$n.csr" -noout -pubkey)" "$(cat "$T/$n.pub")" "CSR key $n $m"
    # Self-signed.
    expect 0 "self-$n-$m" ossl "$m" req -x509 -new -key "secretref:$n" -subj "/CN=$n self $m" \
      -days 2 -out "$d/$n-self.crt"
    verify_ok "$d/$n-self.crt" "$d/$n-self.crt" "self-$n-$m"
    cert_key "$n" "$d/$n-self.crt" "self-signed $n $m"
    # Issued by the CA with x509 -req.
    expect 0 "x509-req-$n-$m" ossl "$m" x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" \
      -CAkey secretref:CA -CAcreateserial -days 2 -out "$d/$n.crt"
    verify_ok "$d/ca.crt" "$d/$n.crt" "x509-$n-$m"
    cert_key "$n" "$d/$n.crt" "issued $n $m"
  done

  # RSA-PSS signatures on a certificate and a CSR.
  expect 0 "self-pss-$m" ossl "$m" req -x509 -new -key secretref:rsa3 -subj "/CN=pss $m" \
    -days 2 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -out "$d/pss.crt"
  verify_ok "$d/pss.crt" "$d/pss.crt" "pss-$m"
  expect 0 "pss-text-$m" openssl x509 -in "$d/pss.crt" -noout -text
  out_contains "Signature Algorithm: rsassaPss"
  expect 0 "req-pss-$m" ossl "$m" req -new -key secretref:rsa -subj "/CN=pss csr $m" \
    -sigopt rsa_padding_mode:pss -out "$d/pss.csr"
  expect 0 "req-pss-verify-$m" openssl req -in "$d/pss.csr" -verify -noout
  err_contains "verify OK"
  # An RSA CA issuing with x509 -req.
  expect 0 "ca-rsa-$m" ossl "$m" req -x509 -new -key secretref:CA-RSA -subj "/CN=RSA CA $m" \
    -days 2 -out "$d/ca-rsa.crt" -addext basicConstraints=critical,CA:TRUE
  expect 0 "x509-rsa-ca-$m" ossl "$m" x509 -req -in "$d/ec.csr" -CA "$d/ca-rsa.crt" \
    -CAkey secretref:CA-RSA -CAcreateserial -days 2 -out "$d/ec-by-rsa.crt"
  verify_ok "$d/ca-rsa.crt" "$d/ec-by-rsa.crt" "rsa-ca-$m"

  # A demo CA: openssl ca with the key in the store.
  cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = demo

[ demo ]
dir = $d/ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha384
default_days = 30
default_crl_days = 7
policy = anything
unique_subject = no
x509_extensions = leaf

[ anything ]
commonName = supplied

[ leaf ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
EOF
  for n in rsa ec ed; do
    expect 0 "ca-sign-$n-$m" ossl "$m" ca -config "$d/ca.cnf" -batch -keyfile secretref:CA \
      -cert "$d/ca.crt" -in "$d/$n.csr" -out "$d/$n-ca.crt"
    verify_ok "$d/ca.crt" "$d/$n-ca.crt" "ca-$n-$m"
    cert_key "$n" "$d/$n-ca.crt" "openssl ca $n $m"
  done
  equal "$(grep -c '^V' "$d/ca/index.txt")" 3 "certificates in the CA's index $m"
  expect 0 "ca-revoke-$m" ossl "$m" ca -config "$d/ca.cnf" -batch -keyfile secretref:CA \
    -cert "$d/ca.crt" -revoke "$d/ed-ca.crt"
  expect 0 "ca-crl-$m" ossl "$m" ca -config "$d/ca.cnf" -batch -keyfile secretref:CA \
    -cert "$d/ca.crt" -gencrl -out "$d/ca.crl"
  expect 0 "crl-verify-$m" openssl crl -in "$d/ca.crl" -CAfile "$d/ca.crt" -noout
  err_contains "verify OK"
  expect 2 "verify-revoked-$m" openssl verify -crl_check -CRLfile "$d/ca.crl" -CAfile "$d/ca.crt" "$d/ed-ca.crt"
  err_contains "certificate revoked"
  expect 0 "verify-unrevoked-$m" openssl verify -crl_check -CRLfile "$d/ca.crl" -CAfile "$d/ca.crt" "$d/ec-ca.crt"

  # CMS signatures, with and without signed attributes, RSA (PKCS#1 and
  # PSS) and ECDSA. (openssl 3.0's CMS cannot sign with Ed25519 even with
  # the default provider's own key: "no default digest"/"invalid digest".)
  for s in rsa rsa-pss ec ec5; do
    n=${s%-pss}
    opts=()
    if [ "$s" = rsa-pss ]; then opts=(-keyopt rsa_padding_mode:pss); fi
    for attr in attr noattr; do
      a=()
      if [ $attr = noattr ]; then a=(-noattr); fi
      id=$s-$attr-$m
      expect 0 "cms-sign-$id" ossl "$m" cms -sign -binary -nodetach "${a[@]}" -in "$T/doc.txt" \
        -signer "$d/$n.crt" -inkey "secretref:$n" "${opts[@]}" -outform PEM -out "$d/$id.p7s"
      expect 0 "cms-verify-$id" openssl cms -verify -binary -inform PEM -in "$d/$id.p7s" \
        -CAfile "$d/ca.crt" -out "$d/$id.txt"
      err_contains "Verification successful"
      if cmp -s "$T/doc.txt" "$d/$id.txt"; then pass; else fail "cms content $id"; fi
      expect 0 "cms-print-$id" openssl cms -cmsout -print -inform PEM -in "$d/$id.p7s" -noout
      if [ $attr = noattr ]; then
        grep -A1 "signedAttrs:" "$T/$last.out" >"$T/$last.attrs"
        contains "$T/$last.attrs" "<ABSENT>"
      else
        contains "$T/$last.out" "object: contentType"
      fi
      if [ "$s" = rsa-pss ]; then out_contains "rsassaPss"; fi
    done
  done

  # CMS decryption: content encrypted by the default provider to the
  # certificate of an RSA reference, PKCS#1 v1.5 and OAEP key transport.
  expect 0 "cms-enc-$m" openssl cms -encrypt -binary -aes256 -in "$T/doc.txt" \
    -out "$d/doc.p7m" "$d/rsa-ca.crt"
  expect 0 "cms-dec-$m" ossl "$m" cms -decrypt -binary -in "$d/doc.p7m" -recip "$d/rsa-ca.crt" \
    -inkey secretref:rsa -out "$d/doc.dec"
  if cmp -s "$T/doc.txt" "$d/doc.dec"; then pass; else fail "cms decrypt PKCS#1 $m"; fi
  expect 0 "cms-enc-oaep-$m" openssl cms -encrypt -binary -aes256 -in "$T/doc.txt" \
    -recip "$d/rsa3.crt" -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -out "$d/doc-oaep.p7m"
  expect 0 "cms-enc-oaep-print-$m" openssl cms -cmsout -print -in "$d/doc-oaep.p7m" -noout
  out_contains "rsaesOaep"
  expect 0 "cms-dec-oaep-$m" ossl "$m" cms -decrypt -binary -in "$d/doc-oaep.p7m" \
    -recip "$d/rsa3.crt" -inkey secretref:rsa3 -out "$d/doc-oaep.dec"
  if cmp -s "$T/doc.txt" "$d/doc-oaep.dec"; then pass; else fail "cms decrypt OAEP $m"; fi
  # The wrong key for a recipient: no crash, and never the plaintext.
  # (Against Bleichenbacher's attack, CMS carries on with a random content
  # key when key transport fails; about once in 256 its CBC padding then
  # checks out and cms exits 0 with garbage. So the exit status alone
  # proves nothing either way.)
  run "cms-dec-wrong-$m" ossl "$m" cms -decrypt -binary -in "$d/doc.p7m" -recip "$d/rsa-ca.crt" \
    -inkey secretref:rsa3 -out "$d/doc.wrong"
  if [ "$status" -lt 128 ] && ! cmp -s "$T/doc.txt" "$d/doc.wrong"; then
    pass
  else
    fail "cms-dec-wrong-$m: status $status, or the plaintext came out"
  fi
done

# Nothing private was printed anywhere.
for f in "$T"/*.out "$T"/*.err; do lacks "$f" "PRIVATE KEY"; done
