#!/usr/bin/env python3
"""Heavy, uncached list requests at scale, and what they do to everybody else.

Starts narwhal on a generated swarm (10 000 services, 100 000 tasks by default, a still swarm),
then:

1. times each sort field and a two-clause filter over every task, uncached (each request's
   filter differs, so no body is reused), one request at a time: the cost of one list request;
2. runs N clients (default 4) sending such requests in a loop while a prober asks /-/health and
   a cached /services?limit=50 ten times a second, and prints their latencies next to the same
   probes on the idle server (the floor): whether a cache hit or a probe waits behind renders;
3. sends 100 000 cache-busting requests (distinct unknown parameters and distinct filters) and
   prints the RSS before and after, next to --cache-bytes.

Usage: tests/bench/heavy_load.py [path/to/narwhal]      (default build/src/narwhal)
Environment: BENCH_SERVICES=10000, BENCH_TASKS_PER_SERVICE=10, BENCH_CLIENTS=4,
BENCH_SECONDS=15, BENCH_BUSTS=100000, BENCH_PORT=19300, BENCH_ARGS (more narwhal options).
Not part of any test suite: run it on a quiet machine and read the ratios.
"""
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

binary = sys.argv[1] if len(sys.argv) > 1 else "build/src/narwhal"
services = int(os.environ.get("BENCH_SERVICES", "10000"))
per_service = int(os.environ.get("BENCH_TASKS_PER_SERVICE", "10"))
clients = int(os.environ.get("BENCH_CLIENTS", "4"))
seconds = float(os.environ.get("BENCH_SECONDS", "15"))
busts = int(os.environ.get("BENCH_BUSTS", "100000"))
port = int(os.environ.get("BENCH_PORT", "19300"))
extra = os.environ.get("BENCH_ARGS", "").split()


def connect():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, time.perf_counter() - t0, body


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ms(v):
    return f"{v * 1000:.2f} ms"


proc = subprocess.Popen(
    [binary, "--demo", "--demo-services", str(services), "--demo-tasks-per-service",
     str(per_service), "--demo-churn", "0", "--listen", f"127.0.0.1:{port}",
     "--log-level", "warn", *extra])
try:
    deadline = time.time() + 120
    while True:
        try:
            c = connect()
            if get(c, "/-/ready")[0] == 200:
                break
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit("narwhal did not become ready")
        time.sleep(0.2)
    conn = connect()
    print(f"narwhal {binary}: {services} services x {per_service} tasks, "
          f"RSS {rss_mib(proc.pid):.0f} MiB after the first sync")

    # 1. One uncached list request of each kind (a distinct filter makes each a miss).
    counter = [0]

    def heavy(i, sort="service"):
        f = f'slot > {i % 7} && desired_state == "running" || service_name contains "x{i}"'
        return ("/tasks?limit=50&sort=" + sort + "&filter=" + urllib.parse.quote(f))

    print("\n1. one uncached request over every task (median of 5):")
    for sort in ["created", "service", "node", "state", "slot"]:
        times = []
        for k in range(5):
            counter[0] += 1
            status, t, _ = get(conn, heavy(counter[0], sort))
            if status != 200:
                sys.exit(f"sort={sort}: HTTP {status}")
            times.append(t)
        print(f"   sort={sort:8} + two-clause filter: {ms(statistics.median(times))}")

    # 2. Probes on the idle server (the floor), then under load.
    def probe(duration):
        c = connect()
        get(c, "/services?limit=50")  # cached from here on
        health, cached = [], []
        end = time.time() + duration
        while time.time() < end:
            health.append(get(c, "/-/health")[1])
            cached.append(get(c, "/services?limit=50")[1])
            time.sleep(0.1)
        return health, cached

    idle_h, idle_c = probe(3)
    stop = threading.Event()
    done = [0]
    refused = [0]

    def load(n):
        c = connect()
        i = n * 1_000_000
        while not stop.is_set():
            i += 1
            status, _, _ = get(c, heavy(i, ["service", "node", "state"][i % 3]))
            if status == 200:
                done[0] += 1
            elif status == 503:
                refused[0] += 1

    workers = [threading.Thread(target=load, args=(n,)) for n in range(clients)]
    for w in workers:
        w.start()
    time.sleep(0.5)
    busy_h, busy_c = probe(seconds)
    stop.set()
    for w in workers:
        w.join()
    print(f"\n2. {clients} clients of uncached heavy lists for {seconds:.0f} s "
          f"({done[0] / seconds:.0f} answered/s, {refused[0]} refused with 503):")
    for name, idle, busy in [("/-/health", idle_h, busy_h),
                             ("cached /services?limit=50", idle_c, busy_c)]:
        print(f"   {name:26} p50 {ms(pct(busy, 50))}  p99 {ms(pct(busy, 99))}  "
              f"max {ms(max(busy))}   (idle p99 {ms(pct(idle, 99))}: "
              f"{pct(busy, 99) / pct(idle, 99):.1f}x)")

    # 3. Cache busting.
    before = rss_mib(proc.pid)
    c = connect()
    t0 = time.time()
    for i in range(busts):
        path = (f"/tasks?limit=200&x={i}" if i % 2 == 0
                else "/tasks?limit=200&filter=" + urllib.parse.quote(f'name != "b{i}"'))
        get(c, path)
    after = rss_mib(proc.pid)
    metrics = get(c, "/-/metrics")[2].decode()
    cache = [l for l in metrics.splitlines() if l.startswith("narwhal_cache_bytes ")]
    print(f"\n3. {busts} cache-busting requests in {time.time() - t0:.0f} s: "
          f"RSS {before:.0f} -> {after:.0f} MiB; {cache[0] if cache else ''} "
          f"(budget: --cache-bytes, 256 MiB by default)")
finally:
    proc.terminate()
    proc.wait()
