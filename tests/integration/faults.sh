#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults (issue #7): a full disk during set, import and rekey; a store that
# is read-only (file modes for a non-root user, and a read-only mount); a
# store deleted or replaced under a running provider; a store from a newer
# schema opened through the provider and the PKCS#11 module. Each is one
# line saying what and why, with a documented exit status, and the store
# keeps its content. (bad_input.sh covers a full disk during new and a
# newer schema through the command.)
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/provider.sh"
require jq sqlite3 mount umount sha256sum setpriv openssl pkcs11-tool timeout \
  base64 dd stat
: "${SECRETREF_LIB:?run through ctest (SECRETREF_LIB is not set)}"
unset OPENSSL_CONF
P11_MODULE=$SECRETREF_LIB/secretref-pkcs11.so

manual_secret='Faults-Manual-Secret-7c1e5a!'
rotated_secret='Faults-Rotated-Secret-2b9d44?'
ro_secret='Faults-ReadOnly-Secret-93af0e#'
mkdir -p "$T/input"
head -c 46080 /dev/urandom | base64 -w0 | head -c 61440 >"$T/input/big"
for i in $(seq 1 24); do
  head -c 6144 /dev/urandom | base64 -w0 >"$T/input/mid-$i"
done

# SQLite's own check (logical, in common.sh, digests the content).
integrity() { sqlite3 -readonly "$SECRETREF_STORE" 'PRAGMA integrity_check'; }
# Every file of a folder with its digest: nothing created, nothing changed.
folder_state() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }

# refused: the last run failed on its own, with a status of its own: not
# killed, and not stopped by timeout (124 and above).
refused() {
  if [ "$status" -ne 0 ] && [ "$status" -lt 124 ]; then pass; else
    fail "$last: status $status: $(head -c 400 "$T/$last.err")"
  fi
}

# ---- a full disk -------------------------------------------------------------
disk=$T/disk
tmpfs_mount "$disk" 2m
export SECRETREF_STORE=$disk/store/store.db SECRETREF_KEY_FILE=$T/keys/full.key

# fill_to KIB: a ballast file leaves KIB KiB free on the disk (tmpfs counts
# whole 4 KiB pages, so this is exact). The store is closed first by a
# writer's connection, which removes the -wal and -shm files that
# sqlite3 -readonly leaves: every command then starts from the store file
# alone, and has to make its 32 KiB -shm file.
fill_to() {
  local avail
  rm -f "$disk/ballast"
  sr list >/dev/null
  [ ! -e "$SECRETREF_STORE-shm" ] && [ ! -e "$SECRETREF_STORE-wal" ] && pass ||
    fail "log files left next to $SECRETREF_STORE"
  avail=$(($(stat -f -c '%a * %S' "$disk") / 1024))
  [ "$avail" -gt "$1" ] || { fail "only $avail KiB free, want more than $1"; return 0; }
  dd if=/dev/zero of="$disk/ballast" bs=4096 count=$(((avail - $1) / 4)) status=none
  equal "$(($(stat -f -c '%a * %S' "$disk") / 1024))" "$1" "free space after the ballast"
}
free_space() { rm -f "$disk/ballast"; }

# full_case ID FREE_KIB CMD...: with FREE_KIB left, CMD fails as a full
# disk (status 6, one line naming the store) and changes no content; with
# the space back, the same CMD succeeds.
full_case() {
  local id=$1 free=$2 before
  shift 2
  before=$(logical)
  equal "$(integrity)" ok "$id: integrity before"
  fill_to "$free"
  expect 6 "$id" "$@"
  one_line "$T/$id.err"
  err_contains "disk is full"
  err_contains "$SECRETREF_STORE"
  equal "$(cat "$T/$id.out")" "" "$id prints nothing on standard output"
  free_space
  equal "$(logical)" "$before" "$id: the failed command changed no content"
  equal "$(integrity)" ok "$id: integrity after the failure"
  expect 0 "$id-again" "$@"
  equal "$(integrity)" ok "$id: integrity after the retry"
}

expect 0 full-init sr init
expect 0 full-new-m sr new m --manual --secret-file "$(input manual "$manual_secret")"
expect 0 full-new-c sr new c --generate ec-p256
expect 0 full-pub-c sr pubkey c
cp "$T/full-pub-c.out" "$T/c-v1.pub"

# Completely full: even opening the store (its -shm file) fails; the
# message says the disk is full, not just "disk I/O error".
full_case full-set-desc 0 sr set m --description "a description"
# A new version of a manual secret (60 KiB) and of a certificate (a new
# P-256 key) with 36 KiB free: the -shm takes 32 KiB, the transaction
# does not fit in the rest.
full_case full-set-manual 36 sr set m --manual --secret-file "$T/input/big"
full_case full-set-cert 36 sr set c --generate ec-p256
expect 0 full-history-c sr history c
equal "$(($(wc -l <"$T/full-history-c.out") - 1))" 2 "one new certificate version, from the retry"
expect 0 full-pub-c2 sr pubkey c
[ "$(cat "$T/full-pub-c2.out")" != "$(cat "$T/c-v1.pub")" ] && pass ||
  fail "the retried set made no new key"
# The retried manual set holds the new value.
expect 0 full-exec sr exec --env V=m -- sh -c 'printf %s "$V" | sha256sum'
equal "$(cut -d' ' -f1 "$T/full-exec.out")" "$(sha256sum <"$T/input/big" | cut -d' ' -f1)" \
  "the retried set holds the new secret"
rm -f "$T/full-exec.out"
printf '%s' "$rotated_secret" >"$T/input/rotated"
expect 0 full-set-small sr set m --manual --secret-file "$T/input/rotated"

# Import: an export of 300 references with 1000-byte descriptions.
desc=$(printf 'd%.0s' {1..1000})
jq -n --arg d "$desc" '{format: "secretref-export", version: 1,
  exported: "2026-01-01T00:00:00Z",
  environment_types: ["Development", "Test", "Acceptance", "Production"],
  references: [range(300) | {name: "imported-\(.)", description: $d,
    environment_type: null, expires: null, kind: "manual"}],
  connectors: []}' >"$T/input/large-export.json"
full_case full-import 64 sr import "$T/input/large-export.json"
expect 0 full-import-list sr list --json
equal "$(jq '[.[] | select(.name | startswith("imported-"))] | length' "$T/full-import-list.out")" \
  300 "every imported reference, once"

# Rekey: 24 references of 8 KiB; every sealed value is rewritten in one
# transaction, which does not fit in 64 KiB.
for i in $(seq 1 24); do
  run "full-mid-$i" sr new "mid-$i" --manual --secret-file "$T/input/mid-$i"
  [ "$status" -eq 0 ] || fail "full-mid-$i: status $status: $(cat "$T/full-mid-$i.err")"
done
before=$(logical)
new_key=$T/keys/rekeyed.key
fill_to 64
expect 6 full-rekey sr rekey --key-file "$new_key"
one_line "$T/full-rekey.err"
err_contains "disk is full"
err_contains "$SECRETREF_STORE"
free_space
equal "$(logical)" "$before" "full-rekey: the failed rekey changed no content"
equal "$(integrity)" ok "full-rekey: integrity after the failure"
[ ! -e "$new_key" ] && pass || fail "a failed rekey left its new key file $new_key"
# The old key still opens everything.
for name in m c $(seq -f 'mid-%g' 1 24); do
  run "full-old-key-$name" sr verify "$name"
  [ "$status" -eq 0 ] || fail "after a failed rekey, $name: status $status: $(cat "$T/$last.err")"
done
expect 0 full-rekey-again sr rekey --key-file "$new_key"
equal "$(integrity)" ok "full-rekey: integrity after the retry"
expect 5 full-rekey-old-key sr verify m
export SECRETREF_KEY_FILE=$new_key
for name in m c $(seq -f 'mid-%g' 1 24); do
  run "full-new-key-$name" sr verify "$name"
  [ "$status" -eq 0 ] || fail "after the rekey, $name: status $status: $(cat "$T/$last.err")"
done

# ---- a read-only store -------------------------------------------------------
# Reads work (list, show, pubkey, history, audit, export: an export holds
# nothing a reader of the file cannot see); every use of a secret is
# audited, so verify and key loads fail, as do writes: one line, "read-only",
# status 6, and nothing changes (docs/store.md).
#
# ro_checks ID DIR RUNNER...: the checks, running secretref and openssl
# through RUNNER (a user switch, or env); the store is DIR/store/store.db,
# and rekey's new key file would be $ro_new_key.
ro_checks() {
  local id=$1 dir=$2 state
  shift 2
  local -a as=("$@")
  state=$(folder_state "$dir/store")
  expect 0 "$id-list" "${as[@]}" "$SECRETREF" list --json
  equal "$(jq -r '[.[].name] | sort | join(",")' "$T/$id-list.out")" "c,m" "$id: list"
  expect 0 "$id-show" "${as[@]}" "$SECRETREF" show c --json
  expect 0 "$id-pubkey" "${as[@]}" "$SECRETREF" pubkey c
  contains "$T/$id-pubkey.out" "BEGIN PUBLIC KEY"
  expect 0 "$id-history" "${as[@]}" "$SECRETREF" history m
  expect 0 "$id-audit" "${as[@]}" "$SECRETREF" audit
  expect 0 "$id-export" "${as[@]}" "$SECRETREF" export
  equal "$(jq -r '.references | length' "$T/$id-export.out")" 2 "$id: export"
  local cmd label
  for cmd in "verify m" "verify c" "new n --generate ec-p256" \
    "set m --description changed" "set c --generate ec-p256" "delete m" \
    "rollback m 1" "rekey --key-file $ro_new_key"; do
    label="$id-${cmd%% *}-${cmd#* }"
    label=${label%% *}
    # shellcheck disable=SC2086
    run "$label" "${as[@]}" "$SECRETREF" $cmd
    if [ "$status" -eq 6 ]; then pass; else
      fail "$label: exit status $status, want 6: $(head -c 300 "$T/$label.err")"
    fi
    one_line "$T/$label.err"
    err_contains "read-only"
    err_contains "$dir/store/store.db"
  done
  [ ! -e "$ro_new_key" ] && pass || fail "$id: a failed rekey left its new key file"
  run "$id-pkeyutl" foreign "${as[@]}" timeout "$(scaled 60)" openssl pkeyutl "${OSSL_PROV[@]}" -sign \
    -inkey secretref:c -in "$RO/msg" -out /dev/null
  refused
  equal "$(grep -c ':secretref:' "$T/$id-pkeyutl.err")" 1 "$id-pkeyutl: one error line from secretref"
  err_contains "read-only"
  err_contains "$dir/store/store.db"
  lacks "$T/$id-pkeyutl.err" "Sanitizer"
  equal "$(folder_state "$dir/store")" "$state" "$id: no file created or changed"
}

# (a) File modes, for a non-root user (root writes whatever the modes):
# the store of user nobody, its folder 0500 and its file 0400. The folder
# is under /tmp so that nobody can reach it.
RO=$(mktemp -d /tmp/secretref-faults-ro.XXXXXX)
cleanup_hooks+=("chmod -R u+w '$RO' 2>/dev/null; rm -rf '$RO'")
chmod 0711 "$RO"
mkdir -p "$RO/home"
echo hello >"$RO/msg"
chmod 0644 "$RO/msg"
(
  export SECRETREF_STORE=$RO/store/store.db SECRETREF_KEY_FILE=$RO/keys/master.key
  sr init && printf '%s' "$ro_secret" | sr new m --manual &&
    sr new c --generate ec-p256
) >"$T/ro-init.out" 2>&1 && pass || fail "ro-init: $(cat "$T/ro-init.out")"
chown -R nobody:nogroup "$RO/store" "$RO/keys" "$RO/home"
chmod 0500 "$RO/store"
chmod 0400 "$RO/store/store.db"
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups
  env HOME="$RO/home" XDG_CONFIG_HOME="$RO/home/.config" XDG_DATA_HOME="$RO/home/.local"
  SECRETREF_STORE="$RO/store/store.db" SECRETREF_KEY_FILE="$RO/keys/master.key")
expect 0 ro-whoami "${as_nobody[@]}" id -un
equal "$(cat "$T/ro-whoami.out")" nobody "the read-only checks run as nobody"
run ro-cannot-write "${as_nobody[@]}" sh -c "echo x >'$RO/store/probe'"
[ "$status" -ne 0 ] && [ ! -e "$RO/store/probe" ] && pass || fail "nobody can write $RO/store"
ro_new_key=$RO/keys/new.key
ro_checks ro-modes "$RO" "${as_nobody[@]}"
# With write access again, the store is as it was and in use.
chmod 0700 "$RO/store"
chmod 0600 "$RO/store/store.db"
expect 0 ro-modes-writable "${as_nobody[@]}" "$SECRETREF" verify m
grep -ralF -- "$ro_secret" "$RO" >/dev/null && fail "the secret is readable in $RO" || pass

# (b) A read-only mount, as root.
rodisk=$T/rodisk
tmpfs_mount "$rodisk" 1m
(
  export SECRETREF_STORE=$rodisk/store/store.db SECRETREF_KEY_FILE=$T/keys/rodisk.key
  sr init && printf '%s' "$ro_secret" | sr new m --manual &&
    sr new c --generate ec-p256
) >"$T/rodisk-init.out" 2>&1 && pass || fail "rodisk-init: $(cat "$T/rodisk-init.out")"
mount -o remount,ro "$rodisk" && pass || fail "remounting $rodisk read-only"
ro_new_key=$T/keys/rodisk-new.key
ro_checks ro-mount "$rodisk" env SECRETREF_STORE="$rodisk/store/store.db" \
  SECRETREF_KEY_FILE="$T/keys/rodisk.key"
mount -o remount,rw "$rodisk"
expect 0 ro-mount-writable env SECRETREF_STORE="$rodisk/store/store.db" \
  SECRETREF_KEY_FILE="$T/keys/rodisk.key" "$SECRETREF" verify m

# ---- a store deleted or replaced under a running provider --------------------
export SECRETREF_STORE=$T/tls/store.db SECRETREF_KEY_FILE=$T/keys/tls.key
expect 0 tls-init sr init
expect 0 tls-new sr new tls --generate ec-p256
expect 0 tls-cert ossl sd req -x509 -new -key secretref:tls -subj /CN=localhost -days 2 \
  -out "$T/tls.crt"
expect 0 tls-attach sr set tls --certificate "$T/tls.crt"

# One s_server for three connections, key and certificate from the store.
server_pid=
cleanup_hooks+=('if [ -n "$server_pid" ]; then kill $(cat /proc/"$server_pid"/task/*/children 2>/dev/null) "$server_pid" 2>/dev/null; fi')
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  ossl sd s_server -naccept 3 -accept "127.0.0.1:$port" -key secretref:tls \
    -cert secretref:tls -www </dev/null >"$T/server.out" 2>"$T/server.err" &
  server_pid=$!
  if wait_listen "$port" "$server_pid"; then break; fi
  kill $(cat /proc/"$server_pid"/task/*/children 2>/dev/null) "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  grep -q "in use" "$T/server.err" || break
done
[ -n "$server_pid" ] && pass || fail "s_server did not start: $(head -c 600 "$T/server.err")"
printf 'GET / HTTP/1.0\r\n\r\n' >"$T/request"
handshake() {
  expect 0 "$1" timeout "$(scaled 20)" openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/tls.crt" \
    -verify_return_error -ign_eof <"$T/request"
  contains "$T/$1.out" "Verify return code: 0 (ok)"
  contains "$T/$1.out" "HTTP/1.0 200 ok"
}
handshake tls-before
# The key was loaded at start and lives in the key core: deleting the
# store, or putting another one in its place, does not touch it.
rm -f "$SECRETREF_STORE" "$SECRETREF_STORE-wal" "$SECRETREF_STORE-shm"
handshake tls-deleted
# A fresh process names the missing store in one line.
echo hello >"$T/msg"
run tls-gone-pkeyutl ossl sd pkeyutl -sign -inkey secretref:tls -in "$T/msg" -out "$T/msg.sig"
refused
equal "$(grep -c ':secretref:' "$T/tls-gone-pkeyutl.err")" 1 "one error line from secretref"
err_contains "$SECRETREF_STORE: No such file or directory (run secretref init)"
lacks "$T/tls-gone-pkeyutl.err" "Sanitizer"
run tls-gone-p11 foreign timeout "$(scaled 60)" pkcs11-tool --module "$P11_MODULE" -O
refused
equal "$(grep -c '^secretref-pkcs11: ' "$T/tls-gone-p11.err")" 1 "one error line from the module"
err_contains "secretref-pkcs11: $SECRETREF_STORE: No such file or directory (run secretref init)"
err_contains "CKR_FUNCTION_FAILED"
lacks "$T/tls-gone-p11.err" "Sanitizer"
# Another store in its place (its own key, no reference named tls).
expect 0 tls-replace sr --key-file "$T/keys/other.key" init
handshake tls-replaced
set +e
wait "$server_pid"
server_status=$?
set -e
server_pid=
equal "$server_status" 0 "s_server ended after three connections"
lacks "$T/server.err" "Sanitizer"
run tls-other-pkeyutl ossl sd pkeyutl -sign -inkey secretref:tls -in "$T/msg" -out "$T/msg.sig"
refused
equal "$(grep -c ':secretref:' "$T/tls-other-pkeyutl.err")" 1 "one error line from secretref"
err_contains "wrong encryption key"
expect 0 tls-other-list sr --key-file "$T/keys/other.key" list --json
equal "$(jq length "$T/tls-other-list.out")" 0 "the other store is untouched"

# ---- a newer schema through the provider and the PKCS#11 module -------------
export SECRETREF_STORE=$T/newer/store.db SECRETREF_KEY_FILE=$T/keys/newer.key
expect 0 newer-init sr init
expect 0 newer-new sr new k --generate ec-p256
sqlite3 "$SECRETREF_STORE" 'PRAGMA user_version = 99'
before=$(sha256sum "$SECRETREF_STORE" | cut -d' ' -f1)
run newer-pkeyutl ossl sd pkeyutl -sign -inkey secretref:k -in "$T/msg" -out "$T/msg.sig"
refused
equal "$(grep -c ':secretref:' "$T/newer-pkeyutl.err")" 1 "one error line from secretref"
err_contains "$SECRETREF_STORE: the store has schema version 99, newer than this program's"
err_contains "upgrade secretref"
lacks "$T/newer-pkeyutl.err" "Sanitizer"
run newer-p11 foreign timeout "$(scaled 60)" pkcs11-tool --module "$P11_MODULE" -O
refused
equal "$(grep -c '^secretref-pkcs11: ' "$T/newer-p11.err")" 1 "one error line from the module"
err_contains "secretref-pkcs11: $SECRETREF_STORE: the store has schema version 99"
err_contains "CKR_FUNCTION_FAILED"
lacks "$T/newer-p11.err" "Sanitizer"
equal "$(sha256sum "$SECRETREF_STORE" | cut -d' ' -f1)" "$before" "the newer store is unchanged"
[ ! -e "$SECRETREF_STORE-wal" ] && pass || fail "a WAL file was left next to the newer store"

# ---- no secret anywhere --------------------------------------------------------
no_leak "$manual_secret"
no_leak "$rotated_secret"
no_leak "$ro_secret"
no_leak "$(head -c 64 "$T/input/big")"
no_leak "$(head -c 64 "$T/input/mid-1")"
