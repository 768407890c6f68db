#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite under valgrind memcheck ("ctest -T memcheck"): unit
# and fuzz-corpus programs run under valgrind; integration tests run
# secretref, secretref-sftp and the system programs that load our modules
# under it (tests/lib/common.sh); torture.store, which replaces the
# allocator, is left out (CMakeLists.txt). Configures and builds a plain
# (non-sanitized) build, runs it, and exits non-zero if a test fails or
# valgrind reports a defect: a memory error or a definite leak.
#   scripts/memcheck.sh [BUILD_DIR] [CTEST_ARGS...]
#     BUILD_DIR   default /tmp/secretref-memcheck
#     CTEST_ARGS  e.g. -R provider, -L unit
# SECRETREF_MEMCHECK_JOBS (default 2) sets the parallel builds and tests.
set -euo pipefail

dir=${1:-/tmp/secretref-memcheck}
[ $# -gt 0 ] && shift
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
cd "$(dirname "$0")/.."

"$PWD/scripts/deps.sh"

jobs=${SECRETREF_MEMCHECK_JOBS:-2}
# Valgrind slows our programs 15-50 times: the time limit of a test.
timeout=14400

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSECRETREF_SANITIZE=OFF \
  -DSECRETREF_TEST_TIMEOUT="$timeout" >/dev/null
cmake --build "$dir" -j "$jobs"
rm -rf "$dir/tmp"
# Old results go; ctest's cost data stays, so the longest tests start first.
if [ -d "$dir/Testing" ]; then
  find "$dir/Testing" -mindepth 1 ! -path "$dir/Testing/Temporary" \
    ! -name CTestCostData.txt -delete
fi
# Searchable by others: one test runs a part as "nobody".
mkdir -m 0755 "$dir/tmp"

start=$(date +%s)
status=0
(cd "$dir" && ctest -T memcheck -j "$jobs" --timeout "$timeout" --output-on-failure "$@") ||
  status=$?
echo "memcheck: ctest ran $(( ($(date +%s) - start) / 60 )) min, exit status $status"

# The defects valgrind found, per test, from ctest's DynamicAnalysis.xml.
xml=$(ls -t "$dir"/Testing/*/DynamicAnalysis.xml 2>/dev/null | head -1 || true)
if [ -z "$xml" ]; then
  echo "memcheck: no DynamicAnalysis.xml under $dir/Testing" >&2
  exit 1
fi
defects=$(python3 - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
total = 0
for test in ET.parse(sys.argv[1]).getroot().iter("Test"):
    name = test.findtext("Name") or "?"
    for d in test.iter("Defect"):
        n = int(d.text or 0)
        if n:
            total += n
            print(f"memcheck: {name}: {n} x {d.get('type')}", file=sys.stderr)
print(total)
EOF
)
echo "memcheck: $defects defects (logs: $dir/Testing/Temporary/MemoryChecker.*.log," \
  "and $dir/tmp/valgrind for integration tests that failed)"
if [ "$status" -ne 0 ] || [ "$defects" -ne 0 ]; then
  echo "memcheck: FAILED" >&2
  exit 1
fi
echo "memcheck: clean"
