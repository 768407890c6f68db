#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, end to end, on the embedded SQLite store: builds secretref,
# creates a store in a temporary folder, adds a reference of every kind,
# lists and shows them, uses certificate references from OpenSSL (a CSR, a
# self-signed certificate, a TLS handshake) through the secretref provider,
# lists and uses them as a PKCS#11 token, uploads and downloads a file over
# SFTP with a certificate reference, exports the configuration, and shows that no secret is in the export or
# in clear in the store.
#
# SECRETREF_PREFIX=DIR bash scripts/demo.sh runs it on an installed tree
# instead, building and installing nothing: DIR/bin's commands, the
# provider where OpenSSL loads modules from (OPENSSL_MODULES, else `openssl
# version -m`), the PKCS#11 module in p11-kit's module directory, or
# SECRETREF_PKCS11_MODULE=FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

if [ -n "${SECRETREF_PREFIX:-}" ]; then
  bin=$SECRETREF_PREFIX/bin
  provider=(-provider secretref -provider default)
  modules_dir=${OPENSSL_MODULES:-$(openssl version -m | sed -E 's/^MODULESDIR: "(.*)"$/\1/')}
  provider_so=$modules_dir/secretref.so
  module=${SECRETREF_PKCS11_MODULE:-$(pkg-config --variable p11_module_path p11-kit-1 \
    2>/dev/null)/secretref-pkcs11.so}
  for f in "$bin/secretref" "$bin/secretref-sftp" "$provider_so" "$module"; do
    [ -e "$f" ] || { echo "demo: $f is not installed" >&2; exit 1; }
  done
else
  "$src/scripts/deps.sh"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc 2>/dev/null || echo 2)" \
    --target secretref secretref_provider secretref_pkcs11 secretref_sftp_cmd >/dev/null
  bin=$src/build/bin
  provider=(-provider-path "$src/build/lib" -provider secretref -provider default)
  provider_so=$src/build/lib/secretref.so
  module=$src/build/lib/secretref-pkcs11.so
fi
secretref=$bin/secretref
# Modules of an ASan build (-DSECRETREF_SANITIZE=ON) need the ASan runtime
# loaded first in the system's programs that load them.
preload=$(ldd "$provider_so" | awk '/lib(a|ub)san/ {printf "%s%s", sep, $3; sep=":"}')
if [ -n "$preload" ]; then
  sys() {
    LD_PRELOAD=$preload ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
      command "$@"
  }
  openssl() { sys openssl "$@"; }
  p11tool() { sys p11tool "$@"; }
  pkcs11-tool() { sys pkcs11-tool "$@"; }
fi

demo=$(mktemp -d "${TMPDIR:-/tmp}/secretref-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
export SECRETREF_STORE=$demo/store/store.db SECRETREF_KEY_FILE=$demo/keys/master.key
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "a new store, sealed with a key file (mode 0600)"
show "$secretref" init
ls -l "$SECRETREF_STORE" "$SECRETREF_KEY_FILE"

step "a manual secret: read from standard input, never from the command line"
password="demo-$(openssl rand -hex 12)"
printf '%s\n' "$password" | show "$secretref" new orders-db \
  --description "orders database password" --manual --expires 2027-06-30
printf '%s\n' "prod-$(openssl rand -hex 12)" | show "$secretref" new orders-db \
  --environment Production --description "orders database, production" --manual

step "a Key Vault secret reference: only its locator is stored"
show "$secretref" new partner-api --key-vault vault://corp-vault/partner-api-key \
  --description "partner API key in Azure Key Vault"

step "certificate references: a key made inside the store, and a PKCS#12 import"
show "$secretref" new azure-sftp --generate ec-p256 --description "Azure Blob SFTP"
openssl req -x509 -newkey rsa:3072 -nodes -subj "/CN=orders.example" -days 90 \
  -keyout "$demo/tls.key" -out "$demo/tls.crt" 2>/dev/null
openssl pkcs12 -export -inkey "$demo/tls.key" -in "$demo/tls.crt" \
  -passout pass:demo-pfx -out "$demo/tls.pfx"
printf 'demo-pfx\n' >"$demo/pfx.pass"
show "$secretref" new orders-tls --certificate "$demo/tls.pfx" \
  --password-file "$demo/pfx.pass" --description "TLS for orders.example"
shred -u "$demo/tls.key" "$demo/pfx.pass" 2>/dev/null || rm -f "$demo/tls.key" "$demo/pfx.pass"

step "the list (expiry marked), one reference in detail, a public key for Azure"
show "$secretref" list
show "$secretref" show orders-tls
show "$secretref" pubkey azure-sftp --format openssh

step "use: resolve for the active environment type, without printing anything"
show "$secretref" verify orders-db
show "$secretref" --environment Production verify orders-db
show "$secretref" verify azure-sftp

step "rotate, and see the versions"
printf '%s\n' "demo-$(openssl rand -hex 12)" | show "$secretref" set orders-db --manual
show "$secretref" history orders-db

step "OpenSSL uses a certificate reference by name; the private key stays in the store"
show openssl req "${provider[@]}" -new -key secretref:azure-sftp -subj "/CN=sftp.example" \
  -out "$demo/sftp.csr"
openssl req -in "$demo/sftp.csr" -verify -noout
show openssl req "${provider[@]}" -x509 -key secretref:orders-tls -subj "/CN=localhost" \
  -days 30 -out "$demo/orders-self.crt"
openssl verify -CAfile "$demo/orders-self.crt" "$demo/orders-self.crt"
show openssl pkey "${provider[@]}" -in secretref:orders-tls -text -noout | head -n 3

step "one TLS handshake served with the secretref key"
for attempt in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  openssl s_server "${provider[@]}" -naccept 1 -accept "127.0.0.1:$port" \
    -key secretref:orders-tls -cert "$demo/orders-self.crt" -tls1_3 -quiet \
    >"$demo/s_server.log" 2>&1 &
  server=$!
  # Wait until it listens, without connecting: -naccept 1 serves one.
  hexport=$(printf ':%04X ' "$port")
  for _ in $(seq 100); do
    grep -q "$hexport.* 0A " /proc/net/tcp && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$server" 2>/dev/null && break
done
echo "demo" | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_3 \
  -CAfile "$demo/orders-self.crt" -verify_return_error -servername localhost \
  2>&1 | grep -E "^(Verify return code|Peer signature type|New,)" || true
wait "$server" 2>/dev/null || true

step "the same keys as a PKCS#11 token: listed by p11tool, used by pkcs11-tool"
show p11tool --provider "$module" --list-privkeys
id=$(pkcs11-tool --module "$module" -O --type privkey 2>/dev/null |
  awk '/label: *azure-sftp$/{f=1} f&&/ID:/{print $2; exit}')
echo "release 1.0" >"$demo/release.txt"
show pkcs11-tool --module "$module" --sign --id "$id" -m ECDSA-SHA256 \
  --signature-format openssl -i "$demo/release.txt" -o "$demo/release.sig"
"$secretref" pubkey azure-sftp >"$demo/azure-sftp.pub"
openssl dgst -sha256 -verify "$demo/azure-sftp.pub" -signature "$demo/release.sig" \
  "$demo/release.txt"

step "SFTP with a certificate reference, against a loopback sshd set up like Azure's"
mkdir -p /run/sshd "$demo/sftp-root"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$demo/sshd_host_key"
show "$secretref" pubkey azure-sftp --format openssh | tee "$demo/authorized_keys"
sftp_port=$((20000 + RANDOM % 40000))
cat >"$demo/sshd_config" <<EOF
Port $sftp_port
ListenAddress 127.0.0.1
HostKey $demo/sshd_host_key
PidFile $demo/sshd.pid
AuthorizedKeysFile $demo/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
KexAlgorithms ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256
Ciphers aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr
MACs hmac-sha2-256,hmac-sha2-512,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com
HostKeyAlgorithms rsa-sha2-256,rsa-sha2-512,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384
PubkeyAcceptedAlgorithms rsa-sha2-256,rsa-sha2-512,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384
EOF
/usr/sbin/sshd -f "$demo/sshd_config" -E "$demo/sshd.log"
trap 'kill "$(cat "$demo/sshd.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$demo"' EXIT
hexport=$(printf ':%04X ' "$sftp_port")
for _ in $(seq 100); do grep -q "$hexport.* 0A " /proc/net/tcp && break; sleep 0.1; done
head -c 3000000 /dev/urandom >"$demo/orders.csv"
sftp=$bin/secretref-sftp
dest="sftp://$(id -un)@127.0.0.1:$sftp_port$demo/sftp-root"
show "$sftp" --key secretref:azure-sftp --known-hosts "$demo/known_hosts" --accept-new \
  "$dest" put "$demo/orders.csv" orders.csv
show "$sftp" --key secretref:azure-sftp --known-hosts "$demo/known_hosts" \
  "$dest" ls -l
show "$sftp" --key secretref:azure-sftp --known-hosts "$demo/known_hosts" \
  "$dest" get orders.csv "$demo/orders-back.csv"
cmp "$demo/orders.csv" "$demo/orders-back.csv" && echo "downloaded file is identical"

step "export: metadata and public certificates only"
show "$secretref" export --output "$demo/export.json"
head -c 600 "$demo/export.json"; echo " ..."

step "the secret is nowhere: not in the export, not in clear in the store or its log"
found=0
for f in "$demo/export.json" "$SECRETREF_STORE" "$SECRETREF_STORE-wal"; do
  [ -e "$f" ] || continue
  if grep -aqF -- "$password" "$f" || grep -aq "PRIVATE KEY" "$f"; then
    echo "LEAK in $f"; found=1
  else
    echo "clean: $f"
  fi
done
show "$secretref" audit | tail -n 6
[ "$found" -eq 0 ] || { echo "demo: a secret leaked" >&2; exit 1; }
echo
echo "demo: done; every secret stayed sealed."
