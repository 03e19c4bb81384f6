#!/usr/bin/env bash
# How close does narwhal come to nginx serving the same bytes? Both servers get one core (the
# same one, in turn), wrk gets another, and each serves GET /services?limit=50: once as a full
# 200, once as a 304 to a matching If-None-Match, and once as a 200 to Accept-Encoding: gzip.
# nginx is the ceiling for "copy a cached body to a socket", so the ratios say how much narwhal's
# request path costs beyond that. For gzip, nginx serves narwhal's own gzip bytes with gzip_static
# (a file compressed ahead of time), which is what narwhal's cache of compressed responses should
# come close to: neither server compresses per request.
#
# A third server is the floor: tests/bench/bare_server (a bare Boost.Beast server that parses the
# request head and writes one of three pre-serialised responses, nothing else). nginx is set up
# as an operator serving static files would: sendfile, tcp_nopush, open_file_cache, and
# keep-alive connections that are never recycled during a run.
#
# Usage: tests/bench/http_vs_nginx.sh [path/to/narwhal]     (default build/src/narwhal)
#   BARE=build/tests/bench/bare_server (ninja -C build tests/bench/bare_server); "" skips it
#
# Environment:
#   BENCH_DURATION=10s       wrk run time for each of the six runs
#   BENCH_CONNECTIONS=32     wrk connections
#   BENCH_SERVER_CPU=0       core both servers are pinned to
#   BENCH_CLIENT_CPU=1       core wrk is pinned to
#   BENCH_NARWHAL_PORT=19080, BENCH_NGINX_PORT=19081
#   NGINX=/usr/sbin/nginx
#   BENCH_BODY=file          skip narwhal; serve this file with nginx alone (checks the harness
#                            without a narwhal build; its gzip form is made by gzip -9 -n)
#
# Not part of any test suite: run it on a quiet machine, and read the numbers as ratios.
set -euo pipefail

narwhal_bin=${1:-build/src/narwhal}
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
narwhal_port=${BENCH_NARWHAL_PORT:-19080}
nginx_port=${BENCH_NGINX_PORT:-19081}
bare_port=${BENCH_BARE_PORT:-19082}
bare_bin=${BARE-build/tests/bench/bare_server}
bare_pid=
nginx_bin=${NGINX:-/usr/sbin/nginx}
body_only=${BENCH_BODY:-}
ready_timeout_s=60
uri=/services

narwhal_pid=
nginx_pid=
tmp=

die() {
  echo "http_vs_nginx: $*" >&2
  exit 1
}

warn() {
  echo "http_vs_nginx: warning: $*" >&2
}

# Stops only what this script started: TERM, a bounded wait, then KILL.
stop() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  stop "$narwhal_pid"
  stop "$nginx_pid"
  stop "$bare_pid"
  if [[ -n $tmp ]]; then rm -rf -- "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_until NAME PID LOG COMMAND...: polls COMMAND until it succeeds; dies with the server's log
# when the server exits or the time runs out.
wait_until() {
  local name=$1 pid=$2 log=$3
  shift 3
  local deadline=$((SECONDS + ready_timeout_s))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$name exited before it was ready"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$log" >&2 || true
      die "$name was not ready within ${ready_timeout_s}s"
    fi
    sleep 0.2
  done
}

# header_value FILE NAME: the value of header NAME in a curl -D dump (last response wins).
header_value() {
  awk -v name="$2" '
    BEGIN { name = tolower(name) ":" }
    { sub(/\r$/, "") }
    tolower(substr($0, 1, length(name))) == name { value = substr($0, length(name) + 1) }
    END { sub(/^[ \t]+/, "", value); print value }
  ' "$1"
}

# check_304 NAME URL ETAG: warns unless the server answers 304 to If-None-Match: ETAG.
check_304() {
  local name=$1 url=$2 etag=$3 code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url") || true
  if [[ $code != 304 ]]; then
    warn "$name answered $code, not 304, to If-None-Match: $etag"
  fi
}

# run_wrk URL [HEADER]: prints wrk's requests/s; warns about errors and non-2xx/3xx answers.
run_wrk() {
  local url=$1 header=${2:-} out
  local args=(-t1 "-c$connections" "-d$duration")
  if [[ -n $header ]]; then args+=(-H "$header"); fi
  out=$(taskset -c "$client_cpu" wrk "${args[@]}" "$url") || die "wrk failed against $url"
  local trouble
  trouble=$(grep -E 'Non-2xx or 3xx responses|Socket errors' <<<"$out" | tr -s ' ') || true
  if [[ -n $trouble ]]; then warn "wrk against $url: $trouble"; fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

ratio() {
  awk -v a="$1" -v b="$2" '
    BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

for tool in taskset wrk curl awk gzip cmp; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $nginx_bin ]] || die "nginx not found at $nginx_bin (set NGINX=...)"
if [[ -z $body_only ]]; then
  [[ -x $narwhal_bin ]] || die "narwhal binary not found at $narwhal_bin (pass its path)"
  if port_in_use "$narwhal_port"; then
    die "port $narwhal_port is in use (set BENCH_NARWHAL_PORT)"
  fi
else
  [[ -r $body_only ]] || die "BENCH_BODY=$body_only is not a readable file"
fi
if port_in_use "$nginx_port"; then die "port $nginx_port is in use (set BENCH_NGINX_PORT)"; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/narwhal-bench.XXXXXX")
# nginx's worker runs as another user (nobody) when started as root: it must be able to read.
chmod go+rx "$tmp"
body=$tmp/services.json
# gzip_static serves the file nginx would serve plus ".gz", when the client accepts gzip.
body_gz=$body.gz

narwhal_url="http://127.0.0.1:$narwhal_port$uri?limit=50"
narwhal_etag=
if [[ -z $body_only ]]; then
  taskset -c "$server_cpu" "$narwhal_bin" --demo --demo-services 1000 --demo-tasks-per-service 3 \
    --demo-churn 0 --listen "127.0.0.1:$narwhal_port" --threads 1 >"$tmp/narwhal.log" 2>&1 &
  narwhal_pid=$!
  wait_until narwhal "$narwhal_pid" "$tmp/narwhal.log" \
    curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$narwhal_port/-/ready"
  curl -sf -D "$tmp/narwhal.headers" -o "$body" "$narwhal_url" ||
    die "GET $narwhal_url failed"
  narwhal_etag=$(header_value "$tmp/narwhal.headers" ETag)
  [[ -n $narwhal_etag ]] || warn "narwhal sent no ETag; skipping its 304 run"
else
  cp -- "$body_only" "$body"
fi
chmod go+r "$body"

# The gzip body: narwhal's own bytes when it compresses, so that both servers send the same
# response; gzip(1)'s otherwise, so that nginx's side of the harness still runs.
narwhal_gzip=
if [[ -z $body_only ]]; then
  # No --compressed: curl then keeps the bytes as sent and adds no Accept-Encoding of its own.
  curl -sf -H 'Accept-Encoding: gzip' -D "$tmp/narwhal-gzip.headers" -o "$body_gz" \
    "$narwhal_url" || die "GET $narwhal_url with Accept-Encoding: gzip failed"
  coding=$(header_value "$tmp/narwhal-gzip.headers" Content-Encoding)
  if [[ ${coding,,} == gzip ]]; then
    gzip -dc -- "$body_gz" | cmp -s - "$body" ||
      die "narwhal's gzip body does not decompress to its uncompressed body"
    narwhal_gzip=yes
    # SPEC §6: a compressed response carries the weak form of the uncompressed body's tag.
    gzip_etag=$(header_value "$tmp/narwhal-gzip.headers" ETag)
    if [[ -n $narwhal_etag && $gzip_etag != "W/$narwhal_etag" ]]; then
      warn "narwhal's gzip ETag is '$gzip_etag', not W/$narwhal_etag"
    fi
  else
    warn "narwhal answered Accept-Encoding: gzip with Content-Encoding '${coding}'; skipping its" \
      "gzip run"
  fi
fi
if [[ -z $narwhal_gzip ]]; then gzip -9 -n -c -- "$body" >"$body_gz"; fi
chmod go+r "$body_gz"
gzip_static=
if "$nginx_bin" -V 2>&1 | grep -q -- "--with-http_gzip_static_module"; then
  gzip_static="gzip_static on;"
else
  warn "$nginx_bin is built without gzip_static; skipping the gzip runs"
fi

# nginx's compiled-in temp paths are under /var/lib/nginx; keep every one of them in $tmp so that
# the benchmark needs no root and leaves nothing behind. Only modules built in take a directive.
temp_paths="client_body_temp_path $tmp/client_body;"
for module in proxy fastcgi uwsgi scgi; do
  if ! "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${module}_module"; then
    temp_paths+=$'\n'"    ${module}_temp_path $tmp/$module;"
  fi
done

cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    $temp_paths
    types { }
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    open_file_cache max=64 inactive=300s;
    open_file_cache_valid 300s;
    server {
        listen 127.0.0.1:$nginx_port;
        etag on;
        location = $uri {
            default_type application/json;
            alias $body;
            $gzip_static
        }
    }
}
EOF

taskset -c "$server_cpu" "$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" \
  >"$tmp/nginx.log" 2>&1 &
nginx_pid=$!
nginx_url="http://127.0.0.1:$nginx_port$uri?limit=50"
wait_until nginx "$nginx_pid" "$tmp/nginx-error.log" port_in_use "$nginx_port"
curl -sf -D "$tmp/nginx.headers" -o "$tmp/nginx.body" "$nginx_url" || die "GET $nginx_url failed"
cmp -s "$body" "$tmp/nginx.body" || die "nginx does not serve the bytes narwhal served"
nginx_etag=$(header_value "$tmp/nginx.headers" ETag)
[[ -n $nginx_etag ]] || die "nginx sent no ETag"

if [[ -n $gzip_static ]]; then
  curl -sf -H 'Accept-Encoding: gzip' -D "$tmp/nginx-gzip.headers" -o "$tmp/nginx.body.gz" \
    "$nginx_url" || die "GET $nginx_url with Accept-Encoding: gzip failed"
  coding=$(header_value "$tmp/nginx-gzip.headers" Content-Encoding)
  [[ ${coding,,} == gzip ]] || die "nginx answered Accept-Encoding: gzip without gzip_static"
  cmp -s "$body_gz" "$tmp/nginx.body.gz" || die "nginx does not serve the gzip bytes it was given"
fi

if [[ -n $narwhal_etag ]]; then check_304 narwhal "$narwhal_url" "$narwhal_etag"; fi
check_304 nginx "$nginx_url" "$nginx_etag"

bare_url=
if [[ -n $bare_bin && -z $body_only ]]; then
  [[ -x $bare_bin ]] || die "bare server not found at $bare_bin (ninja -C build tests/bench/bare_server, or BARE=)"
  taskset -c "$server_cpu" "$bare_bin" "$bare_port" "$body" "$body_gz" "$narwhal_etag" \
    >"$tmp/bare.log" 2>&1 &
  bare_pid=$!
  wait_until bare "$bare_pid" "$tmp/bare.log" port_in_use "$bare_port"
  bare_url="http://127.0.0.1:$bare_port$uri?limit=50"
  curl -sf -o "$tmp/bare.body" "$bare_url" || die "GET $bare_url failed"
  cmp -s "$body" "$tmp/bare.body" || die "the bare server does not serve narwhal's bytes"
  check_304 bare "$bare_url" "$narwhal_etag"
fi

gzip_from="gzip -9 -n"
if [[ -n $narwhal_gzip ]]; then gzip_from=narwhal; fi
echo "body: $(wc -c <"$body") bytes, gzip $(wc -c <"$body_gz") bytes (from $gzip_from);" \
  "servers on core $server_cpu, wrk on core $client_cpu; $connections connections," \
  "$duration per run"

narwhal_200=
narwhal_304=
if [[ -z $body_only ]]; then narwhal_200=$(run_wrk "$narwhal_url"); fi
nginx_200=$(run_wrk "$nginx_url")
bare_200= bare_304= bare_gz=
if [[ -n $bare_url ]]; then
  bare_200=$(run_wrk "$bare_url")
  bare_304=$(run_wrk "$bare_url" "If-None-Match: $narwhal_etag")
  bare_gz=$(run_wrk "$bare_url" "Accept-Encoding: gzip")
fi
if [[ -n $narwhal_etag ]]; then
  narwhal_304=$(run_wrk "$narwhal_url" "If-None-Match: $narwhal_etag")
fi
nginx_304=$(run_wrk "$nginx_url" "If-None-Match: $nginx_etag")
narwhal_gz=
nginx_gz=
if [[ -n $gzip_static ]]; then
  if [[ -n $narwhal_gzip ]]; then
    narwhal_gz=$(run_wrk "$narwhal_url" "Accept-Encoding: gzip")
  fi
  nginx_gz=$(run_wrk "$nginx_url" "Accept-Encoding: gzip")
fi

row() {  # label narwhal nginx bare
  printf '%-24s %12s %12s %12s %14s %13s\n' "$1" "${2:-n/a}" "${3:-n/a}" "${4:-n/a}" \
    "$(ratio "$2" "$3")" "$(ratio "$2" "$4")"
}
printf '\n%-24s %12s %12s %12s %14s %13s\n' "GET $uri?limit=50, req/s" narwhal nginx bare \
  narwhal/nginx narwhal/bare
row "200" "$narwhal_200" "$nginx_200" "$bare_200"
row "304 (If-None-Match)" "$narwhal_304" "$nginx_304" "$bare_304"
row "200 gzip" "$narwhal_gz" "$nginx_gz" "$bare_gz"
