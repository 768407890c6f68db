#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS with a secretref key: openssl s_server -naccept 1 -key secretref:NAME
# against a plain openssl s_client (default provider only), for RSA-2048,
# RSA-3072, EC P-256/384/521 and Ed25519, TLS 1.2 and 1.3; RSA with
# PKCS#1 and with PSS signatures in TLS 1.2; both provider orders, an
# openssl.cnf that activates the provider, and a `secretref pem` reference
# file given as -key. The client checks the chain (a CA whose key is in the
# store too) and we assert its verdict, the protocol, the peer signature
# type and digest, and that application data went through.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/provider.sh"
require openssl ss timeout
: "${SECRETREF_LIB:?run through ctest (SECRETREF_LIB is not set)}"
unset OPENSSL_CONF

expect 0 init sr init
expect 0 new-ca sr new CA --generate ec-p256
keys=(rsa2048:rsa-2048 rsa3072:rsa-3072 ec256:ec-p256 ec384:ec-p384 ec521:ec-p521 ed:ed25519)
for k in "${keys[@]}"; do
  expect 0 "new-${k%%:*}" sr new "${k%%:*}" --generate "${k#*:}"
done

provider_cnf "$T/openssl.cnf"


# The CA and a server certificate for every key, all signed in the store.
expect 0 ca ossl sd req -x509 -new -key secretref:CA -subj "/CN=secretref TLS test CA" -days 2 \
  -out "$T/ca.crt" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
for k in "${keys[@]}"; do
  n=${k%%:*}
  expect 0 "csr-$n" ossl sd req -new -key "secretref:$n" -subj "/CN=localhost" -out "$T/$n.csr"
  expect 0 "cert-$n" ossl sd x509 -req -in "$T/$n.csr" -CA "$T/ca.crt" -CAkey secretref:CA \
    -CAcreateserial -days 2 -out "$T/$n.crt"
done

# free_port: a TCP port nobody listens on now (bind races are retried).
free_port() {
  local i p
  for i in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htln "sport = :$p")" ]; then echo "$p"; return 0; fi
  done
  return 1
}

# handshake ID MODE KEY CERT CLIENT_ARGS...: one s_server -naccept 1 with
# our provider loaded as MODE (and the options in server_extra), one
# s_client that sends an HTTP request. The client's output is in $T/ID.out,
# the server's in $T/ID-server.*.
server_extra=()
server_pid=
# A server left running by an aborted test: the background shell and its
# child (timeout, which passes the signal on to openssl).
cleanup_hooks+=('if [ -n "$server_pid" ]; then kill $(cat /proc/"$server_pid"/task/*/children 2>/dev/null) "$server_pid" 2>/dev/null; fi')
handshake() {
  local id=$1 mode=$2 key=$3 cert=$4 attempt port="" pid i srv_status started=0
  shift 4
  client_status=1
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || { fail "$id: no free port"; return 0; }
    ossl "$mode" s_server -naccept 1 -accept "127.0.0.1:$port" -key "$key" -cert "$cert" -www \
      ${server_extra[@]+"${server_extra[@]}"} \
      </dev/null >"$T/$id-server.out" 2>"$T/$id-server.err" &
    pid=$!
    server_pid=$pid
    for i in $(seq "$(scaled 200)"); do
      if [ -n "$(ss -Htln "sport = :$port")" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
      sleep 0.02
    done
    if [ -n "$(ss -Htln "sport = :$port")" ]; then started=1; break; fi
    kill $(cat /proc/"$pid"/task/*/children 2>/dev/null) "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    server_pid=
    if ! grep -q "in use" "$T/$id-server.err"; then
      fail "$id: s_server did not start: $(head -c 600 "$T/$id-server.err")"
      return 0
    fi
  done
  if [ "$started" = 0 ]; then fail "$id: no port to listen on"; return 0; fi
  printf 'GET / HTTP/1.0\r\n\r\n' >"$T/$id.request"
  run "$id" timeout "$(scaled 20)" openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/ca.crt" \
    -verify_return_error -ign_eof "$@" <"$T/$id.request"
  client_status=$status
  # The server ends after one connection (or its timeout).
  set +e
  wait "$pid"
  srv_status=$?
  set -e
  server_pid=
  # s_server -naccept 1 exits 0 whatever the handshake did: not a crash
  # (an ASan report aborts), not a hang (timeout: 124).
  if [ "$srv_status" -eq 0 ]; then pass; else
    fail "$id: s_server exit status $srv_status: $(head -c 600 "$T/$id-server.err")"
  fi
  lacks "$T/$id-server.err" "AddressSanitizer"
}

# ok ID PROTOCOL SIGTYPE [DIGEST]: the handshake completed, and what the
# client saw.
ok() {
  local f=$T/$1.out
  if [ "$client_status" -eq 0 ]; then pass; else
    fail "$1: s_client exit status $client_status: $(head -c 400 "$T/$1.err") server: $(head -c 600 "$T/$1-server.err")"
  fi
  contains "$f" "Verify return code: 0 (ok)"
  contains "$f" "New, $2, Cipher is"
  contains "$f" "Peer signature type: $3"
  if [ -n "${4:-}" ]; then contains "$f" "Peer signing digest: $4"; fi
  contains "$f" "HTTP/1.0 200 ok"
}

sigtype() {
  case $1 in rsa*) echo RSA-PSS ;; ec*) echo ECDSA ;; ed) echo ed25519 ;; esac
}
# TLS 1.3 ties the ECDSA digest to the curve; Ed25519 has none.
digest13() {
  case $1 in rsa*|ec256) echo SHA256 ;; ec384) echo SHA384 ;; ec521) echo SHA512 ;; ed) echo "" ;; esac
}

# Every key type, TLS 1.2 and 1.3, both provider orders. Ed25519 is
# defined for TLS 1.2 too (RFC 8422) and openssl 3.0 does it.
#
# With secretref activated first, libssl 3.0 fetches our EC keymgmt for the TLS
# groups, so the provider declares P-256/384/521 itself (provider.c,
# get_capabilities) and makes their ephemeral keys as local keys; TLS 1.2
# needs that, as its ECDSA certificate's curve must be among the groups.
for mode in sd ds; do
  for k in "${keys[@]}"; do
    n=${k%%:*}
    for proto in tls1_2 tls1_3; do
      id=$mode-$n-$proto
      handshake "$id" "$mode" "secretref:$n" "$T/$n.crt" "-$proto"
      if [ "$proto" = tls1_3 ]; then
        ok "$id" TLSv1.3 "$(sigtype "$n")" "$(digest13 "$n")"
      else
        ok "$id" TLSv1.2 "$(sigtype "$n")"
      fi
    done
  done
done
server_extra=()

# RSA in TLS 1.2 with PKCS#1 v1.5 and with PSS signatures, as the client
# asks, in both orders; TLS 1.3 with a SHA-384 PSS signature.
for id in sd-rsa2048 ds-rsa2048 sd-rsa3072; do
  mode=${id%%-*} n=${id#*-}
  handshake "$id-pkcs1" "$mode" "secretref:$n" "$T/$n.crt" -tls1_2 -sigalgs RSA+SHA256
  ok "$id-pkcs1" TLSv1.2 RSA SHA256
  handshake "$id-pss" "$mode" "secretref:$n" "$T/$n.crt" -tls1_2 -sigalgs rsa_pss_rsae_sha256
  ok "$id-pss" TLSv1.2 RSA-PSS SHA256
done
handshake sd-rsa3072-pss384 sd secretref:rsa3072 "$T/rsa3072.crt" -tls1_3 -sigalgs rsa_pss_rsae_sha384
ok sd-rsa3072-pss384 TLSv1.3 RSA-PSS SHA384

# Through openssl.cnf (default, then secretref; the store from the
# config): every key with TLS 1.3, RSA (PKCS#1) and EC with TLS 1.2.
for k in "${keys[@]}"; do
  n=${k%%:*}
  handshake "cnf-$n-tls1_3" cnf "secretref:$n" "$T/$n.crt" -tls1_3
  ok "cnf-$n-tls1_3" TLSv1.3 "$(sigtype "$n")" "$(digest13 "$n")"
done
handshake cnf-rsa2048-pkcs1 cnf secretref:rsa2048 "$T/rsa2048.crt" -tls1_2 -sigalgs RSA+SHA256
ok cnf-rsa2048-pkcs1 TLSv1.2 RSA SHA256
handshake cnf-ec384-tls1_2 cnf secretref:ec384 "$T/ec384.crt" -tls1_2
ok cnf-ec384-tls1_2 TLSv1.2 ECDSA

# A `secretref pem` reference file as -key: a key file that holds only
# the reference, for programs that read key files.
for n in rsa2048 ed; do
  expect 0 "pem-$n" sr pem "$n" --output "$T/$n.ref.pem"
  contains "$T/$n.ref.pem" "BEGIN SECRETREF KEY"
  lacks "$T/$n.ref.pem" "PRIVATE KEY"
done
handshake pemref-ed sd "$T/ed.ref.pem" "$T/ed.crt" -tls1_3
ok pemref-ed TLSv1.3 ed25519
handshake pemref-rsa2048 ds "$T/rsa2048.ref.pem" "$T/rsa2048.crt" -tls1_2 -sigalgs RSA+SHA256
ok pemref-rsa2048 TLSv1.2 RSA SHA256

# A certificate that is not the key's: s_server refuses it at start.
run mismatch ossl sd s_server -naccept 1 -accept 127.0.0.1:0 -key secretref:ec256 \
  -cert "$T/ec384.crt" -www </dev/null
if [ "$status" -ne 0 ] && [ "$status" -lt 128 ]; then pass; else fail "mismatch: status $status"; fi
err_contains "key values mismatch"

# TLS 1.2 RSA key transport (no (EC)DHE) is not offered by the provider
# (asym_cipher.c: no TLS padding): the handshake fails cleanly, the
# server says why, nothing crashes.
handshake rsa-kx sd secretref:rsa2048 "$T/rsa2048.crt" -tls1_2 -cipher AES128-SHA256
if [ "$client_status" -ne 0 ]; then pass; else fail "rsa-kx: RSA key transport unexpectedly worked; update this test"; fi
contains "$T/rsa-kx-server.err" "is not offered"

for f in "$T"/*.out "$T"/*.err; do lacks "$f" "PRIVATE KEY"; done
