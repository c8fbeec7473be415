#!/usr/bin/env python3
"""bench/parse: the dispatching worker's event loop while NetSuite's large
answers are parsed, with and without the thread pool (issue 17).

One nginx worker (so the worker that dispatches is the one that answers
webhooks), the NetSuite simulator with a fixed latency, and N Sales Orders
of L lines seeded in it.  N orders/updated webhooks of L lines each (the
fixture's second line repeated, totals to match) are posted first; while
the dispatcher reads each order (L lines, expandSubResources), writes it
and reads it back, two clients measure the event loop:

  - a probe, GET /ping (return 204) on one kept-alive connection every
    5 ms: its worst answer time is the loop's worst stall;
  - small webhooks (3 KB, a shop without NetSuite, so they cost nothing
    downstream) posted at a fixed rate: their p99 answer time.

The same run is made with order_edit_curl parse_thread_pool=default (32
threads), with a pool of one thread of its own, and with
parse_thread_pool=off, in turn and in reverse order the next round, so
that a machine shared with other work disturbs them alike.  Python 3
standard library only; the helpers of the integration tests are imported.
"""

import argparse
import copy
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(TOP, "t", "fixtures", "shopify")
FIRST_ORDER_ID = 5200000000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    p.add_argument("--module", default=env("MODULE_SO", os.path.join(
        TOP, "build", "ngx_http_order_edit_module.so")))
    p.add_argument("--nginx", default=env("NGINX_BIN", "/usr/sbin/nginx"))
    p.add_argument("--orders", type=int, default=120)
    p.add_argument("--lines", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--latency-ms", type=int, default=20)
    p.add_argument("--rate", type=float, default=50.0,
                   help="small webhooks per second while it drains")
    p.add_argument("--rounds", type=int, default=2,
                   help="each round runs both configurations")
    p.add_argument("--threshold", default="16k")
    p.add_argument("--perf", action="store_true",
                   help="profile the worker's event loop thread (perf "
                        "record -t) while it drains: where its time goes")
    p.add_argument("--perf-keep", action="store_true",
                   help="keep perf.data files (their paths are logged)")
    p.add_argument("--out", default=os.path.join(TOP, "bench", "results"))
    return p.parse_args()


ARGS = parse_args()
os.environ["TEST_NGINX_BINARY"] = ARGS.nginx
os.environ["TEST_NGINX_LOAD_MODULES"] = os.path.abspath(ARGS.module)
sys.path.insert(0, os.path.join(TOP, "t", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

from ngxctl import NginxServer, sign  # noqa: E402
import simhelper  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "bench"))
import perf_profile  # noqa: E402


HTTP = """
    order_edit_zone edits:256m;
    order_edit_netsuite main {
        account __ACCOUNT__;
        endpoint http://127.0.0.1:__SIM__;
        consumer_key_file __KEYS__/ck;
        consumer_secret_file __KEYS__/cs;
        token_id_file __KEYS__/ti;
        token_secret_file __KEYS__/ts;
        concurrency __C__;
        timeout 30s;
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map __KEYS__/skus.map;
        max_body 4m;
    }
    order_edit_store small.myshopify.com {
        secret small;
    }
    order_edit_curl max_body=8m __PARSE__;
    order_edit_dispatch edits interval=20ms;
    server {
        listen 127.0.0.1:__PORT__;
        client_max_body_size 4m;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location = /ping { return 204; }
    }
"""


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))]


def money(cents):
    return "%d.%02d" % divmod(cents, 100)


def large_order(fix, order_id, n):
    """The fixture with its second line (2 x 24.50, tax 2.94) n times."""
    o = copy.deepcopy(fix)
    red = o["line_items"][1]
    o["line_items"] = []
    for i in range(n):
        line = copy.deepcopy(red)
        line["id"] = 700000000 + i
        line["title"] = "IPod Nano - 8gb, line %d" % i
        o["line_items"].append(line)
    sub, tax = 4900 * n, 294 * n
    for k in ("total_line_items_price", "subtotal_price",
              "current_subtotal_price"):
        o[k] = money(sub)
    for k in ("total_tax", "current_total_tax"):
        o[k] = money(tax)
    for k in ("total_price", "current_total_price"):
        o[k] = money(sub + tax + 999)
    o["id"] = order_id
    return json.dumps(o).encode()


def post(conn, shop, secret, body, wid):
    conn.request("POST", "/wh", body=body, headers={
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Webhook-Id": wid,
        "X-Shopify-API-Version": "2024-10"})
    r = conn.getresponse()
    r.read()
    return r.status


class Run:
    def __init__(self, name, parse, keys, a, fix, main=""):
        self.name, self.parse, self.keys, self.a = name, parse, keys, a
        self.fix, self.main = fix, main

    def start(self):
        a = self.a
        self.sim = simhelper.Sim(
            "--consumer-key-file", self.keys + "/ck",
            "--consumer-secret-file", self.keys + "/cs",
            "--token-id-file", self.keys + "/ti",
            "--token-secret-file", self.keys + "/ts",
            "--concurrency", str(a.concurrency),
            "--latency-ms", str(a.latency_ms), keys=False)
        http_block = (HTTP.replace("__ACCOUNT__", simhelper.ACCOUNT)
                      .replace("__SIM__", str(self.sim.port))
                      .replace("__KEYS__", self.keys)
                      .replace("__C__", str(a.concurrency))
                      .replace("__PARSE__", self.parse))
        self.ngx = NginxServer(http_block, workers=1, extra_main=self.main)
        self.ngx.start()

    def stop(self):
        for f in (self.ngx.stop, self.sim.stop):
            try:
                f()
            except Exception as e:  # noqa: BLE001
                log("stop:", e)

    def seed(self):
        line = {"item": {"id": "1002"}, "quantity": 2, "rate": 24.5,
                "amount": 49.0, "description": "IPod Nano - 8gb"}
        for i in range(self.a.orders):
            self.sim.seed_order("shopify-acme-%d" % (FIRST_ORDER_ID + i),
                                lines=[dict(line) for _ in
                                       range(self.a.lines)])

    def acked(self):
        st = self.ngx.status()["stores"]
        s = st["acme.myshopify.com"]
        return s["acked"], s["exceptions"]

    def measure(self):
        a = self.a
        fix = self.fix
        bodies = [large_order(fix, FIRST_ORDER_ID + i, a.lines)
                  for i in range(a.orders)]
        small = json.dumps(fix).encode()

        conn = http.client.HTTPConnection("127.0.0.1", self.ngx.port,
                                          timeout=60)
        t0 = time.monotonic()
        for i, b in enumerate(bodies):
            s = post(conn, "acme.myshopify.com", "acme", b,
                     "%s-big-%d" % (self.name, i))
            assert s == 200, s
        posted = time.monotonic() - t0

        stop = threading.Event()
        probe, hooks = [], []

        def prober():
            c = http.client.HTTPConnection("127.0.0.1", self.ngx.port,
                                           timeout=30)
            while not stop.is_set():
                t = time.perf_counter()
                c.request("GET", "/ping")
                c.getresponse().read()
                probe.append((time.perf_counter() - t) * 1000)
                time.sleep(0.005)

        def poster():
            c = http.client.HTTPConnection("127.0.0.1", self.ngx.port,
                                           timeout=30)
            n = 0
            next_t = time.monotonic()
            while not stop.is_set():
                t = time.perf_counter()
                post(c, "small.myshopify.com", "small", small,
                     "%s-small-%d" % (self.name, n))
                hooks.append((time.perf_counter() - t) * 1000)
                n += 1
                next_t += 1.0 / a.rate
                time.sleep(max(0.0, next_t - time.monotonic()))

        threads = [threading.Thread(target=prober),
                   threading.Thread(target=poster)]
        for t in threads:
            t.start()

        perf = None
        if a.perf:
            # the worker's own thread only: the event loop, not the pool
            pdata = os.path.join(tempfile.gettempdir(),
                                 "oe-parse-%s.perf" % self.name)
            perf = subprocess.Popen(
                [perf_profile.PERF, "record", "-q", "-e", "cpu-clock",
                 "-F", "1999", "-g", "-t", str(self.ngx.worker_pids()[0]),
                 "-o", pdata, "--", "sleep", "600"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        t1 = time.monotonic()
        deadline = t1 + 300
        done = (0, 0)
        while time.monotonic() < deadline:
            done = self.acked()
            if sum(done) >= a.orders:
                break
            time.sleep(0.2)
        drain = time.monotonic() - t1
        stop.set()
        for t in threads:
            t.join()

        prof = None
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait()
            prof = perf_profile.summarise(pdata, top=15)
            if not a.perf_keep:
                os.unlink(pdata)
            else:
                log("profile kept in", pdata)

        return {
            "config": self.name, "parse": self.parse,
            "orders": a.orders, "lines": a.lines,
            "webhook_bytes": len(bodies[0]), "post_s": round(posted, 2),
            "acked": done[0], "exceptions": done[1],
            "drain_s": round(drain, 2),
            "probe_n": len(probe),
            "stall_max_ms": round(max(probe), 2) if probe else None,
            "probe_p99_ms": round(pct(probe, 99), 2),
            "probe_p50_ms": round(pct(probe, 50), 2),
            "webhook_n": len(hooks),
            "webhook_p99_ms": round(pct(hooks, 99), 2),
            "webhook_p50_ms": round(pct(hooks, 50), 2),
            "webhook_max_ms": round(max(hooks), 2) if hooks else None,
            "loop_profile": prof,
        }


def main():
    a = ARGS
    if a.perf:
        why = perf_profile.check()
        if why:
            log("no profile:", why)
            a.perf = False

    keys = tempfile.mkdtemp(prefix="oe-bench-parse-")
    os.chmod(keys, 0o755)
    simhelper.write_key_files(keys)
    shutil.copy(os.path.join(FIX, "skus.map"), os.path.join(keys, "skus.map"))
    with open(os.path.join(FIX, "01-us-tax-exclusive.json")) as f:
        fix = json.load(f)

    # default: nginx's pool of 32 threads, shared with the normaliser;
    # pool1: a pool of its own with one thread (fewer threads competing
    # with the event loop for the machine's two cores)
    configs = [("pool", "parse_thread_pool=default parse_threshold="
                + a.threshold, ""),
               ("pool1", "parse_thread_pool=parse parse_threshold="
                + a.threshold, "thread_pool parse threads=1;"),
               ("inline", "parse_thread_pool=off", "")]
    results = []
    try:
        for r in range(a.rounds):
            order = configs if r % 2 == 0 else configs[::-1]
            for name, parse, main in order:
                run = Run("%s-r%d" % (name, r + 1), parse, keys, a, fix,
                          main)
                log("round", r + 1, name, "...")
                run.start()
                try:
                    run.seed()
                    res = run.measure()
                finally:
                    run.stop()
                res["round"] = r + 1
                results.append(res)
                log(json.dumps({k: v for k, v in res.items()
                                if k != "loop_profile"}))
    finally:
        shutil.rmtree(keys, ignore_errors=True)

    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, "parse-%s.json" % time.strftime(
        "%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump({"args": vars(a), "runs": results,
                   "loadavg": os.getloadavg()}, f, indent=1)

    print()
    print("| round | config | drain s | loop worst stall ms | probe p99 ms "
          "| webhook p99 ms | webhook max ms | acked |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %d | %s | %s | %s | %s | %s | %s | %d |" % (
            r["round"], r["config"].split("-")[0], r["drain_s"],
            r["stall_max_ms"], r["probe_p99_ms"], r["webhook_p99_ms"],
            r["webhook_max_ms"], r["acked"]))
    for r in results:
        if r.get("loop_profile"):
            print()
            print("\n".join(perf_profile.table(
                "event loop, %s" % r["config"], r["loop_profile"])))
    print("\nraw:", out)


if __name__ == "__main__":
    main()
