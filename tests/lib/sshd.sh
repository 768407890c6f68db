# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# A loopback OpenSSH sshd set up like Azure Blob Storage SFTP's endpoint
# (docs: ../shared/sftp-azure.md): Azure's algorithm lists, SFTP only
# (internal-sftp), keys from a file of the test. Source it after
# common.sh; it needs root, as CI runs the tests.
#
#   sshd_init [ecdsa|rsa]    host key and folders; sets
#       SSHD_DIR     the server's folder (config, host key, log)
#       SSHD_PORT    its port on 127.0.0.1 (kept across restarts)
#       SSHD_FILES   an empty folder for the tests' remote files (absolute)
#       SSHD_AUTH    its authorized_keys file (add lines with sshd_authorize)
#       SSHD_FP      the host key's SHA256: fingerprint
#       SSHD_KNOWN   a known_hosts file holding the host key
#       SSHD_URL     sftp://root@127.0.0.1:PORT
#       SSHD_LOG     the server's log
#   sshd_start [CONFIG-LINE...]   starts it (extra lines go first, so they
#                                 win); stopped by a cleanup hook
#   sshd_stop / sshd_restart [CONFIG-LINE...]
#   sshd_children            the pids of the processes serving sessions
#   sshd_password_user       a local user for password logins; sets
#       SSHD_PW_USER, SSHD_PW_HOME (its files folder), SSHD_PW_URL; its
#       password is in $T/input/sshd-password (excluded from no_leak)
#       and SSHD_PASSWORD; removed by a cleanup hook

# Azure's lists, as in sftp-azure.md; ssh-rsa added to the user keys for
# libssh2 1.10, which signs RSA only as ssh-rsa (Azure accepts it).
SSHD_KEX=ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group-exchange-sha256
SSHD_CIPHERS=aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr
SSHD_MACS=hmac-sha2-256,hmac-sha2-512,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com
SSHD_HOSTKEY_ALGS=rsa-sha2-256,rsa-sha2-512,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384
SSHD_PUBKEY_ALGS=ssh-rsa,rsa-sha2-256,rsa-sha2-512,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384

SSHD_PID=
SSHD_HOOKED=0

sshd_init() {
  local type=${1:-ecdsa}
  if [ "$(id -u)" -ne 0 ]; then
    fail "the sshd stand-in needs root (sshd logs users in, and a test user is made); CI runs the tests as root"
    exit 1
  fi
  require ssh-keygen
  [ -x /usr/sbin/sshd ] || { fail "required program /usr/sbin/sshd is not installed"; exit 1; }
  SSHD_DIR=$T/sshd
  SSHD_FILES=$SSHD_DIR/files
  SSHD_AUTH=$SSHD_DIR/authorized_keys
  SSHD_LOG=$SSHD_DIR/sshd.log
  mkdir -p "$SSHD_DIR" "$SSHD_FILES" /run/sshd
  rm -f "$SSHD_DIR/host_key" "$SSHD_DIR/host_key.pub"
  : >"$SSHD_AUTH"
  case $type in
    ecdsa) ssh-keygen -q -t ecdsa -b 256 -N '' -C '' -f "$SSHD_DIR/host_key" ;;
    rsa) ssh-keygen -q -t rsa -b 3072 -N '' -C '' -f "$SSHD_DIR/host_key" ;;
    *) fail "sshd_init: unknown host key type $type"; exit 1 ;;
  esac
  SSHD_PORT=$(free_port)
  SSHD_FP=$(ssh-keygen -l -E sha256 -f "$SSHD_DIR/host_key.pub" | awk '{print $2}')
  SSHD_KNOWN=$SSHD_DIR/known_hosts
  printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
    "$(cut -d' ' -f1-2 "$SSHD_DIR/host_key.pub")" >"$SSHD_KNOWN"
  SSHD_URL=sftp://root@127.0.0.1:$SSHD_PORT
}

sshd_start() {
  local line
  {
    for line in "$@"; do printf '%s\n' "$line"; done
    cat <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_AUTH
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
UseDNS no
LogLevel VERBOSE
MaxStartups 64
Subsystem sftp internal-sftp
KexAlgorithms $SSHD_KEX
Ciphers $SSHD_CIPHERS
MACs $SSHD_MACS
HostKeyAlgorithms $SSHD_HOSTKEY_ALGS
PubkeyAcceptedAlgorithms $SSHD_PUBKEY_ALGS
EOF
  } >"$SSHD_DIR/sshd_config"
  if ! /usr/sbin/sshd -t -f "$SSHD_DIR/sshd_config" 2>"$SSHD_DIR/config-test.err"; then
    fail "sshd refuses its config: $(cat "$SSHD_DIR/config-test.err")"
    exit 1
  fi
  /usr/sbin/sshd -D -f "$SSHD_DIR/sshd_config" -E "$SSHD_LOG" &
  SSHD_PID=$!
  if [ "$SSHD_HOOKED" = 0 ]; then
    cleanup_hooks+=("sshd_stop")
    SSHD_HOOKED=1
  fi
  if ! wait_listen "$SSHD_PORT" "$SSHD_PID"; then
    fail "sshd did not start on port $SSHD_PORT: $(tail -5 "$SSHD_LOG" 2>/dev/null)"
    exit 1
  fi
}

# The pids of the per-connection processes under the listener.
sshd_children() {
  [ -n "$SSHD_PID" ] || return 0
  ps -o pid= --ppid "$SSHD_PID" 2>/dev/null | tr -d ' ' || true
}

# Stops the listener and every session under it (by pid), waiting at most
# 5 s.
sshd_stop() {
  local pid kids i
  [ -n "$SSHD_PID" ] || return 0
  pid=$SSHD_PID
  kids=$(sshd_descendants "$pid")
  kill "$pid" 2>/dev/null || true
  for i in $kids; do kill -9 "$i" 2>/dev/null || true; done
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  SSHD_PID=
}

sshd_restart() {
  local hex i
  sshd_stop
  # The port is the known_hosts entry's: wait until the old socket is gone.
  hex=$(printf ':%04X ' "$SSHD_PORT")
  for i in $(seq 50); do
    grep -q "$hex.* 0A " /proc/net/tcp 2>/dev/null || break
    sleep 0.1
  done
  sshd_start "$@"
}

# sshd_authorize FILE: appends an OpenSSH public key line.
sshd_authorize() {
  cat "$1" >>"$SSHD_AUTH"
  [ -z "$(tail -c1 "$SSHD_AUTH")" ] || echo >>"$SSHD_AUTH"
}

# A dedicated local user for password logins (root's password is never
# touched). sshd with UsePAM no checks /etc/shadow.
sshd_password_user() {
  require useradd userdel chpasswd
  SSHD_PW_USER=srsftp$$
  SSHD_PASSWORD="Pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')-%x!"
  userdel -r -f "$SSHD_PW_USER" >/dev/null 2>&1 || true
  if ! useradd -m -d "/home/$SSHD_PW_USER" -s /usr/sbin/nologin "$SSHD_PW_USER"; then
    fail "useradd $SSHD_PW_USER failed"
    exit 1
  fi
  cleanup_hooks+=("userdel -r -f $SSHD_PW_USER >/dev/null 2>&1")
  printf '%s:%s\n' "$SSHD_PW_USER" "$SSHD_PASSWORD" | chpasswd
  input sshd-password "$SSHD_PASSWORD" >/dev/null
  SSHD_PW_HOME=/home/$SSHD_PW_USER/files
  mkdir -p "$SSHD_PW_HOME"
  chown "$SSHD_PW_USER:" "$SSHD_PW_HOME"
  SSHD_PW_URL=sftp://$SSHD_PW_USER@127.0.0.1:$SSHD_PORT
}

# tree_sums DIR: "sha256  relative/path" of every file under DIR, sorted.
tree_sums() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# listing DIR: every name under DIR with its size and mtime, sorted; to
# show nothing was touched.
listing() {
  (cd "$1" && find . -printf '%y %s %T@ %p\n' | LC_ALL=C sort)
}

# pkcs11_conf FILE: an openssl.cnf that loads pkcs11-provider with our own
# PKCS#11 module (and the default provider), for --key pkcs11:... URIs.
pkcs11_conf() {
  local p11=/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so
  [ -f "$p11" ] || { fail "pkcs11-provider ($p11) is not installed"; exit 1; }
  [ -f "$SECRETREF_LIB/secretref-pkcs11.so" ] ||
    { fail "$SECRETREF_LIB/secretref-pkcs11.so is not built"; exit 1; }
  cat >"$1" <<CNF
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect

[default_sect]
activate = 1

[pkcs11_sect]
module = $p11
pkcs11-module-path = $SECRETREF_LIB/secretref-pkcs11.so
pkcs11-module-quirks = no-deinit no-operation-state
activate = 1
CNF
}

# sshd_descendants PID: every process under PID, by pid.
sshd_descendants() {
  local kid
  for kid in $(ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '); do
    echo "$kid"
    sshd_descendants "$kid"
  done
}

# sshd_kill9: the server dies at once (SIGKILL to the listener and every
# session process under it), as a crash or a cut connection would.
sshd_kill9() {
  local pids
  [ -n "$SSHD_PID" ] || return 0
  pids="$SSHD_PID $(sshd_descendants "$SSHD_PID")"
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null || true
  wait "$SSHD_PID" 2>/dev/null || true
  SSHD_PID=
}

# pkcs11_on CNF / pkcs11_off: the environment for --key pkcs11:... in this
# shell. In the sanitizer build, pkcs11-provider's dlopen of the module
# with RTLD_DEEPBIND would stop the instrumented program (ASan refuses
# DEEPBIND: google/sanitizers#611), so a preloaded shim drops that flag.
pkcs11_on() {
  export OPENSSL_CONF=$1
  if [ "${SECRETREF_ASAN:-0}" = 1 ]; then
    require gcc
    if [ ! -f "$T/nodeepbind.so" ]; then
      cat >"$T/nodeepbind.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
void *dlopen(const char *file, int mode)
{
    static void *(*next)(const char *, int);
    if (!next)
        next = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    return next(file, mode & ~RTLD_DEEPBIND);
}
C
      gcc -shared -fPIC -o "$T/nodeepbind.so" "$T/nodeepbind.c" -ldl ||
        { fail "cannot build the DEEPBIND shim"; exit 1; }
    fi
    PKCS11_SAVED_ASAN=${ASAN_OPTIONS-}
    export LD_PRELOAD=$T/nodeepbind.so
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
  fi
}
pkcs11_off() {
  unset OPENSSL_CONF
  if [ "${SECRETREF_ASAN:-0}" = 1 ]; then
    unset LD_PRELOAD
    if [ -n "${PKCS11_SAVED_ASAN-}" ]; then export ASAN_OPTIONS=$PKCS11_SAVED_ASAN; else unset ASAN_OPTIONS; fi
  fi
}
