#!/usr/bin/env bash
# Installs what narwhal needs to build (and, with --test or --bench, to test or benchmark) on a
# Debian 12 / Ubuntu machine. Idempotent: installs only what is missing. Uses sudo when not root.
set -euo pipefail

want_test=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;
    *) echo "setup.sh: unknown option $arg (use --test, --bench)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then
    $SUDO apt-get update -q >/dev/null
    updated=1
  fi
}

# Boost 1.81+ (Asio with as_tuple, Beast): Debian 12 ships it beside the default 1.74.
boost_pkg=""
for v in 1.83 1.82 1.81; do
  if dpkg-query -W -f='${Status}' "libboost$v-dev" 2>/dev/null | grep -q "install ok installed"; then
    boost_pkg="libboost$v-dev"
    break
  fi
done
if [ -z "$boost_pkg" ]; then
  apt_update
  for v in 1.83 1.82 1.81; do
    if apt-cache show "libboost$v-dev" >/dev/null 2>&1; then boost_pkg="libboost$v-dev"; break; fi
  done
  if [ -z "$boost_pkg" ]; then
    echo "setup.sh: no Boost 1.81 or newer is packaged for this system" >&2
    exit 1
  fi
fi

pkgs=(meson ninja-build pkg-config g++ cmake "$boost_pkg" rapidjson-dev libpugixml-dev
      libcpp-httplib-dev prometheus-cpp-dev doctest-dev libssl-dev zlib1g-dev libxxhash-dev
      libre2-dev libtomlplusplus-dev libcli11-dev curl libzstd-dev libbrotli-dev libyaml-cpp-dev)
if [ "$want_test" -eq 1 ]; then
  # A real dockerd in swarm mode for the integration tests, and a static busybox for its image.
  # clang 14 and libFuzzer for the fuzz targets (tests/fuzz/run.sh).
  pkgs+=(docker.io busybox-static iproute2 util-linux procps openssl clang-14 libfuzzer-14-dev)
  # Third-party clients that must accept narwhal's representations: a feed reader, a JSON-LD
  # processor (both for Debian's python3) and an OpenAPI linter (npm, tests/tools).
  pkgs+=(python3-feedparser python3-pyld)
  # The fault tests: socat stands between narwhal and dockerd so a test can cut the connection;
  # Prometheus's own Python parser reads /-/metrics.
  pkgs+=(socat python3-prometheus-client)
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
if [ "$want_bench" -eq 1 ]; then
  pkgs+=(wrk nginx-light util-linux)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want_test" -eq 1 ]; then
  # The OpenAPI linter the tests run (tests/tools/package-lock.json pins it).
  tools="$(cd "$(dirname "$0")/.." && pwd)/tests/tools"
  if [ ! -d "$tools/node_modules" ]; then
    echo "setup.sh: installing the test tools in tests/tools (npm ci)"
    npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null
  fi
fi
