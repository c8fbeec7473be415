#!/usr/bin/env python3
"""How long a webhook holds the zone's lock, and waits for it (issue 17).

  bench/ingest/lock_hold.py [--module SO] [--workers 1,2] [--seconds 3]
                            [--zone 768m] [--label NAME]

bench/ingest measures throughput and the share of CPU spent spinning on
the lock; on a 2-CPU machine shared with wrk neither can show how long
the lock is held.  This times it: nginx with the module answers
bench/ingest's signed 16 KB webhook (post.lua, wrk) in the steady state
(the zone filled until it refuses and drained once, as bench/ingest
does), while perf records three uprobes in nginx's workers:
ngx_shmtx_lock's entry and return and ngx_shmtx_unlock's entry (the
zone's mutex is the only ngx_shmtx these workers take).  From each
worker's sequence of them:

  wait   lock entry -> lock return (spinning, sched_yield, the semaphore)
  hold   lock return -> unlock entry

Each probe is a trap: on these VMs about 1-2 us, part of which falls
inside the intervals, so the numbers are each larger than the real ones
by a constant; compare two builds in the same run, not with other
tools.  The minimum hold is printed to show that constant.  Needs root
(uprobes), perf and wrk; uses 127.0.0.1 only and stops by itself.
Prints one table, and one JSON line per worker count.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
NGINX = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
PERF = os.environ.get("PERF", "perf")
SHOP = "bench.myshopify.com"
TOPIC = "orders/updated"
SECRET = "bench-shared-secret-0123456789abcdef"
PROBES = ("ngx_shmtx_lock", "ngx_shmtx_lock__return", "ngx_shmtx_unlock")

CONF = """
daemon on;
master_process on;
worker_processes {workers};
pid {prefix}/logs/nginx.pid;
error_log {prefix}/logs/error.log warn;
load_module {module};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    client_body_buffer_size 64k;
    client_max_body_size 1m;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    order_edit_zone bench:{zone};
    order_edit_store {shop} {{
        secret "{secret}";
        rate 1000000r/s burst=1000000;
        max_body 1m;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /webhooks/shopify {{ order_edit_webhook bench; }}
        location = /q {{ order_edit_queue_debug bench; }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_of(master):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            out.append(int(p))
    return sorted(out)


class Server:

    def __init__(self, work, module, workers, zone):
        self.prefix = os.path.join(work, "w%d" % workers)
        os.makedirs(os.path.join(self.prefix, "logs"))
        os.makedirs(os.path.join(self.prefix, "tmp"))
        self.port = free_port()
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(workers=workers, prefix=self.prefix,
                                module=module, zone=zone, shop=SHOP,
                                secret=SECRET, port=self.port))
        subprocess.run([NGINX, "-p", self.prefix + "/", "-c", self.conf,
                        "-e", self.prefix + "/logs/error.log"], check=True)
        with open(os.path.join(self.prefix, "logs", "nginx.pid")) as f:
            self.master = int(f.read())
        for _ in range(100):
            w = workers_of(self.master)
            if len(w) >= workers:
                break
            time.sleep(0.05)
        self.workers = workers_of(self.master)

    def stop(self):
        try:
            os.kill(self.master, signal.SIGQUIT)
        except OSError:
            return
        for _ in range(100):
            try:
                os.kill(self.master, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(self.master, signal.SIGKILL)


def wrk(server, payload, mac, seconds, nonce):
    out = subprocess.run(
        ["wrk", "-t1", "-c32", "-d%ds" % seconds, "-s",
         os.path.join(HERE, "post.lua"),
         "http://127.0.0.1:%d/webhooks/shopify" % server.port, "--",
         payload, mac, SHOP, TOPIC, str(nonce)],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"^BENCH_RESULT (.*)$", out, re.M)
    return json.loads(m.group(1))


def steady(server, payload, mac, nonce):
    """Fill the zone until it refuses, then drain it (bench/ingest's)."""
    for _ in range(120):
        nonce += 1
        if wrk(server, payload, mac, 2, nonce)["err_status"] > 0:
            break
    else:
        sys.exit("lock_hold: the zone did not fill")
    subprocess.run([sys.executable, os.path.join(TOP, "bench",
                                                 "queue_drain.py"),
                    "--port", str(server.port)], check=True,
                   capture_output=True)
    return nonce


def probes(add):
    subprocess.run([PERF, "probe", "-q", "-d", "probe_nginx:ngx_shmtx_*"],
                   capture_output=True)
    if add:
        for p in ("ngx_shmtx_lock", "ngx_shmtx_lock%return",
                  "ngx_shmtx_unlock"):
            subprocess.run([PERF, "probe", "-q", "-x", NGINX, "--add", p],
                           check=True, capture_output=True)


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def analyse(data):
    out = subprocess.run([PERF, "script", "--ns", "-i", data,
                          "-F", "tid,time,event"],
                         capture_output=True, text=True).stdout
    holds, waits, last = [], [], {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+([\d.]+):\s+probe_nginx:(\w+)", line)
        if not m:
            continue
        tid, t, ev = int(m.group(1)), float(m.group(2)) * 1e6, m.group(3)
        prev = last.get(tid)
        if ev == "ngx_shmtx_lock__return" and prev and prev[0] == \
                "ngx_shmtx_lock":
            waits.append(t - prev[1])
        elif ev == "ngx_shmtx_unlock" and prev and prev[0] == \
                "ngx_shmtx_lock__return":
            holds.append(t - prev[1])
        last[tid] = (ev, t)
    holds.sort()
    waits.sort()
    return holds, waits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", default=os.path.join(
        TOP, "build", "ngx_http_order_edit_module.so"))
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--zone", default="768m")
    ap.add_argument("--label", default="")
    a = ap.parse_args()

    if os.geteuid() != 0 or not shutil.which(PERF) or not shutil.which("wrk"):
        sys.exit("lock_hold: needs root, perf and wrk")
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev",
                        "/sys/kernel/tracing"], check=True)

    work = tempfile.mkdtemp(prefix="bench-lockhold.")
    payload = os.path.join(work, "order.json")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_payload.py"),
                    "--size", "16384", "--out", payload], check=True,
                   capture_output=True)
    with open(payload, "rb") as f:
        mac = base64.b64encode(hmac.new(SECRET.encode(), f.read(),
                                        hashlib.sha256).digest()).decode()
    probes(True)
    label = a.label or os.path.basename(a.module)
    print("%-12s %2s %8s %6s %9s %9s %9s %9s %9s %9s" % (
        "build", "w", "r/s", "locks", "hold us", "min", "median", "p99",
        "wait us", "held %"))
    nonce = 0
    try:
        for w in (int(x) for x in a.workers.split(",")):
            srv = Server(work, os.path.abspath(a.module), w, a.zone)
            try:
                nonce = steady(srv, payload, mac, nonce)
                nonce += 1
                wrk(srv, payload, mac, 1, nonce)
                data = os.path.join(work, "w%d.data" % w)
                rec = subprocess.Popen(
                    [PERF, "record", "-q", "-o", data,
                     "-e", "probe_nginx:ngx_shmtx_lock",
                     "-e", "probe_nginx:ngx_shmtx_lock__return",
                     "-e", "probe_nginx:ngx_shmtx_unlock",
                     "-p", ",".join(map(str, srv.workers)), "--",
                     "sleep", str(a.seconds)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                nonce += 1
                r = wrk(srv, payload, mac, a.seconds + 1, nonce)
                rec.wait()
            finally:
                srv.stop()
            holds, waits = analyse(data)
            rps = r["requests"] / (a.seconds + 1)
            n = r["requests"] * a.seconds / (a.seconds + 1)
            res = {
                "build": label, "workers": w, "rps": round(rps),
                "locks_per_request": round(len(holds) / n, 2) if n else 0,
                "hold_us_per_request": round(sum(holds) / n, 2) if n else 0,
                "hold_min_us": round(pct(holds, 0), 2),
                "hold_median_us": round(pct(holds, 0.5), 2),
                "hold_p99_us": round(pct(holds, 0.99), 2),
                "wait_us_per_request": round(sum(waits) / n, 2) if n else 0,
                "held_share": round(sum(holds) / (a.seconds * 1e6), 4),
            }
            print("%-12s %2d %8d %6.2f %9.2f %9.2f %9.2f %9.2f %9.2f %8.1f%%"
                  % (label[:12], w, res["rps"], res["locks_per_request"],
                     res["hold_us_per_request"], res["hold_min_us"],
                     res["hold_median_us"], res["hold_p99_us"],
                     res["wait_us_per_request"], 100 * res["held_share"]))
            print("LOCK_HOLD " + json.dumps(res))
    finally:
        probes(False)
        shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
