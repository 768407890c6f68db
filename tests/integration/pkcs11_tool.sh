#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OpenSC's pkcs11-tool against the PKCS#11 module: the token and its
# objects, signing with every mechanism (each signature verified by openssl
# with the key from "secretref pubkey"), decryption, ECDH, key generation,
# the self test, certificates written and references deleted through the
# token, no private key read out, and the PIN of a passphrase store.
source "$(dirname "$0")/../lib/common.sh"
require pkcs11-tool openssl jq sha256sum xxd

M=$SECRETREF_LIB/secretref-pkcs11.so
[ -f "$M" ] || { fail "module $M is not built"; exit 1; }
# pkcs11-tool 0.23 picks the key of --sign/--decrypt/--derive by --id only.
p11() { foreign pkcs11-tool --module "$M" "$@"; }

# idof NAME: the CKA_ID of a reference, the first 16 bytes of SHA-256 of
# its uuid.
idof() {
  local uuid
  uuid=$(sr show "$1" --json | jq -r .id)
  printf %s "$uuid" | sha256sum | cut -c1-32
}

# verified NAME CMD...: an openssl verification that must succeed.
verified() {
  local name=$1; shift
  expect 0 "$name" "$@"
  if ! grep -qE "Verified OK|Signature Verified Successfully" "$T/$name.out"; then
    fail "$name: not verified: $(head -c 300 "$T/$name.out" "$T/$name.err")"
  fi
}

expect 0 init sr init
for k in rsa:rsa-2048 rsa3:rsa-3072 p256:ec-p256 p384:ec-p384 p521:ec-p521 ed:ed25519; do
  expect 0 "new-${k%%:*}" sr new "${k%%:*}" --generate "${k#*:}"
  expect 0 "pub-${k%%:*}" sr pubkey "${k%%:*}"
  cp "$T/pub-${k%%:*}.out" "$T/${k%%:*}.pub.pem"
done
# The RSA key gets a certificate, so it has all three objects.
expect 0 cert-rsa foreign openssl req "${OSSL_PROV[@]}" -x509 -key secretref:rsa \
  -subj /CN=pkcs11-rsa -days 30 -out "$T/rsa.cert.pem"
expect 0 attach-rsa sr set rsa --certificate "$T/rsa.cert.pem"
ID_RSA=$(idof rsa)
equal "${#ID_RSA}" 32 "CKA_ID length"

# -L: one slot, the token "secretref", as a real token describes itself.
expect 0 list-slots p11 -L
out_contains "token label        : secretref"
out_contains "token initialized"
out_contains "PIN initialized"
lacks "$T/list-slots.out" "login required"
out_contains "token manufacturer : secretref"
grep -qE "serial num +: [0-9a-f]+" "$T/list-slots.out" && pass || fail "no token serial"
expect 0 mechanisms p11 -M
for m in RSA-PKCS SHA256-RSA-PKCS RSA-PKCS-PSS SHA512-RSA-PKCS-PSS RSA-PKCS-OAEP \
  ECDSA ECDSA-SHA384 EDDSA ECDH1-DERIVE; do out_contains "  $m, "; done

# -O: three objects for rsa, sharing its label and CKA_ID; no extractable key.
expect 0 objects p11 -O
equal "$(grep -c "label:      rsa$" "$T/objects.out")" 3 "objects labelled rsa"
equal "$(grep -c "ID:         $ID_RSA$" "$T/objects.out")" 3 "objects with rsa's CKA_ID"
out_contains "Certificate Object; type = X.509 cert"
out_contains "subject:    DN: CN=pkcs11-rsa"
equal "$(grep -c '^Private Key Object' "$T/objects.out")" 6 "private keys"
equal "$(grep -c '^Public Key Object' "$T/objects.out")" 6 "public keys"
equal "$(grep -c 'Access:     sensitive, always sensitive, never extractable' "$T/objects.out")" \
  6 "private keys never extractable"
lacks "$T/objects.out" "extractable, "
out_contains "EC_PARAMS:  06082a8648ce3d030107"
out_contains "EC_PARAMS:  06032b6570"
for n in rsa3 p256 p384 p521 ed; do
  equal "$(grep -c "ID:         $(idof $n)$" "$T/objects.out")" 2 "objects with $n's CKA_ID"
done

# --- Signing, each verified by openssl with the public key ---
head -c 3000 /dev/urandom >"$T/data"
printf 'not the data' >"$T/other"

# CKM_RSA_PKCS over a DigestInfo built here (SHA-256).
{ printf '3031300d060960864801650304020105000420' | xxd -r -p
  openssl dgst -sha256 -binary "$T/data"; } >"$T/data.sha256.di"
expect 0 sign-rsa-pkcs p11 --sign --id "$ID_RSA" -m RSA-PKCS -i "$T/data.sha256.di" \
  -o "$T/rsa-pkcs.sig"
equal "$(stat -c %s "$T/rsa-pkcs.sig")" 256 "RSA-2048 signature size"
verified verify-rsa-pkcs openssl dgst -sha256 -verify "$T/rsa.pub.pem" \
  -signature "$T/rsa-pkcs.sig" "$T/data"
expect 1 verify-rsa-pkcs-other openssl dgst -sha256 -verify "$T/rsa.pub.pem" \
  -signature "$T/rsa-pkcs.sig" "$T/other"

for h in SHA1 SHA256 SHA384 SHA512; do
  lh=${h,,}
  for n in rsa rsa3; do
    expect 0 "sign-$n-$lh-pkcs" p11 --sign --id "$(idof $n)" -m "$h-RSA-PKCS" \
      -i "$T/data" -o "$T/$n-$lh-pkcs.sig"
    verified "verify-$n-$lh-pkcs" openssl dgst "-$lh" -verify "$T/$n.pub.pem" \
      -signature "$T/$n-$lh-pkcs.sig" "$T/data"
  done
done

# CKM_RSA_PKCS_PSS over a hash, salt as long as the hash.
for h in SHA256 SHA384 SHA512; do
  lh=${h,,}
  openssl dgst "-$lh" -binary "$T/data" >"$T/data.$lh"
  expect 0 "sign-rsa-pss-$lh" p11 --sign --id "$ID_RSA" -m RSA-PKCS-PSS \
    --hash-algorithm "$h" --mgf "MGF1-$h" -i "$T/data.$lh" -o "$T/rsa-pss-$lh.sig"
  verified "verify-rsa-pss-$lh" openssl dgst "-$lh" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -verify "$T/rsa.pub.pem" \
    -signature "$T/rsa-pss-$lh.sig" "$T/data"
  # (pkcs11-tool takes the hash of these from the mechanism.)
  expect 0 "sign-rsa-$lh-pss" p11 --sign --id "$ID_RSA" -m "$h-RSA-PKCS-PSS" \
    --mgf "MGF1-$h" -i "$T/data" -o "$T/rsa-$lh-pss.sig"
  verified "verify-rsa-$lh-pss" openssl dgst "-$lh" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -verify "$T/rsa.pub.pem" \
    -signature "$T/rsa-$lh-pss.sig" "$T/data"
done
# A PSS signature is randomized: two differ, both verify.
expect 0 sign-rsa-sha256-pss-2 p11 --sign --id "$ID_RSA" -m SHA256-RSA-PKCS-PSS \
  -i "$T/data" -o "$T/rsa-sha256-pss-2.sig"
verified verify-rsa-sha256-pss-2 openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:digest -verify "$T/rsa.pub.pem" \
  -signature "$T/rsa-sha256-pss-2.sig" "$T/data"
cmp -s "$T/rsa-sha256-pss.sig" "$T/rsa-sha256-pss-2.sig" && fail "PSS signatures equal" || pass

# ECDSA: raw r||s padded to the field size; openssl's DER form verifies.
for c in p256:32:64 p384:48:96 p521:66:132; do
  n=${c%%:*} rs=${c##*:}
  id=$(idof "$n")
  for h in sha256 sha384 sha512; do
    openssl dgst "-$h" -binary "$T/data" >"$T/data.$h"
    expect 0 "sign-$n-ecdsa-$h" p11 --sign --id "$id" -m ECDSA -i "$T/data.$h" \
      -o "$T/$n-ecdsa-$h.sig"
    equal "$(stat -c %s "$T/$n-ecdsa-$h.sig")" "$rs" "$n ECDSA signature size (r||s)"
    expect 0 "sign-$n-ecdsa-$h-der" p11 --sign --id "$id" -m ECDSA -i "$T/data.$h" \
      --signature-format openssl -o "$T/$n-ecdsa-$h.der"
    verified "verify-$n-ecdsa-$h" openssl dgst "-$h" -verify "$T/$n.pub.pem" \
      -signature "$T/$n-ecdsa-$h.der" "$T/data"
    H=${h^^}
    expect 0 "sign-$n-ecdsa-with-$h" p11 --sign --id "$id" -m "ECDSA-$H" -i "$T/data" \
      --signature-format openssl -o "$T/$n-ecdsa-with-$h.der"
    verified "verify-$n-ecdsa-with-$h" openssl dgst "-$h" -verify "$T/$n.pub.pem" \
      -signature "$T/$n-ecdsa-with-$h.der" "$T/data"
  done
done
expect 1 verify-ecdsa-other openssl dgst -sha256 -verify "$T/p256.pub.pem" \
  -signature "$T/p256-ecdsa-with-sha256.der" "$T/other"

# EdDSA (pure Ed25519): 64 bytes over the message itself.
expect 0 sign-eddsa p11 --sign --id "$(idof ed)" -m EDDSA -i "$T/data" -o "$T/ed.sig"
equal "$(stat -c %s "$T/ed.sig")" 64 "Ed25519 signature size"
verified verify-eddsa openssl pkeyutl -verify -pubin -inkey "$T/ed.pub.pem" -rawin \
  -in "$T/data" -sigfile "$T/ed.sig"
# A mechanism the key does not do is refused.
expect 1 sign-ed-with-ecdsa p11 --sign --id "$(idof ed)" -m ECDSA-SHA256 -i "$T/data" \
  -o "$T/bad.sig"
expect 1 sign-ec-with-rsa p11 --sign --id "$(idof p256)" -m SHA256-RSA-PKCS -i "$T/data" \
  -o "$T/bad.sig"

# --- Decryption: ciphertexts made by openssl with the public key ---
printf 'the session key 0123456789abcdef' >"$T/plain"
expect 0 enc-pkcs1 openssl pkeyutl -encrypt -pubin -inkey "$T/rsa.pub.pem" \
  -pkeyopt rsa_padding_mode:pkcs1 -in "$T/plain" -out "$T/ct.pkcs1"
expect 0 dec-pkcs1 p11 --decrypt --id "$ID_RSA" -m RSA-PKCS -i "$T/ct.pkcs1" \
  -o "$T/dec.pkcs1"
cmp -s "$T/plain" "$T/dec.pkcs1" && pass || fail "RSA-PKCS decryption differs"
# (pkcs11-tool 0.23 has no option for an OAEP label: only the empty one.)
for h in sha1 sha256 sha384 sha512; do
  H=${h^^} mgf=${h^^}
  [ "$h" = sha1 ] && H=SHA-1
  expect 0 "enc-oaep-$h" openssl pkeyutl -encrypt -pubin -inkey "$T/rsa3.pub.pem" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$h" -pkeyopt "rsa_mgf1_md:$h" \
    -in "$T/plain" -out "$T/ct.oaep-$h"
  expect 0 "dec-oaep-$h" p11 --decrypt --id "$(idof rsa3)" -m RSA-PKCS-OAEP \
    --hash-algorithm "$H" --mgf "MGF1-$mgf" -i "$T/ct.oaep-$h" -o "$T/dec.oaep-$h"
  cmp -s "$T/plain" "$T/dec.oaep-$h" && pass || fail "OAEP $h decryption differs"
done
# SHA-256 OAEP with MGF1-SHA1 (the common Java/.NET pairing).
expect 0 enc-oaep-mixed openssl pkeyutl -encrypt -pubin -inkey "$T/rsa.pub.pem" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha1 \
  -in "$T/plain" -out "$T/ct.oaep-mixed"
expect 0 dec-oaep-mixed p11 --decrypt --id "$ID_RSA" -m RSA-PKCS-OAEP \
  --hash-algorithm SHA256 --mgf MGF1-SHA1 -i "$T/ct.oaep-mixed" -o "$T/dec.oaep-mixed"
cmp -s "$T/plain" "$T/dec.oaep-mixed" && pass || fail "OAEP SHA-256/MGF1-SHA1 differs"
# Wrong OAEP hash: refused, no plaintext.
run dec-oaep-wrong p11 --decrypt --id "$ID_RSA" -m RSA-PKCS-OAEP \
  --hash-algorithm SHA-1 --mgf MGF1-SHA1 -i "$T/ct.oaep-mixed" -o "$T/dec.oaep-wrong"
[ "$status" -ne 0 ] && pass || fail "OAEP with the wrong hash decrypted"
[ -s "$T/dec.oaep-wrong" ] && fail "OAEP with the wrong hash wrote output" || pass
# EC keys do not decrypt.
expect 1 dec-ec p11 --decrypt --id "$(idof p256)" -m RSA-PKCS -i "$T/ct.pkcs1" \
  -o "$T/dec.ec"

# --- ECDH: the same secret as openssl derives from the other side ---
for c in p256:P-256 p384:P-384; do
  n=${c%%:*}
  expect 0 "peer-$n" openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${c#*:}" \
    -out "$T/peer-$n.pem"
  expect 0 "peer-$n-pub" openssl pkey -in "$T/peer-$n.pem" -pubout -outform DER \
    -out "$T/peer-$n.der"
  expect 0 "derive-$n" p11 --derive -m ECDH1-DERIVE --id "$(idof $n)" \
    -i "$T/peer-$n.der" -o "$T/ecdh-$n.p11"
  expect 0 "derive-$n-openssl" openssl pkeyutl -derive -inkey "$T/peer-$n.pem" \
    -peerkey "$T/$n.pub.pem" -out "$T/ecdh-$n.ossl"
  cmp -s "$T/ecdh-$n.p11" "$T/ecdh-$n.ossl" && pass || fail "ECDH $n secrets differ"
done

# --- The private key is never read out ---
# pkcs11-tool 0.23 finds the key and gives up itself ("reading private keys
# not (yet) supported", exit 0) without asking for a value: the test is that
# the key is found and nothing comes out. (pkcs11_p11tool.sh shows the module
# answering CKR_ATTRIBUTE_SENSITIVE when p11tool asks for CKA_VALUE.)
for n in rsa p256 ed; do
  run "read-privkey-$n" p11 --read-object --type privkey --id "$(idof $n)" \
    -o "$T/priv-$n.out"
  lacks "$T/read-privkey-$n.err" "object not found"
  [ -s "$T/priv-$n.out" ] && fail "read-object wrote a private key of $n" || pass
done
expect 1 read-privkey-missing p11 --read-object --type privkey --id 00112233 \
  -o "$T/priv-missing.out"
err_contains "object not found"
# The public key and the certificate can be read.
expect 0 read-pubkey p11 --read-object --type pubkey --id "$ID_RSA" -o "$T/rsa.pub.der"
expect 0 read-pubkey-cmp openssl pkey -pubin -inform DER -in "$T/rsa.pub.der" -out "$T/rsa.pub.read.pem"
cmp -s "$T/rsa.pub.read.pem" "$T/rsa.pub.pem" && pass || fail "public key read differs"
expect 0 read-cert p11 --read-object --type cert --id "$ID_RSA" -o "$T/rsa.cert.der"
expect 0 cert-der openssl x509 -in "$T/rsa.cert.pem" -outform DER -out "$T/rsa.cert.orig.der"
cmp -s "$T/rsa.cert.der" "$T/rsa.cert.orig.der" && pass || fail "certificate read differs"

# --- Key generation creates references ---
expect 0 gen-rsa p11 --keypairgen --key-type rsa:2048 --label gen-rsa
out_contains "label:      gen-rsa"
expect 0 gen-p256 p11 --keypairgen --key-type EC:prime256v1 --label gen-p256
expect 0 gen-p384 p11 --keypairgen --key-type EC:secp384r1 --label gen-p384
# pkcs11-tool 0.23 names the Ed25519 curve "edwards25519".
expect 0 gen-ed p11 --keypairgen --key-type EC:edwards25519 --label gen-ed
out_contains "EC_EDWARDS"
expect 0 list-gen sr list --json
for n in gen-rsa gen-p256 gen-p384 gen-ed; do
  equal "$(jq -r --arg n $n '.[] | select(.name==$n) | .kind' "$T/list-gen.out")" \
    certificate "$n in secretref list"
done
expect 0 show-gen-p384 sr show gen-p384 --json
equal "$(jq -r .key.curve "$T/show-gen-p384.out")" P-384 "generated curve"
expect 0 show-gen-ed sr show gen-ed --json
equal "$(jq -r .key.type "$T/show-gen-ed.out")" Ed25519 "generated Ed25519"
expect 0 show-gen-rsa sr show gen-rsa --json
equal "$(jq -r .key.bits "$T/show-gen-rsa.out")" 2048 "generated RSA bits"
# A generated key signs at once, and its public key is the store's.
expect 0 pub-gen-p256 sr pubkey gen-p256
cp "$T/pub-gen-p256.out" "$T/gen-p256.pub.pem"
expect 0 sign-gen-p256 p11 --sign --id "$(idof gen-p256)" -m ECDSA-SHA256 -i "$T/data" \
  --signature-format openssl -o "$T/gen-p256.sig"
verified verify-gen-p256 openssl dgst -sha256 -verify "$T/gen-p256.pub.pem" \
  -signature "$T/gen-p256.sig" "$T/data"
# A name already taken is refused.
expect 1 gen-dup p11 --keypairgen --key-type EC:prime256v1 --label gen-p256

# --- The self test ---
expect 0 self-test p11 --test
out_contains "No errors"
lacks "$T/self-test.out" "ERR"

# --- A certificate written through the token is attached to its key ---
ID_P256=$(idof p256)
expect 0 cert-p256 foreign openssl req "${OSSL_PROV[@]}" -x509 -key secretref:p256 \
  -subj /CN=pkcs11-p256 -days 30 -outform DER -out "$T/p256.cert.der"
expect 0 write-cert p11 --write-object "$T/p256.cert.der" --type cert --id "$ID_P256" \
  --label p256
expect 0 objects-after-write p11 -O --type cert
out_contains "subject:    DN: CN=pkcs11-p256"
equal "$(grep -c "ID:         $ID_P256$" "$T/objects-after-write.out")" 1 "certificate with p256's CKA_ID"
expect 0 show-p256 sr show p256 --json
equal "$(jq -r .certificate.subject "$T/show-p256.out")" CN=pkcs11-p256 "attached certificate"
expect 0 read-cert-p256 p11 --read-object --type cert --id "$ID_P256" -o "$T/p256.cert.read"
cmp -s "$T/p256.cert.der" "$T/p256.cert.read" && pass || fail "written certificate differs"
# A certificate whose key the token does not hold is refused.
expect 0 foreign-key openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$T/input-foreign.key" -subj /CN=foreign -days 1 -outform DER -out "$T/foreign.der"
rm -f "$T/input-foreign.key"
expect 1 write-foreign p11 --write-object "$T/foreign.der" --type cert --id "$ID_P256"
expect 0 show-p256-after sr show p256 --json
equal "$(jq -r .certificate.subject "$T/show-p256-after.out")" CN=pkcs11-p256 \
  "certificate kept after a refused write"
# Keys cannot be imported through the token.
expect 0 foreign-pkey openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -outform DER -out "$T/foreign-key.der"
expect 1 write-privkey p11 --write-object "$T/foreign-key.der" --type privkey --label imported
rm -f "$T/foreign-key.der"

# --- Deleting the private key object deletes the reference ---
# ...but not while a connector uses it.
ID_USED=$(idof gen-p256)
expect 0 connector-add sr connector add uses-gen --host sftp.example --user u \
  --key-ref gen-p256
expect 1 delete-in-use p11 --delete-object --type privkey --id "$ID_USED"
expect 0 still-used sr show gen-p256
expect 0 connector-delete sr connector delete uses-gen
ID_GEN=$(idof gen-rsa)
# The public key or certificate alone cannot go.
expect 1 delete-pubkey p11 --delete-object --type pubkey --id "$ID_GEN"
expect 0 still-there sr show gen-rsa
expect 0 delete-privkey p11 --delete-object --type privkey --id "$ID_GEN"
expect 3 gone sr show gen-rsa
err_contains "no such reference"
expect 0 objects-after-delete p11 -O
lacks "$T/objects-after-delete.out" "gen-rsa"
lacks "$T/objects-after-delete.out" "$ID_GEN"

# --- A passphrase store: the PIN is the passphrase ---
pass_secret='Token-Pin-Passphrase-6c1e!'
pf=$(input passphrase "$pass_secret")
export SECRETREF_STORE=$T/pstore/store.db
unset SECRETREF_KEY_FILE
expect 0 p-init sr --passphrase-file "$pf" init --passphrase
expect 0 p-new sr --passphrase-file "$pf" new pk --generate ec-p256
expect 0 p-pub sr --passphrase-file "$pf" pubkey pk
cp "$T/p-pub.out" "$T/pk.pub.pem"
ID_PK=$(sr --passphrase-file "$pf" show pk --json | jq -r .id | tr -d '\n' | sha256sum | cut -c1-32)
expect 0 p-slots p11 -L
out_contains "login required"
# Without login: public objects only.
expect 0 p-objects p11 -O
out_contains "Public Key Object; EC"
lacks "$T/p-objects.out" "Private Key Object"
expect 1 p-sign-nologin p11 --sign --id "$ID_PK" -m ECDSA-SHA256 -i "$T/data" -o "$T/pk-nologin.sig"
[ -s "$T/pk-nologin.sig" ] && fail "signed without login" || pass
# A wrong PIN.
expect 1 p-wrong-pin p11 --login --pin 'not-the-passphrase' -O
err_contains "CKR_PIN_INCORRECT"
expect 1 p-wrong-pin-sign p11 --login --pin 'not-the-passphrase' --sign --id "$ID_PK" \
  -m ECDSA-SHA256 -i "$T/data" -o "$T/pk-wrong.sig"
err_contains "CKR_PIN_INCORRECT"
# The right one: the private key is listed and signs.
expect 0 p-objects-login p11 --login --pin "$pass_secret" -O
out_contains "Private Key Object; EC"
expect 0 p-sign p11 --login --pin "$pass_secret" --sign --id "$ID_PK" -m ECDSA-SHA256 \
  -i "$T/data" --signature-format openssl -o "$T/pk.sig"
verified p-verify openssl dgst -sha256 -verify "$T/pk.pub.pem" -signature "$T/pk.sig" "$T/data"
# Key generation needs the login too.
expect 1 p-gen-nologin p11 --keypairgen --key-type EC:prime256v1 --label p-gen
expect 0 p-gen p11 --login --pin "$pass_secret" --keypairgen --key-type EC:prime256v1 \
  --label p-gen
expect 0 p-list sr --passphrase-file "$pf" list
out_contains p-gen
# The next process starts logged out again: nothing was cached.
expect 0 p-objects-again p11 -O
lacks "$T/p-objects-again.out" "Private Key Object"

no_leak "$pass_secret"
