#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cmake --install into a temporary DESTDIR: every file where it belongs
# (the provider where `openssl version -m` says, the PKCS#11 module and its
# p11-kit module file where p11-kit says), with sane modes; man pages that
# render without warnings and name every command and option the programs'
# --help shows; a program built against the installed header and library
# through the installed secretref.pc; the demo run from the installed tree.
# Nothing may be written into the system.
source "$(dirname "$0")/../lib/common.sh"
require cmake openssl pkg-config groff cc readelf nm p11tool pkcs11-tool timeout

build_dir=$(cd "$SECRETREF_BIN/.." && pwd)
cache=$build_dir/CMakeCache.txt
[ -f "$cache" ] || { fail "$cache: not a build folder"; exit 1; }
cached() { sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n 1; }

# Where things go, as the system's tools say (and GNUInstallDirs under the
# configured prefix).
prefix=$(cached CMAKE_INSTALL_PREFIX)
under() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
bindir=$(under "$(cached CMAKE_INSTALL_BINDIR)")
libdir=$(under "$(cached CMAKE_INSTALL_LIBDIR)")
includedir=$(under "$(cached CMAKE_INSTALL_INCLUDEDIR)")
# GNUInstallDirs caches "" for a directory under DATAROOTDIR left default.
mandir=$(cached CMAKE_INSTALL_MANDIR)
mandir=$(under "${mandir:-share/man}")
modulesdir=$(openssl version -m | sed -E 's/^MODULESDIR: "(.*)"$/\1/')
p11dir=$(pkg-config --variable p11_module_path p11-kit-1)
p11conf=$(pkg-config --variable p11_module_configs p11-kit-1)
for v in prefix bindir libdir includedir mandir modulesdir p11dir p11conf; do
  case ${!v} in /*) pass ;; *) fail "$v is not an absolute path: '${!v}'" ;; esac
done

# What the system holds in those places now, to show nothing changes.
system_dirs=("$modulesdir" "$p11dir" "$p11conf" "$bindir" "$libdir"
  "$libdir/pkgconfig" "$includedir" "$mandir/man1")
snapshot() {
  local d
  for d in "${system_dirs[@]}"; do
    # Files with their size, mode and time; folders by name (other
    # programs may change what is inside them).
    [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 \
      \( -type d -printf '%p/\n' \) -o -printf '%p %y %s %m %T@\n'
    echo "$d"
  done | sort
}
snapshot >"$T/system.before"

R=$T/root
export DESTDIR=$R
expect 0 install cmake --install "$build_dir"
unset DESTDIR
# The manifest names what was installed: every file is under DESTDIR, and
# DESTDIR holds nothing else.
sort "$build_dir/install_manifest.txt" >"$T/manifest"
(cd "$R" && find . ! -type d | sed 's/^\.//' | sort) >"$T/installed"
if cmp -s "$T/manifest" "$T/installed"; then
  pass
else
  fail "installed files differ from the manifest: $(diff "$T/manifest" "$T/installed" | head -n 10)"
fi

# file PATH MODE: installed (under DESTDIR), a regular file, with MODE.
file_mode() {
  if [ ! -f "$R$1" ] || [ -L "$R$1" ]; then
    fail "$1 is not installed as a regular file"
  else
    equal "$(stat -c %a "$R$1")" "$2" "mode of $1"
  fi
}
# Binaries 0755; modules are shared objects that programs load (Debian
# installs those 0644, as the modules beside them are); data 0644.
file_mode "$bindir/secretref" 755
file_mode "$bindir/secretref-sftp" 755
file_mode "$modulesdir/secretref.so" 644
file_mode "$p11dir/secretref-pkcs11.so" 644
file_mode "$p11conf/secretref.module" 644
file_mode "$libdir/libsecretref.a" 644
file_mode "$includedir/secretref.h" 644
file_mode "$libdir/pkgconfig/secretref.pc" 644
file_mode "$mandir/man1/secretref.1" 644
file_mode "$mandir/man1/secretref-sftp.1" 644
# Only the one public header: no private header is installed.
equal "$(find "$R" -name '*.h' | wc -l)" 1 "headers installed"

# Installed programs and modules do not point into the build tree.
for f in "$bindir/secretref" "$bindir/secretref-sftp" "$modulesdir/secretref.so" \
  "$p11dir/secretref-pkcs11.so"; do
  [ -f "$R$f" ] || continue
  run "rpath-$(basename "$f")" readelf -d "$R$f"
  if grep -E 'R(UN)?PATH' "$T/$last.out" | grep -qF "$build_dir"; then
    fail "$f has a run path into the build tree"
  else
    pass
  fi
done
# The modules export their entry points and nothing else of ours.
run provider-syms nm -D --defined-only "$R$modulesdir/secretref.so"
out_contains " T OSSL_provider_init"
lacks "$T/provider-syms.out" " sr_"
run pkcs11-syms nm -D --defined-only "$R$p11dir/secretref-pkcs11.so"
out_contains " T C_GetFunctionList"
lacks "$T/pkcs11-syms.out" " sr_"

# The p11-kit module file names the installed module by its full path.
module_line=$(grep '^module:' "$R$p11conf/secretref.module" || true)
equal "$module_line" "module: $p11dir/secretref-pkcs11.so" "module line of secretref.module"

# The installed provider loads by name from the installed modules folder,
# as it would from OpenSSL's own.
installed_modules() { OPENSSL_MODULES="$R$modulesdir" foreign "$@"; }
expect 0 provider-by-name installed_modules openssl list -providers -provider secretref
out_contains "secretref"
out_contains "status: active"
# And through openssl.cnf, for programs that take no -provider option.
cat >"$T/openssl.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
secretref = secretref_sect
[default_sect]
activate = 1
[secretref_sect]
module = secretref.so
activate = 1
EOF
configured() { OPENSSL_CONF=$T/openssl.cnf installed_modules "$@"; }
expect 0 provider-by-conf configured openssl list -providers
out_contains "secretref"
expect 0 init "$R$bindir/secretref" init
expect 0 pkcs11-token foreign pkcs11-tool --module "$R$p11dir/secretref-pkcs11.so" -L
out_contains "token label        : secretref"

# ---- man pages: render without a warning, and say what --help says
for page in secretref secretref-sftp; do
  src=$R$mandir/man1/$page.1
  [ -f "$src" ] || continue
  expect 0 "man-$page" groff -man -ww -Tutf8 -z "$src"
  if [ -s "$T/man-$page.err" ]; then fail "$page.1: groff warns: $(head -c 400 "$T/man-$page.err")"; else pass; fi
  groff -man -Tascii -P-cbou "$src" 2>/dev/null >"$T/$page.txt"
  contains "$T/$page.txt" "NAME"
  contains "$T/$page.txt" "EXIT STATUS"
done
# man_has PAGE TEXT: the rendered page shows TEXT.
man_has() {
  if grep -qE -- "$2([^a-z0-9-]|\$)" "$T/$1.txt"; then pass; else fail "$1(1) does not mention $2"; fi
}
# man_entry PAGE WORD: an entry (a tag in the left column) starts with
# WORD, or lists it after a comma.
man_entry() {
  if grep -qE "^ {7}([^ ].*, )?$2( |,|\$)" "$T/$1.txt"; then pass; else fail "$1(1) has no entry for $2"; fi
}
# long_options FILE: every --option in a --help text.
long_options() { grep -oE -- '--[a-z][a-z0-9-]*' "$1" | sort -u; }
"$R$bindir/secretref" --help >"$T/help.txt"
commands=$(sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' "$T/help.txt")
if [ "$(echo "$commands" | wc -w)" -ge 20 ]; then pass; else fail "secretref --help lists too few commands: $commands"; fi
for opt in $(long_options "$T/help.txt"); do man_has secretref "$opt"; done
for c in $commands; do
  man_entry secretref "$c"
  "$R$bindir/secretref" "$c" --help >"$T/help-$c.txt"
  for opt in $(long_options "$T/help-$c.txt"); do man_has secretref "$opt"; done
done
for v in SECRETREF_STORE SECRETREF_KEY_FILE SECRETREF_ENVIRONMENT SECRETREF_PASSPHRASE_FILE \
  SECRETREF_KEYVAULT_DEADLINE SECRETREF_KEYVAULT_CONNECT_TO; do
  man_has secretref "$v"
done
"$R$bindir/secretref-sftp" --help >"$T/help-sftp.txt"
for opt in $(long_options "$T/help-sftp.txt"); do man_has secretref-sftp "$opt"; done
for c in ls get put rm mkdir rmdir rename stat; do man_entry secretref-sftp "$c"; done
for s in 0 1 2 10 11 12 13 14 15 16 17; do man_entry secretref-sftp "$s"; done
for s in 0 1 2 3 4 5 6 7 8 9 10; do man_entry secretref "$s"; done

# ---- libsecretref through the installed pkg-config file
export PKG_CONFIG_PATH=$R$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$R
expect 0 pc-version pkg-config --modversion secretref
run version "$R$bindir/secretref" --version
contains "$T/version.out" "$(cat "$T/pc-version.out")"
expect 0 pc-flags pkg-config --cflags --libs --static secretref
out_contains "-I$R$includedir"
out_contains "-lsecretref"
# Under $T/input: the program holds the secret, which no_leak looks for.
mkdir -p "$T/input"
cat >"$T/input/uselib.c" <<'EOF'
/* Creates a store and a manual secret, reopens it and reads it back. */
#include <secretref.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    static const char value[] = "installed-library-s3cret";
    sr_config cfg = {0};
    sr_ref_spec spec = {0};
    sr_store *st = NULL;
    sr_secret *in = NULL, *out = NULL;
    char err[256];
    sr_rc rc;
    int ok;

    if (argc != 3)
        return 2;
    cfg.store_path = argv[1];
    cfg.key_file = argv[2];
    cfg.program = "install-test";
    if ((rc = sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)))) {
        fprintf(stderr, "init: %s: %s\n", sr_strerror(rc), err);
        return 1;
    }
    if ((rc = sr_secret_from(value, strlen(value), &in)))
        return 1;
    spec.name = "lib-ref";
    spec.description = "made by a program linked with libsecretref.a";
    spec.kind = SR_KIND_MANUAL;
    spec.secret = in;
    rc = sr_ref_create(st, &spec);
    sr_secret_free(in);
    if (rc) {
        fprintf(stderr, "create: %s\n", sr_store_errmsg(st));
        return 1;
    }
    sr_store_free(st);
    st = NULL;
    if ((rc = sr_store_open(&cfg, &st, err, sizeof(err)))) {
        fprintf(stderr, "open: %s: %s\n", sr_strerror(rc), err);
        return 1;
    }
    if ((rc = sr_ref_open_secret(st, "lib-ref", &out))) {
        fprintf(stderr, "open secret: %s\n", sr_store_errmsg(st));
        sr_store_free(st);
        return 1;
    }
    ok = out->len == strlen(value) && memcmp(out->data, value, out->len) == 0;
    sr_secret_free(out);
    sr_store_free(st);
    puts(ok ? "read back" : "different");
    return ok ? 0 : 1;
}
EOF
# shellcheck disable=SC2046 # pkg-config's flags are words
expect 0 compile cc -std=c11 -Wall -Werror -o "$T/input/uselib" "$T/input/uselib.c" \
  $(pkg-config --cflags --libs --static secretref)
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
if [ -x "$T/input/uselib" ]; then
  expect 0 uselib "$T/input/uselib" "$T/lib/store.db" "$T/lib/master.key"
  out_contains "read back"
  # The installed command reads what the library wrote.
  expect 0 lib-show "$R$bindir/secretref" --store "$T/lib/store.db" \
    --key-file "$T/lib/master.key" show lib-ref --json
  out_contains '"name": "lib-ref"'
  no_leak "installed-library-s3cret"
fi

# ---- the demo, from the installed tree: nothing is built
mkdir -p "$T/tmp"
expect 0 demo env SECRETREF_PREFIX="$R$prefix" OPENSSL_MODULES="$R$modulesdir" \
  SECRETREF_PKCS11_MODULE="$R$p11dir/secretref-pkcs11.so" TMPDIR="$T/tmp" \
  timeout 120 bash "$SECRETREF_SOURCE/scripts/demo.sh"
out_contains "demo: done; every secret stayed sealed."
out_contains "Verify return code: 0 (ok)"
out_contains "Verified OK"
out_contains "downloaded file is identical"
out_contains "\$ $R$bindir/secretref init"
for d in "$SECRETREF_SOURCE/build" "$build_dir"; do
  lacks "$T/demo.out" "$d/bin/"
  lacks "$T/demo.out" "$d/lib/"
done
equal "$(find "$T/tmp" -mindepth 1 | wc -l)" 0 "the demo's leftovers"

# ---- and the system is as it was
snapshot >"$T/system.after"
if cmp -s "$T/system.before" "$T/system.after"; then
  pass
else
  fail "the system changed: $(diff "$T/system.before" "$T/system.after" | head -n 10)"
fi
