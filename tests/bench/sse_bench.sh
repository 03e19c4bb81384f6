#!/usr/bin/env bash
# Issue 4: how does one narwhal hold 10 000 SSE streams while the engine changes 100 times a
# second? Runs tests/bench/sse_bench.cpp, which starts the simulated engine in its own process,
# spawns narwhal on it, opens the streams, drives the changes, and prints the server's RSS per
# idle stream, its CPU, and the delay from each engine change to a client's receipt.
# Aims: p99 delay < 250 ms (the 100 ms batch window included), < 20 KiB of server RSS per idle
# stream. It builds nothing: build the program first (it needs -Dtests=enabled):
#   meson configure build-release -Dtests=enabled && ninja -C build-release tests/bench/sse_bench
#
# Usage: tests/bench/sse_bench.sh [flags]       (sse_bench --help lists them all)
#   -n, --streams N=10000       SSE streams to open
#   --paths LIST=/events        URLs the streams spread over, e.g. /events,/services,/tasks
#   --services N=200            simulated services, --tasks-per-service N=10
#   --rate R=100                engine changes per second, for --duration S=30 seconds
#   --measured N=50             streams that parse every event for the delay; the others only
#                               count messages, so the clients leave the CPU to the server
#   --server-threads N=0        narwhal --threads (0 = one per core)
#   --client-threads N=1        threads running the client streams
#   --batch-ms MS=100           narwhal --sse-batch-interval
#   --server-arg=ARG            extra narwhal argument, repeatable
#
# Environment:
#   SSE_BENCH=build-release/tests/bench/sse_bench   the bench program
#   NARWHAL=build-release/src/narwhal               the server it spawns
#
# Both programs share this machine's cores: read the delay alongside the "this process" CPU line,
# and run it on a quiet machine. The open-file hard limit must exceed --streams (ulimit -Hn); the
# program raises the soft limit itself. Not part of any test suite.
set -euo pipefail

bench=${SSE_BENCH:-build-release/tests/bench/sse_bench}
narwhal_bin=${NARWHAL:-build-release/src/narwhal}

die() {
  echo "sse_bench: $*" >&2
  exit 1
}

[[ -x $bench ]] || die "no $bench: meson configure build-release -Dtests=enabled && ninja -C build-release tests/bench/sse_bench"
[[ -x $narwhal_bin ]] || die "no $narwhal_bin: ninja -C build-release src/narwhal"

exec "$bench" "$narwhal_bin" "$@"
