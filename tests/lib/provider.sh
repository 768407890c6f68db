# SPDX-License-Identifier: Apache-2.0
# Shared by the provider tests: openssl with the secretref provider loaded
# three ways. Source after common.sh.

ORDER_SD=("${OSSL_PROV[@]}")
ORDER_DS=(-provider-path "$SECRETREF_LIB" -provider default -provider secretref)

# provider_cnf FILE [EXTRA_LINE]: an openssl.cnf that activates the
# default provider and ours, on this test's store (EXTRA_LINE goes into
# our provider's section, e.g. "environment = Test").
provider_cnf() {
  cat >"$1" <<EOF
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect
secretref = secretref_sect

[default_sect]
activate = 1

[secretref_sect]
module = $SECRETREF_LIB/secretref.so
activate = 1
store = $SECRETREF_STORE
key_file = $SECRETREF_KEY_FILE
${2:-}
EOF
}

# ossl MODE SUBCOMMAND ARGS...: openssl with our provider: "sd" secretref
# first, "ds" default first, "cnf" through $T/openssl.cnf ("cnf:FILE"
# through FILE) with no store settings in the environment. Bounded in time.
ossl() {
  local mode=$1 sub=$2 cnf; shift 2
  case $mode in
    sd) foreign timeout "$(scaled 60)" openssl "$sub" "${ORDER_SD[@]}" "$@" ;;
    ds) foreign timeout "$(scaled 60)" openssl "$sub" "${ORDER_DS[@]}" "$@" ;;
    cnf|cnf:*)
      cnf=${mode#cnf}; cnf=${cnf#:}
      foreign timeout "$(scaled 60)" env -u SECRETREF_STORE -u SECRETREF_KEY_FILE \
        -u SECRETREF_ENVIRONMENT OPENSSL_CONF="${cnf:-$T/openssl.cnf}" \
        openssl "$sub" "$@" ;;
  esac
}
