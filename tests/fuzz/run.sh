#!/usr/bin/env bash
# Builds narwhal's libFuzzer targets (clang 14, ASan + UBSan) in build-fuzz/ and runs each for
# <seconds> (default 60) on a temporary copy of its checked-in corpus, so the tree is never written
# to. Prints one line per target ("fuzz_x: ok …" or "fuzz_x: FAILED …"); exits non-zero when a
# target failed to build, crashed, leaked, ran out of memory or timed out. Crash inputs are kept
# in build-fuzz/crashes/ and their paths printed.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: tests/fuzz/run.sh [seconds per target, default 60]" >&2
  exit 2
fi

targets=(fuzz_filter fuzz_headers)
build=build-fuzz
cxx=${FUZZ_CXX:-clang++-14}

fail_all() {  # <why>
  for t in "${targets[@]}"; do echo "$t: FAILED ($1)"; done
  exit 1
}

if ! command -v "$cxx" >/dev/null; then
  echo "run.sh: $cxx not found (scripts/setup.sh --test installs clang-14 and libfuzzer-14-dev)" >&2
  fail_all "no $cxx"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$build/build.ninja" ]; then
  wipe=()
  # An earlier setup that failed half-way: start again.
  if [ -f "$build/meson-private/coredata.dat" ]; then wipe=(--wipe); else rm -rf "$build"; fi
  # -fsanitize=fuzzer-no-link on everything: the libraries under test get coverage feedback too,
  # not only the fuzz targets (which add -fsanitize=fuzzer themselves, for libFuzzer's main).
  # -fno-sanitize=function: clang 14 cannot emit that check's prologue data for C++20 coroutines
  # ("Cannot represent a difference across sections" in src/http/server.cpp).
  # -Wno-ambiguous-reversed-operator: RapidJSON 1.1.0's iterator operator== (C++20 rewritten
  # comparisons) warns at every `it == doc.MemberEnd()`.
  # werror=false: the g++ builds enforce -Werror on our code; clang-only warnings must not stop
  # the fuzzers from running (the build log is shown when a build fails).
  if ! CXX=$cxx meson setup "$build" "${wipe[@]}" --wrap-mode=nofallback -Dfuzz=enabled \
      -Dtests=disabled -Db_sanitize=address,undefined -Db_lundef=false \
      --buildtype=debugoptimized -Dwerror=false \
      "-Dcpp_args=['-fsanitize=fuzzer-no-link','-fno-sanitize=function','-Wno-ambiguous-reversed-operator']" \
      >"$work/setup.log" 2>&1
  then
    cat "$work/setup.log" >&2
    fail_all "meson setup"
  fi
fi

# Sanitizer settings for the runs, independent of the caller's environment: UBSan findings are
# crashes (but for known third-party defects), leaks are failures.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan-suppressions.txt

crashes=$build/crashes
mkdir -p "$crashes"

stat_of() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }

status=0
for t in "${targets[@]}"; do
  corpus_name=${t#fuzz_}
  # One compiler at a time: the machine is shared.
  if ! ninja -C "$build" -j1 "tests/fuzz/$t" >"$work/$t.build.log" 2>&1; then
    tail -n 40 "$work/$t.build.log"
    echo "$t: FAILED (build; see above)"
    status=1
    continue
  fi
  mkdir -p "$work/$t.corpus"
  cp -R "tests/fuzz/corpus/$corpus_name/." "$work/$t.corpus/"
  log=$work/$t.log
  # The outer timeout is a guard only: libFuzzer stops itself after -max_total_time.
  timeout -k 10 $((seconds * 2 + 120)) "$build/tests/fuzz/$t" "$work/$t.corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/$t-" -dict="tests/fuzz/$corpus_name.dict" >"$log" 2>&1
  rc=$?
  runs=$(stat_of number_of_executed_units)
  speed=$(stat_of average_exec_per_sec)
  added=$(stat_of new_units_added)
  rss=$(stat_of peak_rss_mb)
  cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "$t: ok, ${runs:-?} runs in ${seconds}s (${speed:-?} exec/s), ${cov:-cov: ?}," \
      "${added:-0} new inputs, peak RSS ${rss:-?} MB"
  else
    # The report (sanitizer stack, invariant message) and the saved input.
    grep -a -v -e '^#[0-9]' -e 'NEW_FUNC' -e '^INFO:' -e '# Uses:' -e 'ecommended dictionary' "$log" |
      tail -n 80
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "$t: FAILED (exit $rc) after ${runs:-?} runs; input: ${artifact:-none saved}"
    status=1
  fi
done
exit $status
