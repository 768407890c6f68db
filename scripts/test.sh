#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: installs what it needs, builds with warnings as
# errors and runs every test, runs clang-tidy and cppcheck, then builds
# again with ASan+UBSan and runs every test again. Exits non-zero if
# anything fails.
#   scripts/test.sh            all of it
#   scripts/test.sh --quick    the plain build only
set -euo pipefail
cd "$(dirname "$0")/.."

"$PWD/scripts/deps.sh"

jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSECRETREF_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  rm -rf "$dir/tmp"
  # Searchable by others: one test runs a part as "nobody".
  mkdir -m 0755 "$dir/tmp"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

echo "== build and test (gcc, -Werror)"
run_suite build

if [ "${1:-}" != "--quick" ]; then
  echo "== static analysis (clang-tidy, cppcheck)"
  "$PWD/scripts/lint.sh" "$PWD/build-lint"
  echo "== build and test under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -DSECRETREF_SANITIZE=ON
fi
echo "== all tests passed"
