#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key Vault clients against the Azure double (tests/fixtures/azure_double.py):
# each way to authenticate resolves a secret (client secret; client
# certificate with PS256 and x5t#S256, and with RS256 and x5t; a user- and
# a system-assigned managed identity), with the token requests checked
# field by field; tenant discovery from the vault's challenge, and a
# challenge for another resource refused before any token is sent; each
# failure (wrong client secret, wrong certificate, unknown client, unknown
# tenant, missing role, firewall, missing secret, untrusted server) as its
# own one-line error naming client, vault and secret, exit 7; keyvault
# list, show and delete (refused while used). No client secret, value or
# token in any output or in the store.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/azure.sh"
require jq openssl base64 date sh

expect 0 init sr init
azure_start
VAULT=https://myvault.vault.azure.net
TOKEN_URL=https://login.microsoftonline.com/$AZURE_TENANT/oauth2/v2.0/token

value='Kv-Value-Orders-db-2f8c41!'
azure_secret myvault orders-db "$value" >/dev/null

# b64url_digest ALG CERT: the x5t (sha1) or x5t#S256 (sha256) of a PEM
# certificate.
b64url_digest() {
  openssl x509 -in "$2" -outform DER | openssl dgst "-$1" -binary | base64 -w0 |
    tr '+/' '-_' | tr -d '='
}

# ---- client secret -------------------------------------------------------------
kv_secret_client kv-secret myvault
secret_id=$KV_CLIENT_ID
client_secret=$KV_CLIENT_SECRET
expect 0 new-ref sr new orders --key-vault kv-secret --vault-secret orders-db
azure_mark
expect 0 verify-secret sr verify orders
out_contains "orders: ok"
value_is orders "$value" "client secret"
azure_since '.kind=="token"' | head -1 >"$T/input/token-secret.json"
equal "$(jq -r .status "$T/input/token-secret.json")" 200 "token by client secret"
equal "$(jq -r .host "$T/input/token-secret.json")" login.microsoftonline.com "token host"
equal "$(jq -r .path "$T/input/token-secret.json")" "/$AZURE_TENANT/oauth2/v2.0/token" "token path"
equal "$(jq -r .method "$T/input/token-secret.json")" POST "token method"
# The form, decoded by the double's own parser (python).
form() {
  jq -r .body "$1" | /usr/bin/python3 -c '
import sys, urllib.parse, json
print(json.dumps(dict(urllib.parse.parse_qsl(sys.stdin.read().strip()))))'
}
form "$T/input/token-secret.json" >"$T/input/form-secret.json"
equal "$(jq -r .grant_type "$T/input/form-secret.json")" client_credentials "grant_type"
equal "$(jq -r .scope "$T/input/form-secret.json")" https://vault.azure.net/.default "scope"
equal "$(jq -r .client_id "$T/input/form-secret.json")" "$secret_id" "client_id"
equal "$(jq -r 'has("client_assertion")' "$T/input/form-secret.json")" false "no assertion beside a secret"
equal "$(azure_requests '.kind=="secret" and .path=="/secrets/orders-db" and .status==200 and (.headers.Authorization // "" | startswith("Bearer ")) and (.query | test("api-version=7\\.4"))')" 2 \
  "one authorized GET per resolution, api-version 7.4"
equal "$(azure_requests '.kind=="secret" and .headers.Authorization == null')" 0 \
  "with --tenant, no unauthenticated request"

# vault://CLIENT/SECRET names the same secret.
expect 0 new-uri sr new orders-uri --key-vault vault://kv-secret/orders-db
value_is orders-uri "$value" "vault:// reference"

# ---- client certificate: PS256 with x5t#S256 (the default) ---------------------
cert_id=$(uuid)
azure_make_cert sp-cert rsa
azure_client_cert "$cert_id" "$T/input/sp-cert.crt"
azure_grant myvault "$cert_id"
expect 0 new-cert sr new sp-cert --certificate "$T/input/sp-cert.pem"
expect 0 add-cert sr keyvault add kv-cert --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$cert_id" --client-certificate-ref sp-cert --ca-file "$AZURE_CA"
expect 0 new-ref-cert sr new orders-cert --key-vault kv-cert --vault-secret orders-db
azure_mark
t0=$(date +%s)
expect 0 verify-cert sr verify orders-cert
value_is orders-cert "$value" "client certificate, PS256"
azure_since '.kind=="token"' >"$T/input/token-ps.json"
equal "$(jq -s 'map(select(.status==200)) | length' "$T/input/token-ps.json")" 2 \
  "two resolutions, two assertions accepted (new jti each)"
A=$T/input/assertion-ps.json
head -1 "$T/input/token-ps.json" | jq .assertion >"$A"
equal "$(jq -r .header.alg "$A")" PS256 "default algorithm"
equal "$(jq -r '.header["x5t#S256"]' "$A")" "$(b64url_digest sha256 "$T/input/sp-cert.crt")" "x5t#S256"
equal "$(jq -r '.header | has("x5t")' "$A")" false "no x5t beside x5t#S256"
equal "$(jq -r .salt "$A")" digest "PSS salt length = digest length"
equal "$(jq -r .claims.aud "$A")" "$TOKEN_URL" "aud"
equal "$(jq -r .claims.iss "$A")" "$cert_id" "iss"
equal "$(jq -r .claims.sub "$A")" "$cert_id" "sub"
equal "$(jq -r '.claims.exp - .claims.iat' "$A")" 600 "lifetime 600 s"
jq -e --argjson t "$t0" '.claims.nbf >= $t - 5 and .claims.nbf <= $t + 60' "$A" >/dev/null &&
  pass || fail "nbf is now: $(jq -c .claims "$A")"
equal "$(jq -s 'map(.assertion.claims.jti) | unique | length' "$T/input/token-ps.json")" 2 "jti unique"
form <(head -1 "$T/input/token-ps.json") >"$T/input/form-ps.json"
equal "$(jq -r .client_assertion_type "$T/input/form-ps.json")" \
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer "client_assertion_type"
equal "$(jq -r 'has("client_secret")' "$T/input/form-ps.json")" false "no client secret beside an assertion"

# ---- client certificate: RS256 with x5t ----------------------------------------
expect 0 add-cert-rs sr keyvault add kv-cert-rs --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$cert_id" --client-certificate-ref sp-cert --ca-file "$AZURE_CA" --assertion rs256
expect 0 new-ref-rs sr new orders-rs --key-vault vault://kv-cert-rs/orders-db
azure_mark
value_is orders-rs "$value" "client certificate, RS256"
azure_since '.kind=="token"' | head -1 | jq .assertion >"$T/input/assertion-rs.json"
A=$T/input/assertion-rs.json
equal "$(jq -r .header.alg "$A")" RS256 "--assertion rs256"
equal "$(jq -r .header.x5t "$A")" "$(b64url_digest sha1 "$T/input/sp-cert.crt")" "x5t"
equal "$(jq -r '.header | has("x5t#S256")' "$A")" false "no x5t#S256 beside x5t"
expect 2 bad-assertion sr keyvault add kv-bad-alg --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$cert_id" --client-certificate-ref sp-cert --assertion es256

# ---- managed identity: user-assigned (client_id) at the default endpoint --------
mi_id=$(uuid)
azure_identity "$mi_id" user
azure_grant myvault "$mi_id"
expect 0 add-mi sr keyvault add kv-mi --vault-url "$VAULT" --client-id "$mi_id" \
  --managed-identity --ca-file "$AZURE_CA"
expect 0 new-ref-mi sr new orders-mi --key-vault vault://kv-mi/orders-db
azure_mark
value_is orders-mi "$value" "user-assigned managed identity"
azure_since '.kind=="imds"' | head -1 >"$T/input/imds.json"
equal "$(jq -r .status "$T/input/imds.json")" 200 "IMDS token"
equal "$(jq -r .host "$T/input/imds.json")" 169.254.169.254 "default IMDS address"
equal "$(jq -r .port "$T/input/imds.json")" plain "IMDS over plain HTTP, as on a VM"
equal "$(jq -r .method "$T/input/imds.json")" GET "IMDS method"
equal "$(jq -r '.headers.Metadata // .headers.metadata' "$T/input/imds.json")" true "Metadata: true"
imds_query() {
  jq -r .query "$T/input/imds.json" | /usr/bin/python3 -c '
import sys, urllib.parse, json
print(json.dumps(dict(urllib.parse.parse_qsl(sys.stdin.read().strip()))))' | jq -r ".[\"$1\"]"
}
equal "$(imds_query api-version)" 2018-02-01 "IMDS api-version"
equal "$(imds_query resource)" https://vault.azure.net "IMDS resource"
equal "$(imds_query client_id)" "$mi_id" "user-assigned identity by client_id"
equal "$(azure_requests '.kind=="token"')" 0 "a managed identity never calls Entra ID"

# ---- managed identity: system-assigned, at an --authority ----------------------
sys_id=$(uuid)
azure_identity "$sys_id" system
azure_grant myvault "$sys_id"
expect 0 add-sys sr keyvault add kv-sys --vault-url "$VAULT" --managed-identity \
  --authority "$AZURE_IMDS_URL" --ca-file "$AZURE_CA"
expect 0 new-ref-sys sr new orders-sys --key-vault vault://kv-sys/orders-db
azure_mark
value_is orders-sys "$value" "system-assigned managed identity"
azure_since '.kind=="imds"' | head -1 >"$T/input/imds.json"
equal "$(jq -r .host "$T/input/imds.json")" "127.0.0.1:$AZURE_PLAIN_PORT" "--authority for IMDS"
equal "$(imds_query client_id)" null "system-assigned: no client_id"
expect 2 mi-with-ref sr keyvault add kv-mi-ref --vault-url "$VAULT" --managed-identity \
  --client-secret-ref kv-secret-secret

# ---- tenant discovery ----------------------------------------------------------
expect 0 add-disc sr keyvault add kv-disc --vault-url "$VAULT" --client-id "$secret_id" \
  --client-secret-ref kv-secret-secret --ca-file "$AZURE_CA"
expect 0 new-ref-disc sr new orders-disc --key-vault vault://kv-disc/orders-db
azure_mark
value_is orders-disc "$value" "tenant discovered from the challenge"
equal "$(azure_since | jq -r '"\(.kind):\(.status):\(.headers.Authorization != null)"' | paste -sd' ')" \
  "secret:401:false token:200:false secret:200:true" "challenge, token for its tenant, then the secret"
equal "$(azure_requests ".kind==\"token\" and .path==\"/$AZURE_TENANT/oauth2/v2.0/token\"")" 1 \
  "the token came from the challenge's tenant"

# A challenge whose resource is not the vault's domain: no token is sent.
azure_vault othervault '{"challenge_resource": "https://vault.azure.net.evil.example"}'
azure_grant othervault "$secret_id"
azure_secret othervault orders-db "$value" >/dev/null
expect 0 add-evil sr keyvault add kv-evil --vault-url https://othervault.vault.azure.net \
  --client-id "$secret_id" --client-secret-ref kv-secret-secret --ca-file "$AZURE_CA"
expect 0 new-ref-evil sr new orders-evil --key-vault vault://kv-evil/orders-db
azure_mark
expect 7 verify-evil sr verify orders-evil
one_line "$T/verify-evil.err"
err_contains "kv-evil"
err_contains "othervault"
err_matches "resource"
equal "$(azure_requests '.kind=="token"')" 0 "no token request after a foreign challenge"
equal "$(azure_requests '.headers.Authorization != null')" 0 "no token sent to the vault"

# A challenge naming another authority host: the client secret goes to the
# configured authority (login.microsoftonline.com) or nowhere, never to a
# host the vault names (Azure SDKs take only the tenant from a challenge).
azure_vault othervault "{\"challenge_resource\": \"https://vault.azure.net\", \"challenge_authority\": \"https://localhost:$AZURE_PORT/$AZURE_TENANT\"}"
azure_mark
run verify-authority sr verify orders-evil
equal "$(azure_requests '.kind=="token" and .host != "login.microsoftonline.com"')" 0 \
  "no credential sent to the authority a challenge names"
azure_vault othervault '{"challenge_resource": null, "challenge_authority": null}'

# ---- failures: each its own clear line, exit 7 -----------------------------------
# fails NAME REF CODE: verify REF exits 7 with one line naming the client,
# the vault, the secret and CODE.
fails() {
  local name=$1 ref=$2 code=$3 client=$4
  azure_mark
  expect 7 "$name" sr verify "$ref"
  one_line "$T/$name.err"
  err_contains "$code"
  err_contains "$client"
  err_contains "myvault.vault.azure.net"
  err_contains "orders-db"
}

# A wrong client secret.
wrong_secret='Wrong-Client-Secret-9d3e77~'
expect 0 new-wrong sr new wrong-secret --manual --secret-file "$(input wrong "$wrong_secret")"
expect 0 add-wrong sr keyvault add kv-wrong --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$secret_id" --client-secret-ref wrong-secret --ca-file "$AZURE_CA"
expect 0 new-ref-wrong sr new orders-wrong --key-vault vault://kv-wrong/orders-db
fails wrong-secret orders-wrong AADSTS7000215 kv-wrong
err_matches "client secret"
equal "$(azure_requests '.kind=="token"')" 1 "a refused secret is not retried"
equal "$(azure_requests '.kind=="secret"')" 0 "no vault request without a token"

# A certificate the application does not have.
azure_make_cert other-cert rsa
expect 0 new-other-cert sr new other-cert --certificate "$T/input/other-cert.pem"
expect 0 add-other sr keyvault add kv-other-cert --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$cert_id" --client-certificate-ref other-cert --ca-file "$AZURE_CA"
expect 0 new-ref-other sr new orders-other-cert --key-vault vault://kv-other-cert/orders-db
fails wrong-cert orders-other-cert AADSTS700027 kv-other-cert
err_matches "certificate"

# An application unknown to the tenant, and a tenant that does not exist.
expect 0 add-unknown sr keyvault add kv-unknown --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$(uuid)" --client-secret-ref kv-secret-secret --ca-file "$AZURE_CA"
expect 0 new-ref-unknown sr new orders-unknown --key-vault vault://kv-unknown/orders-db
fails unknown-client orders-unknown AADSTS700016 kv-unknown
expect 0 add-tenant sr keyvault add kv-tenant --vault-url "$VAULT" --tenant "$(uuid)" \
  --client-id "$secret_id" --client-secret-ref kv-secret-secret --ca-file "$AZURE_CA"
expect 0 new-ref-tenant sr new orders-tenant --key-vault vault://kv-tenant/orders-db
fails unknown-tenant orders-tenant AADSTS90002 kv-tenant

# No role on the vault: a token, then Forbidden.
norole_id=$(uuid)
norole_secret='No-Role-Secret-0f4a2c!'
azure_client_secret "$norole_id" "$norole_secret"
expect 0 new-norole sr new norole-secret --manual --secret-file "$(input norole "$norole_secret")"
expect 0 add-norole sr keyvault add kv-norole --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$norole_id" --client-secret-ref norole-secret --ca-file "$AZURE_CA"
expect 0 new-ref-norole sr new orders-norole --key-vault vault://kv-norole/orders-db
fails no-role orders-norole Forbidden kv-norole
equal "$(azure_requests '.kind=="secret" and .status==403')" 1 "403 once"

# The vault's firewall.
azure_vault myvault '{"firewall": true}'
fails firewall orders ForbiddenByFirewall kv-secret
azure_vault myvault '{"firewall": false}'

# A secret the vault does not have.
expect 0 new-ref-missing sr new orders-missing --key-vault vault://kv-secret/no-such-secret
azure_mark
expect 7 missing sr verify orders-missing
one_line "$T/missing.err"
err_contains SecretNotFound
err_contains no-such-secret
err_contains kv-secret

# A server the test CA vouches for, but no --ca-file: certificate checks are
# on, nothing is sent.
expect 0 add-noca sr keyvault add kv-noca --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$secret_id" --client-secret-ref kv-secret-secret
expect 0 new-ref-noca sr new orders-noca --key-vault vault://kv-noca/orders-db
azure_mark
SECRETREF_KEYVAULT_DEADLINE=3 expect 7 noca sr verify orders-noca
one_line "$T/noca.err"
err_contains kv-noca
equal "$(azure_requests '.kind=="token" or .kind=="secret"')" 0 "nothing sent to an untrusted server"
[ "$(azure_requests '.kind=="tls-error"')" -gt 0 ] && pass || fail "the double saw no refused handshake"

# ---- keyvault add, list, show, delete -------------------------------------------
expect 9 add-dup sr keyvault add kv-secret --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id "$secret_id" --client-secret-ref kv-secret-secret
expect 2 add-not-guid sr keyvault add kv-x --vault-url "$VAULT" --tenant "$AZURE_TENANT" \
  --client-id not-a-guid --client-secret-ref kv-secret-secret
expect 2 add-http sr keyvault add kv-x --vault-url http://myvault.vault.azure.net \
  --tenant "$AZURE_TENANT" --client-id "$secret_id" --client-secret-ref kv-secret-secret
expect 2 add-two-creds sr keyvault add kv-x --vault-url "$VAULT" --client-id "$secret_id" \
  --client-secret-ref kv-secret-secret --managed-identity
expect 9 add-cert-as-secret sr keyvault add kv-x --vault-url "$VAULT" --client-id "$secret_id" \
  --client-secret-ref sp-cert
expect 9 add-secret-as-cert sr keyvault add kv-x --vault-url "$VAULT" --client-id "$secret_id" \
  --client-certificate-ref kv-secret-secret
expect 3 add-missing-ref sr keyvault add kv-x --vault-url "$VAULT" --client-id "$secret_id" \
  --client-secret-ref no-such-ref

expect 0 list sr keyvault list
for c in kv-secret kv-cert kv-cert-rs kv-mi kv-sys kv-disc; do out_contains "$c"; done
out_contains "$VAULT"
expect 0 list-json sr keyvault list --json
equal "$(jq length "$T/list-json.out")" 13 "clients listed"
kvj() { jq -r --arg n "$1" ".[] | select(.name == \$n) | $2" "$T/list-json.out"; }
equal "$(kvj kv-secret .vault_url)" "$VAULT" "vault_url"
equal "$(kvj kv-secret .tenant)" "$AZURE_TENANT" "tenant"
equal "$(kvj kv-secret .client_id)" "$secret_id" "client_id"
equal "$(kvj kv-secret .credential_ref)" kv-secret-secret "credential_ref"
equal "$(kvj kv-cert-rs .assertion)" rs256 "assertion"
equal "$(kvj kv-disc .tenant)" null "a discovered tenant is not stored"
expect 0 show sr keyvault show kv-cert --json
equal "$(jq -r .credential_ref "$T/show.out")" sp-cert "show --json"
equal "$(jq -r .ca_file "$T/show.out")" "$AZURE_CA" "ca_file"
expect 0 show-text sr keyvault show kv-mi
out_contains "$VAULT"
out_contains "$mi_id"
expect 3 show-missing sr keyvault show no-such-client
one_line "$T/show-missing.err"

# Refused while used: by a key-vault reference (the client), by a client
# (its secret reference).
expect 9 delete-used sr keyvault delete kv-secret
one_line "$T/delete-used.err"
err_contains kv-secret
expect 9 delete-cred sr delete kv-secret-secret
expect 0 verify-after sr verify orders
expect 9 delete-noca sr keyvault delete kv-noca
expect 0 delete-ref sr delete orders-noca
expect 0 delete-unused sr keyvault delete kv-noca
expect 3 delete-again sr keyvault delete kv-noca
expect 0 list-after sr keyvault list --json
equal "$(jq length "$T/list-after.out")" 12 "one client fewer"
expect 0 audit sr audit

# Nothing secret anywhere: outputs, errors, audit, store.
no_leak "$value"
no_leak "$client_secret"
no_leak "$wrong_secret"
no_leak "$norole_secret"
azure_no_token_leak
