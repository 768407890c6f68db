#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis: clang-tidy (.clang-tidy) and cppcheck
# (.cppcheck-suppressions) over every C file the build compiles, the tests
# and benchmarks included. Exits non-zero on any finding.
#   scripts/lint.sh [BUILD_DIR]     configures BUILD_DIR (default
#                                   /tmp/secretref-lint); builds nothing
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
dir=${1:-/tmp/secretref-lint}
jobs=${LINT_JOBS:-2}

"$src/scripts/deps.sh"

tidy=$(command -v run-clang-tidy-14 || command -v run-clang-tidy || true)
if [ -z "$tidy" ] || ! command -v cppcheck >/dev/null; then
  echo "lint: needs run-clang-tidy and cppcheck (scripts/deps.sh)" >&2
  exit 2
fi

# The compilation database is all the tools need: no generated sources.
cmake -S "$src" -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
db=$dir/compile_commands.json

status=0
start=$SECONDS
echo "== clang-tidy ($(clang-tidy --version | sed -n 's/.*version \([0-9.]*\).*/\1/p'))"
# Every entry of the database is ours (the tree vendors nothing). The
# invocation lines and colours go; the findings stay.
"$tidy" -p "$dir" -j "$jobs" -quiet 2>&1 |
  sed -e 's/\x1b\[[0-9;]*m//g' -e '/--use-color/d' \
      -e '/^[0-9]* warnings\{0,1\} generated\.$/d' || status=1
echo "   $((SECONDS - start)) s"

start=$SECONDS
echo "== cppcheck ($(cppcheck --version))"
cppcheck --project="$db" -j "$jobs" --quiet --error-exitcode=1 \
  --enable=warning,style,performance,portability \
  --library=posix --library=gnu --library=openssl --library=sqlite3 \
  --library=libcurl \
  --inline-suppr --suppress=missingIncludeSystem \
  --suppressions-list="$src/.cppcheck-suppressions" \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' ||
  status=1
echo "   $((SECONDS - start)) s"

if [ "$status" -ne 0 ]; then
  echo "== lint: findings above" >&2
  exit 1
fi
echo "== lint: clean"
