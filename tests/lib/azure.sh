# SPDX-License-Identifier: Apache-2.0
# The Azure test double (tests/fixtures/azure_double.py): Key Vault,
# Entra ID's token endpoint and the instance metadata service on loopback,
# behind a test CA. Source it after common.sh.
#
#   azure_start        CA and server certificate (openssl), starts the
#                      double, stopped by a cleanup hook; creates the tenant
#                      $AZURE_TENANT and the vaults myvault and othervault in
#                      it. Sets
#       AZURE_DIR      its folder, under $T/input (the request log holds
#                      secrets and tokens by nature: no_leak skips it)
#       AZURE_PORT     the TLS port (Key Vault, Entra ID)
#       AZURE_PLAIN_PORT  the plain HTTP port (IMDS, control)
#       AZURE_CA       the test CA, for --ca-file
#       AZURE_IMDS_URL http://127.0.0.1:PLAIN_PORT, for --authority
#       AZURE_LOG      the request log (JSON lines)
#       AZURE_TENANT   a tenant id (GUID)
#     and exports SECRETREF_KEYVAULT_CONNECT_TO, sending
#     myvault.vault.azure.net:443, othervault.vault.azure.net:443 and
#     login.microsoftonline.com:443 to the TLS port and 169.254.169.254:80
#     to the plain one.
#   azure_stop
#
# Control (a refused call fails the test and ends it):
#   azure_tenant TENANT
#   azure_client_secret CLIENT_ID SECRET [TENANT]
#   azure_client_cert CLIENT_ID CERT_PEM_FILE [TENANT]
#   azure_identity CLIENT_ID [system|user] [TENANT]   a managed identity
#   azure_vault NAME [JSON]        (re)configures a vault in $AZURE_TENANT;
#                                  JSON adds fields: {"firewall":true}, ...
#   azure_grant VAULT CLIENT_ID / azure_revoke VAULT CLIENT_ID
#   azure_secret VAULT NAME VALUE [JSON]   prints the new version's id
#   azure_certificate VAULT NAME PEM_FILE [pkcs12|pem] [JSON]  prints it
#   azure_update VAULT NAME VERSION JSON   {"enabled":false}, {"exp":N}, ...
#   azure_fault TARGET KIND [COUNT] [JSON] TARGET vault|login|imds; KIND
#                                  429|503|500|502|504|408|400|drop|slow
#   azure_clear_faults
#   azure_expire CLIENT_ID [IN]    its tokens expire in IN s (default 0)
#   azure_lifetime CLIENT_ID SECONDS  the lifetime of its next tokens
#   azure_tokens [CLIENT_ID]       every token issued, one a line
#
# The request log:
#   azure_mark                     later calls look only at what follows
#   azure_requests [JQ_CONDITION]  prints how many requests since the mark
#                                  match: azure_requests '.kind=="token"'
#   azure_since [JQ_CONDITION]     prints them, one JSON object a line
#   azure_wait_for JQ_CONDITION [SECONDS]  waits (default 10 s) until one
#                                  such request is logged; 1 if none
#   azure_no_token_leak            no_leak for every token issued (and its
#                                  signature part alone)
#
# Helpers:
#   azure_make_cert NAME [rsa|ec]  a key and a self-signed certificate in
#                                  $T/input/NAME.pem (key first), the
#                                  certificate alone in $T/input/NAME.crt
#   epoch_days N                   the time N days from now (may be < 0)
#   uuid, kv_secret_client, kv_value, value_is, err_matches, now, within:
#                                  for the tests, described at the end

AZURE_PY=${SECRETREF_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/fixtures/azure_double.py
AZURE_PID=
AZURE_MARK=0

azure_start() {
  local i
  require openssl jq
  if [ ! -x /usr/bin/python3 ]; then
    fail "required program /usr/bin/python3 is not installed"; exit 1
  fi
  if ! /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
    fail "python3-cryptography is not installed (scripts/deps.sh)"; exit 1
  fi
  [ -f "$AZURE_PY" ] || { fail "no test double at $AZURE_PY"; exit 1; }
  AZURE_DIR=$T/input/azure
  mkdir -p "$AZURE_DIR"
  # The test CA, and the server's certificate for every name it answers.
  if ! {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$AZURE_DIR/ca.key" -out "$AZURE_DIR/ca.pem" -days 2 \
      -subj "/CN=secretref test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$AZURE_DIR/server.key" -out "$AZURE_DIR/server.csr" \
      -subj "/CN=azure test double" &&
    printf '%s\n' \
      "subjectAltName=DNS:*.vault.azure.net,DNS:login.microsoftonline.com,DNS:*.vault.usgovcloudapi.net,DNS:login.microsoftonline.us,DNS:localhost,IP:127.0.0.1" \
      "extendedKeyUsage=serverAuth" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" >"$AZURE_DIR/server.ext" &&
    openssl x509 -req -in "$AZURE_DIR/server.csr" -CA "$AZURE_DIR/ca.pem" \
      -CAkey "$AZURE_DIR/ca.key" -CAcreateserial -days 2 \
      -extfile "$AZURE_DIR/server.ext" -out "$AZURE_DIR/server.pem"
  } >"$AZURE_DIR/openssl.log" 2>&1; then
    fail "test CA: $(tail -3 "$AZURE_DIR/openssl.log")"; exit 1
  fi
  AZURE_CA=$AZURE_DIR/ca.pem
  AZURE_LOG=$AZURE_DIR/requests.jsonl
  : >"$AZURE_LOG"
  rm -f "$AZURE_DIR/port" "$AZURE_DIR/plain-port"
  /usr/bin/python3 "$AZURE_PY" serve --cert "$AZURE_DIR/server.pem" \
    --key "$AZURE_DIR/server.key" --dir "$AZURE_DIR" --lifetime "$(scaled 900)" \
    >"$AZURE_DIR/double.out" 2>&1 &
  AZURE_PID=$!
  cleanup_hooks+=("azure_stop")
  for i in $(seq 100); do
    [ -s "$AZURE_DIR/port" ] && break
    kill -0 "$AZURE_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$AZURE_DIR/port" ]; then
    fail "the Azure double did not start: $(tail -5 "$AZURE_DIR/double.out")"; exit 1
  fi
  AZURE_PORT=$(cat "$AZURE_DIR/port")
  AZURE_PLAIN_PORT=$(cat "$AZURE_DIR/plain-port")
  if ! wait_listen "$AZURE_PORT" "$AZURE_PID" || ! wait_listen "$AZURE_PLAIN_PORT" "$AZURE_PID"; then
    fail "the Azure double does not listen: $(tail -5 "$AZURE_DIR/double.out")"; exit 1
  fi
  AZURE_IMDS_URL=http://127.0.0.1:$AZURE_PLAIN_PORT
  AZURE_ADMIN=http://127.0.0.1:$AZURE_PLAIN_PORT
  local to=127.0.0.1:$AZURE_PORT
  export SECRETREF_KEYVAULT_CONNECT_TO="myvault.vault.azure.net:443:$to,othervault.vault.azure.net:443:$to,login.microsoftonline.com:443:$to,169.254.169.254:80:127.0.0.1:$AZURE_PLAIN_PORT"
  AZURE_TENANT=$(cat /proc/sys/kernel/random/uuid)
  azure_tenant "$AZURE_TENANT"
  azure_vault myvault
  azure_vault othervault
}

azure_stop() {
  local i
  [ -n "$AZURE_PID" ] || return 0
  kill "$AZURE_PID" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$AZURE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$AZURE_PID" 2>/dev/null || true
  wait "$AZURE_PID" 2>/dev/null || true
  AZURE_PID=
}

# azure_admin OP JSON: a control call; prints the answer. The JSON goes on
# standard input, never on a command line.
azure_admin() {
  local out
  if ! out=$(printf '%s' "$2" | /usr/bin/python3 "$AZURE_PY" admin "$AZURE_ADMIN" "$1" 2>&1); then
    fail "azure double: $1 refused: $out"
    exit 1
  fi
  printf '%s\n' "$out"
}

azure_tenant() { azure_admin tenant "$(jq -nc --arg t "$1" '{tenant: $t}')" >/dev/null; }

azure_client_secret() {
  azure_admin client "$(AZ_S=$2 jq -nc --arg c "$1" --arg t "${3:-$AZURE_TENANT}" \
    '{client_id: $c, tenant: $t, secret: env.AZ_S}')" >/dev/null
}

azure_client_cert() {
  azure_admin client "$(jq -nc --arg c "$1" --arg t "${3:-$AZURE_TENANT}" \
    --rawfile pem "$2" '{client_id: $c, tenant: $t, certificate: $pem}')" >/dev/null
}

azure_identity() {
  azure_admin identity "$(jq -nc --arg c "$1" --arg t "${3:-$AZURE_TENANT}" \
    --argjson s "$([ "${2:-user}" = system ] && echo true || echo false)" \
    '{client_id: $c, tenant: $t, system: $s}')" >/dev/null
}

azure_vault() {
  azure_admin vault "$(jq -nc --arg n "$1" --arg t "$AZURE_TENANT" --argjson x "${2:-{\}}" \
    '{name: $n, tenant: $t} + $x')" >/dev/null
}

azure_grant() {
  azure_admin grant "$(jq -nc --arg v "$1" --arg c "$2" '{vault: $v, client_id: $c}')" >/dev/null
}
azure_revoke() {
  azure_admin revoke "$(jq -nc --arg v "$1" --arg c "$2" '{vault: $v, client_id: $c}')" >/dev/null
}

azure_secret() {
  local out
  out=$(azure_admin secret "$(AZ_S=$3 jq -nc --arg v "$1" --arg n "$2" --argjson x "${4:-{\}}" \
    '{vault: $v, name: $n, value: env.AZ_S} + $x')") || exit 1
  jq -r .version <<<"$out"
}

azure_certificate() {
  local out
  out=$(azure_admin certificate "$(jq -nc --arg v "$1" --arg n "$2" --rawfile pem "$3" \
    --arg f "${4:-pkcs12}" --argjson x "${5:-{\}}" \
    '{vault: $v, name: $n, pem: $pem, format: $f} + $x')") || exit 1
  jq -r .version <<<"$out"
}

azure_update() {
  azure_admin update "$(jq -nc --arg v "$1" --arg n "$2" --arg r "$3" --argjson x "$4" \
    '{vault: $v, name: $n, version: $r} + $x')" >/dev/null
}

azure_fault() {
  azure_admin fault "$(jq -nc --arg t "$1" --arg k "$2" --argjson c "${3:-1}" \
    --argjson x "${4:-{\}}" '{target: $t, kind: $k, count: $c} + $x')" >/dev/null
}

azure_clear_faults() { azure_admin clear_faults '{}' >/dev/null; }

azure_expire() {
  azure_admin expire "$(jq -nc --arg c "$1" --argjson i "${2:-0}" '{client_id: $c, in: $i}')" >/dev/null
}

azure_lifetime() {
  azure_admin lifetime "$(jq -nc --arg c "$1" --argjson s "$2" '{client_id: $c, seconds: $s}')" >/dev/null
}

azure_tokens() {
  azure_admin tokens "$(jq -nc --arg c "${1:-}" '{client_id: $c}')" | jq -r '.tokens[]'
}

azure_mark() { AZURE_MARK=$(wc -l <"$AZURE_LOG"); }

azure_since() {
  tail -n "+$((AZURE_MARK + 1))" "$AZURE_LOG" | jq -c "select(${1:-true})"
}

azure_requests() { azure_since "${1:-true}" | wc -l; }

azure_wait_for() {
  local i
  for i in $(seq $(($(scaled "${2:-10}") * 20))); do
    [ "$(azure_requests "$1")" -gt 0 ] && return 0
    sleep 0.05
  done
  return 1
}

azure_no_token_leak() {
  local tok n=0
  while IFS= read -r tok; do
    [ -n "$tok" ] || continue
    no_leak "$tok"
    no_leak "${tok##*.}"
    n=$((n + 1))
  done < <(azure_tokens)
  [ "$n" -gt 0 ] && pass || fail "no token was issued, nothing to look for"
}

azure_make_cert() {
  local name=$1 type=${2:-rsa} dir=$T/input
  mkdir -p "$dir"
  case $type in
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/$name.key" ;;
    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" ;;
  esac 2>/dev/null
  openssl req -x509 -new -key "$dir/$name.key" -subj "/CN=$name" -days 30 \
    -out "$dir/$name.crt" 2>/dev/null || { fail "azure_make_cert $name"; exit 1; }
  cat "$dir/$name.key" "$dir/$name.crt" >"$dir/$name.pem"
  chmod 600 "$dir/$name.key" "$dir/$name.pem"
}

epoch_days() { echo $(( $(date +%s) + $1 * 86400 )); }

# ---- for the tests --------------------------------------------------------

# uuid: a random GUID (client ids, tenants).
uuid() { cat /proc/sys/kernel/random/uuid; }

# kv_secret_client NAME VAULT [ARGS...]: a Key Vault client NAME that
# authenticates with a client secret: a fresh client id registered in the
# double ($AZURE_TENANT) and granted on VAULT, its secret in the manual
# reference NAME-secret, and secretref keyvault add NAME with --tenant,
# --ca-file and ARGS. Sets KV_CLIENT_ID and KV_CLIENT_SECRET.
kv_secret_client() {
  local name=$1 vault=$2; shift 2
  KV_CLIENT_ID=$(uuid)
  KV_CLIENT_SECRET="Sp~$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')!"
  azure_client_secret "$KV_CLIENT_ID" "$KV_CLIENT_SECRET"
  azure_grant "$vault" "$KV_CLIENT_ID"
  expect 0 "$name-secret" sr new "$name-secret" --manual \
    --secret-file "$(input "$name-secret" "$KV_CLIENT_SECRET")"
  expect 0 "$name-add" sr keyvault add "$name" \
    --vault-url "https://$vault.vault.azure.net" --tenant "$AZURE_TENANT" \
    --client-id "$KV_CLIENT_ID" --client-secret-ref "$name-secret" \
    --ca-file "$AZURE_CA" "$@"
}

# kv_value NAME [RUN-NAME]: resolves reference NAME through secretref exec
# into the child's environment, which writes it to $T/input/value.NAME
# (excluded from no_leak); sets $status like run. Prints nothing.
kv_value() {
  local out=$T/input/value.$1
  mkdir -p "$T/input"
  rm -f "$out"
  run "${2:-value-$1}" sr exec --env KV_VALUE="$1" -- \
    sh -c 'printf %s "$KV_VALUE" >"$0"' "$out"
}

# value_is NAME WANT DESCRIPTION: kv_value NAME gave WANT, exit 0.
value_is() {
  kv_value "$1"
  if [ "$status" -eq 0 ] && [ -f "$T/input/value.$1" ] &&
    [ "$(cat "$T/input/value.$1")" == "$2" ]; then
    pass
  else
    fail "$3: $1 resolved with status $status to another value; stderr: $(head -c 400 "$T/$last.err")"
  fi
}

# err_matches REGEX: the last run's standard error matches (grep -Ei).
err_matches() {
  if grep -aqEi -- "$1" "$T/$last.err"; then pass; else
    fail "$last.err does not match /$1/: $(head -c 300 "$T/$last.err")"; fi
}

# now: seconds since the epoch, with a fraction.
now() { date +%s.%N; }

# within LOW HIGH START END DESCRIPTION: END - START is in [LOW, HIGH].
within() {
  if awk -v a="$3" -v b="$4" -v lo="$1" -v hi="$2" \
    'BEGIN { d = b - a; exit !(d >= lo && d <= hi) }'; then
    pass
  else
    fail "$5: took $(awk -v a="$3" -v b="$4" 'BEGIN { printf "%.2f", b - a }') s, want $1-$2 s"
  fi
}
