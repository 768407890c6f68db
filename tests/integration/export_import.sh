#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Export and import: the export carries metadata and public parts only;
# an import into a fresh store brings the references with their secrets
# "not set"; re-import updates metadata and keeps secrets; a malformed file
# is refused in one line and leaves the store byte for byte as it was; an
# import is all or nothing.
source "$(dirname "$0")/../lib/common.sh"
require jq openssl

manual='Export-Manual-Secret-8e1f0b!'
typed='Export-Typed-Secret-4c7d22?'
target_secret='Export-Target-Secret-a93e5f#'
key_password='Export-Key-Password-51bd0c'

# ---- the source store --------------------------------------------------------
expect 0 init sr init
expect 0 add-env sr environments add Staging
expect 0 new-manual sr new db-password --description "orders database" \
  --expires 2099-12-31 --manual <"$(input manual "$manual")"
expect 0 new-typed sr new db-password --environment Staging \
  --description "orders, staging" --manual <"$(input typed "$typed")"
expect 0 new-kv sr new vault-ref --description "from the vault" \
  --environment Production --key-vault vault://main-vault/orders-db/3f2a
expect 0 new-gen sr new sftp-key --generate ed25519 --description "Azure SFTP"
# A key with its certificate, from an encrypted PKCS#8 file.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/input/web.key" \
  -out "$T/input/web.crt" -subj "/CN=export.test" -days 30 2>/dev/null
printf '%s' "$key_password" >"$T/input/key-password"
openssl pkcs8 -topk8 -in "$T/input/web.key" -out "$T/input/web-enc.key" \
  -passout "file:$T/input/key-password" 2>/dev/null
cat "$T/input/web-enc.key" "$T/input/web.crt" >"$T/input/web.pem"
expect 0 new-cert sr new web-cert --certificate "$T/input/web.pem" \
  --password-file "$T/input/key-password" --description "web server"
# A line from the private exponent (not the modulus, which the public key
# shares), to look for everywhere.
key_line=$(sed -n 10p "$T/input/web.key")
enc_key_line=$(sed -n 5p "$T/input/web-enc.key")

# ---- export ------------------------------------------------------------------
expect 0 export sr export
expect 0 export-file sr export --output "$T/export.json"
equal "$(cat "$T/export-file.out")" "" "export --output writes nothing to stdout"
for f in "$T/export.out" "$T/export.json"; do
  jq -e . "$f" >/dev/null && pass || fail "$f is not JSON"
  equal "$(jq -r .format "$f")" secretref-export "format"
  equal "$(jq -r .version "$f")" 1 "version"
  equal "$(jq -r '.references | length' "$f")" 5 "references exported"
  # No field that could hold a secret. key_vault.secret is the name of the
  # Key Vault secret (the locator), the only field allowed that name.
  equal "$(jq -c '[paths | select(.[-1] | type == "string" and
      test("secret|value|password|passphrase|private|sealed|kek|salt"; "i"))
      | select(.[-2:] != ["key_vault", "secret"])]' "$f")" \
    "[]" "no field named like a secret in $f"
  equal "$(jq -r '[.references[] | select(.key_vault) | .key_vault.secret] | join(",")' "$f")" \
    orders-db "key_vault.secret is the locator's secret name"
  lacks "$f" "PRIVATE"
  lacks "$f" "$key_line"
  lacks "$f" "$enc_key_line"
  lacks "$f" "$key_password"
  lacks "$f" "$manual"
  lacks "$f" "$typed"
done
equal "$(jq -S 'del(.exported)' "$T/export.out")" "$(jq -S 'del(.exported)' "$T/export.json")" \
  "stdout and --output export the same"
equal "$(jq -c .environment_types "$T/export.json")" \
  '["Development","Test","Acceptance","Production","Staging"]' "environment types exported"
jq -e '.references[] | select(.name == "web-cert") | .certificate.chain |
  startswith("-----BEGIN CERTIFICATE-----")' "$T/export.json" >/dev/null && pass ||
  fail "the certificate's chain is exported"
jq -e '.references[] | select(.name == "sftp-key") | .certificate.public_key |
  startswith("-----BEGIN PUBLIC KEY-----")' "$T/export.json" >/dev/null && pass ||
  fail "the generated key's public key is exported"
expect 8 export-bad-dir sr export --output "$T/no/such/dir/export.json"
err_contains "$T/no/such/dir/export.json"
one_line "$T/export-bad-dir.err"
expect 0 source-list sr list --json
for ref in sftp-key web-cert; do
  expect 0 "source-pub-$ref" sr pubkey "$ref"
  expect 0 "source-ssh-$ref" sr pubkey "$ref" --format openssh
  expect 0 "source-show-$ref" sr show "$ref" --json
done

# ---- import into a fresh store -----------------------------------------------
export SECRETREF_STORE=$T/target/store.db SECRETREF_KEY_FILE=$T/target-keys/master.key
expect 0 init-target sr init
expect 0 import sr import "$T/export.json"
err_contains "5 references created, 0 updated, 1 environment types added"
one_line "$T/import.err"
expect 0 target-list sr list --json
project='[.[] | {name, description, environment_type, kind, expires}] | sort_by(.name, .environment_type)'
equal "$(jq -c "$project" "$T/target-list.out")" "$(jq -c "$project" "$T/source-list.out")" \
  "the references arrive with their metadata"
expect 0 target-envs sr environments list
out_contains Staging
for spec in db-password: db-password:Staging sftp-key: web-cert:; do
  name=${spec%%:*} env=${spec#*:} opts=()
  [ -n "$env" ] && opts=(--environment "$env")
  expect 0 "target-show-$name-$env" sr "${opts[@]}" show "$name" --json
  equal "$(jq -r .secret "$T/$last.out")" "not set" "$spec arrives not set"
  expect 9 "target-verify-$name-$env" sr "${opts[@]}" verify "$name"
  err_contains "$name: the secret is not set"
  one_line "$T/$last.err"
done
# Key Vault references keep their locator.
expect 0 target-kv sr --environment Production show vault-ref --json
equal "$(jq -c .key_vault "$T/target-kv.out")" \
  '{"client":"main-vault","secret":"orders-db","version":"3f2a"}' "Key Vault locator"
# Certificate references keep their public key (and certificate).
for ref in sftp-key web-cert; do
  expect 0 "target-pub-$ref" sr pubkey "$ref"
  equal "$(cat "$T/target-pub-$ref.out")" "$(cat "$T/source-pub-$ref.out")" "$ref: PEM public key"
  expect 0 "target-ssh-$ref" sr pubkey "$ref" --format openssh
  equal "$(cat "$T/target-ssh-$ref.out")" "$(cat "$T/source-ssh-$ref.out")" "$ref: OpenSSH public key"
  expect 0 "target-show-$ref" sr show "$ref" --json
  equal "$(jq -c .key "$T/target-show-$ref.out")" "$(jq -c .key "$T/source-show-$ref.out")" \
    "$ref: key type and fingerprint"
done
equal "$(jq -c .certificate "$T/target-show-web-cert.out")" \
  "$(jq -c .certificate "$T/source-show-web-cert.out")" "the certificate arrives"
equal "$(jq -r .certificate.subject "$T/target-show-web-cert.out")" CN=export.test \
  "certificate subject"

# Setting the secrets in the target makes them usable.
expect 0 target-set sr set db-password --manual <"$(input target "$target_secret")"
expect 0 target-verify-set sr verify db-password
expect 0 target-set-cert sr set web-cert --certificate "$T/input/web.pem" \
  --password-file "$T/input/key-password"
expect 0 target-verify-cert sr verify web-cert
expect 0 target-pub-after sr pubkey web-cert
equal "$(cat "$T/target-pub-after.out")" "$(cat "$T/source-pub-web-cert.out")" \
  "the same key set in the target"

# Re-import: metadata updated, secrets kept.
jq '(.references[] | select(.name == "db-password" and .environment_type == null)
      | .description) = "orders database, v2"
    | (.references[] | select(.name == "db-password" and .environment_type == null)
      | .expires) = "2098-06-30"' "$T/export.json" >"$T/export-v2.json"
expect 0 reimport sr import "$T/export-v2.json"
err_contains "0 references created, 5 updated, 0 environment types added"
expect 0 reimport-show sr show db-password --json
equal "$(jq -r .description "$T/reimport-show.out")" "orders database, v2" "re-import updates the description"
equal "$(jq -r .expires "$T/reimport-show.out")" 2098-06-30 "re-import updates the expiry"
equal "$(jq -r .secret "$T/reimport-show.out")" set "re-import keeps the secret"
equal "$(jq -r .version "$T/reimport-show.out")" 1 "re-import makes no version"
expect 0 reimport-verify sr verify db-password
expect 0 reimport-verify-cert sr verify web-cert
expect 0 reimport-list sr list --json
equal "$(jq length "$T/reimport-list.out")" 5 "re-import creates no duplicates"
# Import from standard input.
expect 0 import-stdin sr import - <"$T/export-v2.json"
err_contains "0 references created, 5 updated"

# ---- malformed files: refused in one line, store unchanged -------------------
good=$(cat "$T/export.json")
mkdir -p "$T/input/bad"
bad() { printf '%s' "$2" >"$T/input/bad/$1.json"; }
# edit NAME JQ-FILTER: the good export changed by a jq filter.
edit() { jq "$2" <<<"$good" >"$T/input/bad/$1.json"; }
bad truncated "${good:0:$((${#good} / 2))}"
edit format '.format = "other-export"'
edit version-2 '.version = 2'
edit version-string '.version = "1"'
edit field-secret '.references[0].secret = "x"'
edit field-value '.references[0].value = "x"'
edit field-password '.references[0].password = "x"'
edit top-level-field '.secrets = []'
edit vault-field '(.references[] | select(.kind == "key-vault") | .key_vault.value) = "x"'
edit cert-field '(.references[] | select(.name == "sftp-key") | .certificate.private_key) = "x"'
private_pem=$(cat "$T/input/web.key")
edit private-pubkey "(.references[] | select(.name == \"sftp-key\") | .certificate.public_key) = $(jq -Rs . <<<"$private_pem")"
edit private-chain "(.references[] | select(.name == \"web-cert\") | .certificate.chain) = $(jq -Rs . <<<"$private_pem")"
edit wrong-chain '(.references[] | select(.name == "web-cert") | .certificate.chain) = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"'
edit unknown-kind '.references[0].kind = "password"'
edit kind-parts '(.references[] | select(.kind == "key-vault") | .kind) = "manual"'
edit duplicate '.references += [.references[0]]'
edit duplicate-case '.references += [(.references[] | select(.environment_type == "Staging")
  | .environment_type = "STAGING")]'
edit bad-date '.references[0].expires = "2026-02-30"'
edit bad-date-text '.references[0].expires = "tomorrow"'
edit unknown-env '.references[0].environment_type = "Nowhere"'
edit bad-name '.references[0].name = "two\nlines"'
edit long-name ".references[0].name = \"$(printf 'n%.0s' {1..201})\""
edit description-newline '.references[0].description = "one\ntwo"'
edit name-number '.references[0].name = 42'
edit refs-object '.references = {}'
edit no-refs 'del(.references)'
edit not-object '[.]'
edit env-bad '.environment_types += [" padded"]'
bad duplicate-key '{"format": "secretref-export", "format": "secretref-export", "version": 1, "references": []}'
bad not-json 'this is not JSON at all'
bad empty ''
bad binary "$(head -c 300 /dev/urandom | tr -d '\0')"

expect 0 pre-list sr list --json
before=$(store_digest || true)
for f in "$T"/input/bad/*.json "$T/input/bad/nonexistent.json"; do
  name=$(basename "$f" .json)
  expect 8 "bad-$name" sr import "$f"
  err_contains "$f"
  one_line "$T/bad-$name.err"
  equal "$(store_digest)" "$before" "$name: the store is byte for byte unchanged"
done
contains "$T/bad-field-secret.err" 'field "secret" is not allowed'
contains "$T/bad-private-pubkey.err" "private key material"
contains "$T/bad-private-chain.err" "private key material"
contains "$T/bad-format.err" "not a secretref export"
contains "$T/bad-version-2.err" "version is not 1"
contains "$T/bad-unknown-kind.err" 'unknown kind'
contains "$T/bad-duplicate.err" "appears twice"
contains "$T/bad-duplicate-case.err" "appears twice"
contains "$T/bad-bad-date.err" "expires is not a date"
contains "$T/bad-unknown-env.err" "environment type Nowhere is not defined"
contains "$T/bad-not-json.err" "not valid JSON"
contains "$T/bad-empty.err" "not valid JSON"
contains "$T/bad-truncated.err" "not valid JSON"
contains "$T/bad-nonexistent.err" "No such file or directory"
expect 0 post-list sr list --json
equal "$(cat "$T/post-list.out")" "$(cat "$T/pre-list.out")" "no reference changed"

# ---- all or nothing ----------------------------------------------------------
# A file whose third reference is bad creates none of the first two.
jq '.references = [
  {"name": "first-new", "kind": "manual"},
  {"name": "second-new", "kind": "key-vault",
   "key_vault": {"client": "kv", "secret": "s"}},
  {"name": "third-bad", "kind": "manual", "expires": "2026-13-01"}]
  | .environment_types += ["Brand-New"]' <<<"$good" >"$T/input/bad/third.json"
expect 8 third-bad sr import "$T/input/bad/third.json"
err_contains "references[2]"
equal "$(store_digest)" "$before" "a bad third reference changes nothing"
expect 3 third-first sr show first-new
expect 3 third-second sr show second-new
expect 0 third-envs sr environments list
lacks "$T/third-envs.out" Brand-New
# A conflict found only while writing (the third reference exists here as
# another kind) rolls back the two already written.
jq '.references = [
  {"name": "first-new", "kind": "manual"},
  {"name": "second-new", "kind": "manual", "environment_type": "Brand-New"},
  {"name": "web-cert", "kind": "manual"}]
  | .environment_types += ["Brand-New"]' <<<"$good" >"$T/input/bad/conflict.json"
expect 8 conflict sr import "$T/input/bad/conflict.json"
err_contains "web-cert: is a certificate reference here and manual in the file"
one_line "$T/conflict.err"
equal "$(store_digest)" "$before" "a conflict while writing changes nothing"
expect 3 conflict-first sr show first-new
expect 0 conflict-envs sr environments list
lacks "$T/conflict-envs.out" Brand-New
expect 0 conflict-list sr list --json
equal "$(cat "$T/conflict-list.out")" "$(cat "$T/pre-list.out")" "no reference changed"
expect 0 verify-after sr verify db-password

expect 0 audit sr audit
out_contains import
export SECRETREF_STORE=$T/store/store.db SECRETREF_KEY_FILE=$T/keys/master.key
expect 0 audit-source sr audit
for s in "$manual" "$typed" "$target_secret" "$key_password" "$key_line" \
  "$enc_key_line"; do
  no_leak "$s"
done
