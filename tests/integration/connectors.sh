#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Connectors: add, list, show and delete with every field and the --azure
# shortcut; each invalid field refused in one line with its exit status;
# "where used" in show, and delete of a reference in use refused; export
# and import of connectors, all or nothing, with no secret in the export.
source "$(dirname "$0")/../lib/common.sh"
require jq ssh-keygen

password='Connector-Password-3d8e1a!'
vault_note='Connector-Other-Secret-c25f70?'

expect 0 init sr init
expect 0 new-key sr new sftp-key --generate ec-p256 --description "Azure SFTP"
expect 0 new-key2 sr new other-key --generate ed25519
expect 0 new-pass sr new sftp-pass --manual <"$(input password "$password")"
expect 0 new-other sr new other-pass --manual <"$(input other "$vault_note")"
expect 0 new-kv sr new kv-pass --key-vault vault://main-vault/sftp-password
# A real host key fingerprint, as ssh-keygen -l prints it.
ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/hostkey" >/dev/null
fp=$(ssh-keygen -l -f "$T/hostkey.pub" | cut -d' ' -f2)
case $fp in SHA256:*) pass ;; *) fail "ssh-keygen fingerprint: $fp" ;; esac

# ---- add, list, show with every field ------------------------------------------
expect 0 add-full sr connector add prod --host sftp.example.com --port 2222 \
  --user alice --key-ref sftp-key --password-ref sftp-pass --host-key "$fp" \
  --folder /upload/in
err_contains "prod: connector added"
one_line "$T/add-full.err"
expect 0 show-full sr connector show prod --json
equal "$(jq -c 'del(.created)' "$T/show-full.out")" \
  "$(jq -cn --arg fp "$fp" '{name: "prod", kind: "sftp", host: "sftp.example.com",
    port: 2222, user: "alice", key_uri: "secretref:sftp-key",
    password_ref: "sftp-pass", host_key: $fp, folder: "/upload/in"}')" \
  "every field shown"
jq -e '.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' "$T/show-full.out" >/dev/null &&
  pass || fail "created is a time"
expect 0 show-text sr connector show prod
out_contains "host: sftp.example.com"
out_contains "port: 2222"
out_contains "host_key: $fp"
out_contains "folder: /upload/in"

# --key with a URI, a password only, a pkcs11 URI, a file, a relative folder.
expect 0 add-uri sr connector add by-uri --host 127.0.0.1 --user bob \
  --key secretref:other-key
expect 0 add-pass sr connector add by-pass --host h.example --user carol \
  --password-ref kv-pass --folder relative/dir
expect 0 add-pkcs11 sr connector add by-pkcs11 --host h.example --user dave \
  --key 'pkcs11:token=secretref;object=sftp-key'
expect 0 add-file sr connector add by-file --host h.example --user erin \
  --key "$T/hostkey"
expect 0 show-pass sr connector show by-pass --json
equal "$(jq -r .port "$T/show-pass.out")" 22 "port defaults to 22"
equal "$(jq -r .key_uri "$T/show-pass.out")" null "no key"
equal "$(jq -r .folder "$T/show-pass.out")" relative/dir "relative folder"

# --azure: host ACCOUNT.blob.core.windows.net, port 22, user as given.
expect 0 add-azure sr connector add azure --azure myaccount.container1.alice \
  --key-ref sftp-key --host-key "$fp"
expect 0 show-azure sr connector show azure --json
equal "$(jq -r .host "$T/show-azure.out")" myaccount.blob.core.windows.net "azure host"
equal "$(jq -r .port "$T/show-azure.out")" 22 "azure port"
equal "$(jq -r .user "$T/show-azure.out")" myaccount.container1.alice "azure user"
expect 0 add-azure2 sr connector add azure-home --azure myaccount.bob \
  --password-ref sftp-pass
expect 0 show-azure2 sr connector show azure-home --json
equal "$(jq -r .user "$T/show-azure2.out")" myaccount.bob "azure user without container"

expect 0 list sr connector list
for name in prod by-uri by-pass by-pkcs11 by-file azure azure-home; do
  out_contains "$name "
done
out_contains "key secretref:sftp-key, password-ref sftp-pass"
expect 0 list-json sr connector list --json
equal "$(jq -r '[.[].name] | join(",")' "$T/list-json.out")" \
  azure,azure-home,by-file,by-pass,by-pkcs11,by-uri,prod "connectors listed by name"
equal "$(jq -c '.[] | select(.name == "prod") | del(.created)' "$T/list-json.out")" \
  "$(jq -c 'del(.created)' "$T/show-full.out")" "list --json has every field"

for sub in "" add list show delete; do
  expect 0 "help-$sub" sr connector $sub --help
  out_contains "usage: secretref connector"
done
contains "$T/help-add.out" "--azure"
contains "$T/help-add.out" "--host-key"
expect 0 top-help sr --help
out_contains connector

# ---- validation: each refused in one line, nothing added -----------------------
# bad STATUS NAME TEXT ARGS...: connector add NAME ARGS fails with STATUS
# and one line of standard error holding TEXT.
bad() {
  local want=$1 name=$2 text=$3; shift 3
  expect "$want" "bad-$name" sr connector add "$@"
  err_contains "$text"
  one_line "$T/bad-$name.err"
}
before=$(store_digest || true)
bad 9 taken "prod: a connector of this name already exists" \
  prod --host h.example --user u --key-ref sftp-key
bad 2 no-host "x: the host is missing" x --user u --key-ref sftp-key
bad 2 empty-host "x: the host is missing" x --host '' --user u --key-ref sftp-key
bad 2 space-host "x: the host has a space" x --host 'a b' --user u --key-ref sftp-key
bad 2 ctl-host "x: the host has a space or control character" \
  x --host $'a\tb' --user u --key-ref sftp-key
bad 2 no-user "x: the user is missing" x --host h.example --key-ref sftp-key
bad 2 ctl-user "x: the user has a control character" \
  x --host h.example --user $'u\x01' --key-ref sftp-key
bad 2 port-zero "x: --port 0 is not a number in 1..65535" \
  x --host h.example --port 0 --user u --key-ref sftp-key
bad 2 port-big "x: --port 65536 is not a number in 1..65535" \
  x --host h.example --port 65536 --user u --key-ref sftp-key
bad 2 port-text "x: --port ssh is not a number" \
  x --host h.example --port ssh --user u --key-ref sftp-key
bad 2 no-auth "x: give a key URI, a password reference or both" \
  x --host h.example --user u
bad 3 missing-key "x: the key reference nope does not exist" \
  x --host h.example --user u --key-ref nope
bad 3 missing-key-uri "x: the key reference nope does not exist" \
  x --host h.example --user u --key secretref:nope
bad 3 missing-pass "x: the password reference nope does not exist" \
  x --host h.example --user u --password-ref nope
bad 9 wrong-kind-key "x: the key reference sftp-pass is a manual reference, not a certificate reference" \
  x --host h.example --user u --key-ref sftp-pass
bad 9 wrong-kind-pass "x: the password reference sftp-key is a certificate reference, not a manual or key-vault reference" \
  x --host h.example --user u --password-ref sftp-key
bad 2 pin-value "x: the pkcs11 URI has a pin-value" \
  x --host h.example --user u --key 'pkcs11:object=k?pin-value=1234'
bad 2 scheme "x: key URI scheme vault: is not one of" \
  x --host h.example --user u --key vault://main-vault/key
bad 2 bad-ref-uri "x: secretref:a%zz is not a valid secretref:NAME URI" \
  x --host h.example --user u --key 'secretref:a%zz'
bad 2 key-newline "x: the key URI is longer than 4096 bytes or has a control character" \
  x --host h.example --user u --key $'-----BEGIN PRIVATE KEY-----\nMII'
bad 2 host-key-short "x: the host key is not a SHA256: fingerprint" \
  x --host h.example --user u --key-ref sftp-key --host-key SHA256:abc
bad 2 host-key-md5 "x: the host key is not a SHA256: fingerprint" \
  x --host h.example --user u --key-ref sftp-key \
  --host-key MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48
bad 2 host-key-padded "x: the host key is not a SHA256: fingerprint" \
  x --host h.example --user u --key-ref sftp-key --host-key "${fp}="
bad 2 folder-empty "x: the folder is empty" \
  x --host h.example --user u --key-ref sftp-key --folder ''
bad 2 folder-ctl "x: the folder is empty, longer than 4096 bytes or has a control character" \
  x --host h.example --user u --key-ref sftp-key --folder $'/a\nb'
bad 2 bad-name "connector name starts or ends with a space" \
  ' x' --host h.example --user u --key-ref sftp-key
bad 2 azure-bad "--azure MyAccount.alice: not ACCOUNT[.CONTAINER].LOCALUSER" \
  x --azure MyAccount.alice --key-ref sftp-key
bad 2 azure-one-part "--azure myaccount: not ACCOUNT[.CONTAINER].LOCALUSER" \
  x --azure myaccount --key-ref sftp-key
bad 2 azure-four-parts "not ACCOUNT[.CONTAINER].LOCALUSER" \
  x --azure myaccount.a.b.c --key-ref sftp-key
# Option conflicts are usage errors (with a hint to --help).
expect 2 azure-host sr connector add x --azure myaccount.alice --host h --key-ref sftp-key
err_contains "--azure sets the host, port and user"
expect 2 key-both sr connector add x --host h --user u --key-ref sftp-key \
  --key secretref:sftp-key
err_contains "give --key or --key-ref, not both"
expect 2 unknown-option sr connector add x --host h --user u --bogus
# getopt would take --password for --password-ref: refused, and the value
# is not echoed.
expect 2 password-option sr connector add x --host h --user u --password "$password"
err_contains "unknown option --password"
lacks "$T/password-option.err" "$password"
expect 2 password-option-eq sr connector add x --host h --user u "--password=$password"
lacks "$T/password-option-eq.err" "$password"
expect 2 no-action sr connector
expect 2 bad-action sr connector rename a b
equal "$(store_digest)" "$before" "no refused add changed the store"
expect 3 show-missing sr connector show x
err_contains "x: no such connector"
one_line "$T/show-missing.err"
expect 3 delete-missing sr connector delete x
err_contains "x: no such connector"
one_line "$T/delete-missing.err"

# ---- where used, and delete refused while used ---------------------------------
expect 0 used-key sr show sftp-key --json
jq -e '.used_by | contains("connector prod") and contains("connector azure")' \
  "$T/used-key.out" >/dev/null && pass || fail "used_by of sftp-key: $(cat "$T/used-key.out")"
jq -e '.used_by | contains("by-pkcs11") | not' "$T/used-key.out" >/dev/null && pass ||
  fail "a pkcs11: URI does not count as a use of the reference"
expect 0 used-text sr show sftp-key
out_contains "used_by: connector"
expect 0 used-pass sr show sftp-pass --json
equal "$(jq -r .used_by "$T/used-pass.out" | tr ',' '\n' | sed 's/^ //' | sort | paste -sd,)" \
  "connector azure-home,connector prod" "used_by of the password reference"
expect 0 used-other sr show other-key --json
equal "$(jq -r .used_by "$T/used-other.out")" "connector by-uri" "a --key secretref: URI counts"
expect 0 unused sr show other-pass --json
equal "$(jq -r .used_by "$T/unused.out")" null "an unused reference has no used_by"

expect 9 delete-used sr delete sftp-pass
err_contains "sftp-pass: in use by"
err_contains "connector prod"
err_contains "connector azure-home"
one_line "$T/delete-used.err"
expect 9 delete-used-key sr delete other-key
err_contains "other-key: in use by connector by-uri"
expect 0 still-there sr show sftp-pass
expect 0 delete-c1 sr connector delete azure-home
err_contains "azure-home: connector deleted"
expect 9 delete-used-again sr delete sftp-pass
err_contains "in use by connector prod"
lacks "$T/delete-used-again.err" azure-home
expect 0 delete-c2 sr connector delete by-uri
expect 0 delete-unused sr delete other-key
expect 3 other-gone sr show other-key
expect 0 audit sr audit --json
equal "$(jq '[.[] | select(.action == "add-connector")] | length' "$T/audit.out")" 7 \
  "each add audited"
equal "$(jq -r '[.[] | select(.action == "delete-connector") | .detail] | join(",")' "$T/audit.out")" \
  "azure-home,by-uri" "each delete audited"

# ---- export: the connectors, and no secret -------------------------------------
expect 0 export sr export --output "$T/export.json"
equal "$(jq '.connectors | length' "$T/export.json")" 5 "connectors exported"
equal "$(jq -c '.connectors[] | select(.name == "prod")' "$T/export.json")" \
  "$(jq -c 'del(.created)' "$T/show-full.out")" "every field but created exported"
equal "$(jq '[.connectors[] | select(has("created"))] | length' "$T/export.json")" 0 \
  "created is not exported"
equal "$(jq -r .version "$T/export.json")" 1 "format version stays 1"
# No field named like a secret but the locator's secret name and the
# connectors' password_ref, which names a reference.
equal "$(jq -c '[paths | select(.[-1] | type == "string" and
    test("secret|value|password|passphrase|private|sealed|kek|salt"; "i"))
    | select(.[-2:] != ["key_vault", "secret"] and .[-1] != "password_ref")]' \
    "$T/export.json")" "[]" "no field named like a secret"
lacks "$T/export.json" "$password"
lacks "$T/export.json" "$vault_note"
lacks "$T/export.json" PRIVATE

# ---- import into a fresh store ---------------------------------------------------
source_store=$SECRETREF_STORE source_key=$SECRETREF_KEY_FILE
export SECRETREF_STORE=$T/target/store.db SECRETREF_KEY_FILE=$T/target-keys/master.key
expect 0 init-target sr init
expect 0 import sr import "$T/export.json"
err_contains "5 connectors created, 0 updated"
one_line "$T/import.err"
expect 0 target-list sr connector list --json
equal "$(jq -c '[.[] | del(.created)]' "$T/target-list.out")" \
  "$(jq -c '.connectors' "$T/export.json")" "the connectors arrive with every field"
expect 0 target-used sr show sftp-key --json
jq -e '.used_by | contains("connector prod")' "$T/target-used.out" >/dev/null && pass ||
  fail "where used works in the target"
equal "$(jq -r .secret "$T/target-used.out")" "not set" "the reference arrives not set"
expect 9 target-delete-used sr delete sftp-pass
err_contains "in use by connector prod"
# Re-import: existing connectors take the file's fields.
jq '(.connectors[] | select(.name == "prod") | .port) = 2200
    | (.connectors[] | select(.name == "prod") | .folder) = null' \
  "$T/export.json" >"$T/export-v2.json"
expect 0 reimport sr import "$T/export-v2.json"
err_contains "0 connectors created, 5 updated"
expect 0 reimport-show sr connector show prod --json
equal "$(jq -r .port "$T/reimport-show.out")" 2200 "re-import updates the port"
equal "$(jq -r .folder "$T/reimport-show.out")" null "re-import clears the folder"
equal "$(jq -r .created "$T/reimport-show.out")" \
  "$(jq -r '.[] | select(.name == "prod") | .created' "$T/target-list.out")" \
  "re-import keeps the creation time"
# A connector whose reference comes in the same file, into an empty store.
export SECRETREF_STORE=$T/target2/store.db SECRETREF_KEY_FILE=$T/target2-keys/master.key
expect 0 init-target2 sr init
jq '.connectors = [.connectors[] | select(.name == "azure")]
    | .references = [.references[] | select(.name == "sftp-key")]' \
  "$T/export.json" >"$T/one.json"
expect 0 import-one sr import "$T/one.json"
err_contains "1 references created"
err_contains "1 connectors created"

# ---- import refused: store unchanged ----------------------------------------------
export SECRETREF_STORE=$T/target/store.db SECRETREF_KEY_FILE=$T/target-keys/master.key
good=$(cat "$T/export.json")
mkdir -p "$T/input/bad"
edit() { jq "$2" <<<"$good" >"$T/input/bad/$1.json"; }
edit missing-ref '.connectors += [{"name": "new-one", "host": "h.example",
  "user": "u", "key_uri": "secretref:not-here"}]'
edit missing-pass-ref '.connectors += [{"name": "new-one", "host": "h.example",
  "user": "u", "password_ref": "not-here"}]'
edit wrong-kind '.connectors += [{"name": "new-one", "host": "h.example",
  "user": "u", "password_ref": "sftp-key"}]'
edit field-password '(.connectors[] | select(.name == "prod") | .password) = "x"'
edit field-created '(.connectors[] | select(.name == "prod") | .created) = "2026-01-01"'
edit duplicate '.connectors += [.connectors[0]]'
edit bad-port '.connectors[0].port = 70000'
edit port-string '.connectors[0].port = "22"'
edit bad-host-key '.connectors[0].host_key = "SHA256:short"'
edit pin-value '.connectors[0].key_uri = "pkcs11:object=k;pin-value=1234"'
edit no-host '.connectors[0] |= del(.host)'
edit no-auth '.connectors[0].key_uri = null | .connectors[0].password_ref = null'
edit bad-kind '.connectors[0].kind = "ftp"'
edit not-array '.connectors = {}'
edit not-object '.connectors = ["prod"]'
# The last connector is bad: the new reference and the updated ones before
# it are not written either.
edit last-bad '.references += [{"name": "brand-new", "kind": "manual"}]
  | (.connectors[0].port) = 2999
  | .connectors += [{"name": "new-one", "host": "h.example", "user": "u",
    "key_uri": "secretref:not-here"}]'
expect 0 pre-list sr connector list --json
before=$(store_digest || true)
for f in "$T"/input/bad/*.json; do
  name=$(basename "$f" .json)
  expect 8 "import-$name" sr import "$f"
  one_line "$T/import-$name.err"
  equal "$(store_digest)" "$before" "$name: the store is byte for byte unchanged"
done
contains "$T/import-missing-ref.err" "the key reference not-here is neither in the file nor in this store"
contains "$T/import-missing-pass-ref.err" "the password reference not-here is neither in the file nor in this store"
contains "$T/import-wrong-kind.err" "the password reference sftp-key is not a manual or key-vault reference"
contains "$T/import-field-password.err" 'field "password" is not allowed'
contains "$T/import-field-created.err" 'field "created" is not allowed'
contains "$T/import-duplicate.err" "appears twice"
contains "$T/import-bad-port.err" "port"
contains "$T/import-port-string.err" "port"
contains "$T/import-bad-host-key.err" "host key is not a SHA256: fingerprint"
contains "$T/import-pin-value.err" "pin-value"
contains "$T/import-no-host.err" '"host" is missing'
contains "$T/import-no-auth.err" "give a key URI, a password reference or both"
contains "$T/import-bad-kind.err" "unknown connector kind"
contains "$T/import-not-array.err" "must be arrays"
contains "$T/import-not-object.err" "connectors[0]: must be an object"
contains "$T/import-last-bad.err" "connectors[5]"
expect 3 last-bad-ref sr show brand-new
expect 0 post-list sr connector list --json
equal "$(cat "$T/post-list.out")" "$(cat "$T/pre-list.out")" "no connector changed"

# An export without a connectors array (an older export) still imports.
jq 'del(.connectors)' <<<"$good" >"$T/no-connectors.json"
expect 0 import-old sr import "$T/no-connectors.json"
err_contains "0 connectors created, 0 updated"

# Nothing of the secrets anywhere: outputs, exports, stores, WALs.
export SECRETREF_STORE=$source_store SECRETREF_KEY_FILE=$source_key
no_leak "$password"
no_leak "$vault_note"
