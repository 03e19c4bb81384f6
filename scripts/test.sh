#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test: the unit suites and the integration
# suite against a real dockerd in swarm mode, first in a normal build, then in an
# AddressSanitizer + UndefinedBehaviorSanitizer build; then the threaded modules under
# ThreadSanitizer and the fuzzers. Needs root (or sudo) for dockerd.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1

total_ok=0
total_fail=0
run_suite() {  # <build dir> <label>
  local dir=$1 label=$2
  echo "== $label: meson test"
  meson test -C "$dir" --print-errorlogs --num-processes 2
  local rc=$?
  local counts
  counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
        ok += 1
    else:
        fail += 1
print(ok, fail)
PY
)
  total_ok=$((total_ok + ${counts% *}))
  total_fail=$((total_fail + ${counts#* }))
  return $rc
}

status=0
if [ ! -d build ]; then
  meson setup build --wrap-mode=nofallback >/dev/null || exit 1
fi
ninja -C build || exit 1
run_suite build "debugoptimized build" || status=1

if [ ! -d build-asan ]; then
  # -O0 (buildtype debug): the sanitizers see the code as written, and it builds fastest.
  meson setup build-asan --wrap-mode=nofallback --buildtype=debug \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-asan || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan "ASan+UBSan build" || status=1

# ThreadSanitizer over the modules whose threads share state: the store and its history, the
# live hub, the watcher (with the simulated engine). Each test program counts as one test. The
# hub's batch-window test measures delivery times, which TSan's slowdown distorts: it runs in
# the other two builds.
echo "== ThreadSanitizer build: state, live, watch"
if [ ! -d build-tsan ]; then
  meson setup build-tsan --wrap-mode=nofallback --buildtype=debug -Db_sanitize=thread \
    -Db_lundef=false >/dev/null || exit 1
fi
tsan_targets=(state live watch)
ninja -C build-tsan "${tsan_targets[@]/#/tests/unit/unit_}" || exit 1
for t in "${tsan_targets[@]}"; do
  if TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      timeout 900 "build-tsan/tests/unit/unit_$t" -tce="the batch window*" >"build-tsan/$t.log" 2>&1; then
    echo "tsan $t: ok ($(grep -o 'test cases: *[0-9]* | *[0-9]* passed' "build-tsan/$t.log"))"
    total_ok=$((total_ok + 1))
  else
    tail -n 80 "build-tsan/$t.log"
    echo "tsan $t: FAILED"
    total_fail=$((total_fail + 1))
    status=1
  fi
done

# libFuzzer targets (clang, ASan+UBSan), 60 s each; each target counts as one test.
echo "== fuzz"
fuzz_log=$(mktemp)
bash tests/fuzz/run.sh 60 2>&1 | tee "$fuzz_log"
fuzz_rc=${PIPESTATUS[0]}
fuzz_ok=$(grep -c '^fuzz_[a-z_]*: ok' "$fuzz_log")
fuzz_fail=$(grep -c '^fuzz_[a-z_]*: FAILED' "$fuzz_log")
if [ "$fuzz_rc" -ne 0 ] && [ "$fuzz_fail" -eq 0 ]; then fuzz_fail=1; fi
rm -f "$fuzz_log"
total_ok=$((total_ok + fuzz_ok))
total_fail=$((total_fail + fuzz_fail))
[ "$fuzz_rc" -eq 0 ] || status=1

echo "tests: $total_ok passed, $total_fail failed"
exit $status
