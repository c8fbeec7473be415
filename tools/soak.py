#!/usr/bin/env python3
"""make soak: an hour (SOAK_MINUTES) of mixed signed webhooks against
nginx with the module, the journal on (fsync=batch), deliveries to the
NetSuite simulator with faults (5xx, resets, timeouts, lost answers,
latency), and a reload every SOAK_RELOAD_S seconds.  Every SOAK_SAMPLE_S
seconds it samples

  worker_rss   private memory (RssAnon) of the current workers, summed
  master_rss   the master's RssAnon (what every reload leaves behind)
  worker_fds   open descriptors of the current workers, summed
  zone_used    order_edit_zone bytes in use (status zone.used_bytes)
  queued, exc, ids, jbytes   queue depth, parked exceptions, dedup ids,
               journal bytes (shown, not judged)

prints them as a table, fits a least-squares line to each judged series
over the steady part of the run (after the warm-up: the dedup ids'
lifetime, SOAK_DEDUP_TTL, plus one sample), and fails when a line is not
flat.

"Flat": the fitted line moves, over the steady window, by no more than a
floor plus 10% of the series' mean.  Floors: 4 MiB for worker memory, 2
MiB for the master, 512 KiB for the zone, 16 descriptors.  Why these: a
leak worth finding costs something per webhook or per reload, so it grows
with the run (100 bytes per webhook at the default 10/s is 3.4 MiB an
hour; 64 KiB per reload is 0.4 MiB an hour at one reload every 10 min,
and twice the floor over a longer soak), while what is not a leak does
not grow with time: allocator arenas and nginx pools warming up, the
zone's backlog moving with NetSuite's faults (a few dozen webhooks of a
few KiB), a worker replaced by a reload (its memory starts low again).
The floor keeps that noise from failing a short run; the 10% keeps a big
steady value from failing on its own jitter.  Reloads reset worker
memory, so a leak inside one worker generation shows as a sawtooth, not a
slope: the per-generation growth is printed too and judged against the
same bound.

Also failed: any answer that is not what Shopify would be told for that
webhook (200 queued/duplicate/ignored, 401 for a bad signature, 503
in_progress for a resend whose first copy still waits for its fsync,
nothing else; a connection closed by a reload is counted, as "conn", not
failed: Shopify retries it), and a queue that does not drain within
SOAK_DRAIN_S after the load.  NetSuite's counters are printed (its 401s
are failed logins in the account's audit trail).

Environment: SOAK_MINUTES (60), SOAK_RATE webhooks/s (10),
SOAK_SAMPLE_S (60, at most a twelfth of the run), SOAK_RELOAD_S (600, at
most a quarter of the run), SOAK_DEDUP_TTL seconds (300, at most a quarter
of the run), SOAK_SEED, SOAK_KEEP=1 keeps nginx's prefix.
"""

import collections
import http.client
import json
import os
import random
import shutil
import signal
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "t", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import simhelper  # noqa: E402
from ngxctl import NginxServer, sign  # noqa: E402
from test_journal import (CATALOGUE, FIX, Order, order_body,  # noqa: E402
                          refund_body)

SHOP = "acme.myshopify.com"
SECRET = "acme"
ORDERS = 50

HTTP = """
    order_edit_zone edits:32m dedup_ttl=__TTL__s;
    order_edit_journal __DIR__/journal fsync=batch max_size=64m;
    order_edit_netsuite main {
        account 1234567_SB1;
        endpoint http://127.0.0.1:__SIM__;
        consumer_key_file __DIR__/ck;
        consumer_secret_file __DIR__/cs;
        token_id_file __DIR__/ti;
        token_secret_file __DIR__/ts;
        concurrency 4;
        timeout 3s;
        retry_backoff 200ms 2s;
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map __DIR__/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
    server {
        listen 127.0.0.1:__PORT__;
        client_body_buffer_size 64k;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
    }
"""

# NetSuite having a bad day, all hour long
SIM_FAULTS = ("--latency-range-ms", "5,40", "--concurrency", "4",
              "--error-rate", "0.02", "--error-statuses", "500,502,503",
              "--reset-rate", "0.01", "--timeout-rate", "0.003",
              "--timeout-s", "4", "--lost-response-rate", "0.01")

MiB = 1024 * 1024

# series judged: (name, floor)
JUDGED = (("worker_rss", 4 * MiB), ("master_rss", 2 * MiB),
          ("zone_used", MiB // 2), ("worker_fds", 16))
COLUMNS = ("min", "worker_rss", "master_rss", "worker_fds", "zone_used",
           "queued", "exc", "ids", "jbytes", "gen")


def env_num(name, default):
    v = os.environ.get(name)
    return float(v) if v else default


class Load:
    """Shopify: a few threads send a mix of webhooks at SOAK_RATE."""

    def __init__(self, port, rate, rng):
        self.port = port
        self.rate = rate
        self.rng = rng
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.answers = collections.Counter()
        self.unexpected = []
        self.orders = [Order(7200000000 + n, 3000 + n) for n in range(ORDERS)]
        self.state = {}
        for o in self.orders:
            lines = rng.sample(CATALOGUE, 5)
            self.state[o.oid] = {"lines": lines, "qty": [1, 1, 0, 0, 0],
                                 "minute": rng.randint(0, 600), "k": 0}
        self.sent = collections.deque(maxlen=500)
        self.rid = 940000000
        self.threads = []

    def start(self, n=2):
        for i in range(n):
            t = threading.Thread(target=self.run, args=(i, n), daemon=True)
            t.start()
            self.threads.append(t)

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def next_webhook(self):
        """(kind, topic, wid, body, signature ok)"""
        with self.lock:
            r = self.rng.random()
            if r < 0.08 and self.sent:
                topic, wid, body = self.rng.choice(self.sent)
                return "resend", topic, wid, body, True
            if r < 0.12:
                return ("forged", "orders/updated",
                        "forged-%d" % self.rng.getrandbits(48),
                        b'{"id": 1}', False)
            if r < 0.16:
                return ("ignored", "products/update",
                        "p-%d" % self.rng.getrandbits(48), b'{"id": 2}', True)
            o = self.rng.choice(self.orders)
            st = self.state[o.oid]
            st["k"] += 1
            st["minute"] += 1
            wid = "soak-%d-%d-%d" % (o.oid, st["k"], self.rng.getrandbits(20))
            if r < 0.26:
                live = [j for j in range(5) if st["qty"][j]]
                j = self.rng.choice(live)
                self.rid += 1
                body, _ = refund_body(o, self.rid, st["minute"], j,
                                      st["lines"][j])
                item = ("refunds/create", wid, body)
                kind = "refund"
            else:
                j = self.rng.randrange(5)
                live = [x for x in range(5) if st["qty"][x]]
                if st["qty"][j] and len(live) > 1 and self.rng.random() < 0.3:
                    st["qty"][j] = 0
                else:
                    st["qty"][j] = self.rng.randint(1, 4)
                body, _ = order_body(o, st["minute"], st["qty"],
                                     st["lines"])
                item = ("orders/updated", wid, body)
                kind = "snapshot"
            self.sent.append(item)
            return (kind,) + item + (True,)

    def run(self, i, n):
        pace = n / self.rate
        conn = None
        nxt = time.monotonic()
        while not self.stop.is_set():
            kind, topic, wid, body, good = self.next_webhook()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": sign(SECRET if good else "wrong",
                                              body),
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Topic": topic,
                "X-Shopify-Webhook-Id": wid,
                "X-Shopify-API-Version": "2024-10",
            }
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=10)
                conn.request("POST", "/wh", body, headers)
                r = conn.getresponse()
                raw = r.read()
                status = r.status
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                # a reload may close a keepalive connection under us
                status, raw = "conn", str(e).encode()
                if conn is not None:
                    conn.close()
                conn = None
            self.judge(kind, status, raw)
            nxt += pace
            delay = nxt - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            else:
                nxt = time.monotonic()

    def judge(self, kind, status, raw):
        try:
            answer = json.loads(raw).get("status") if status == 200 else None
        except ValueError:
            answer = None
        ok = {
            "snapshot": status == 200 and answer in ("queued", "duplicate"),
            "refund": status == 200 and answer in ("queued", "duplicate"),
            # a resend of one still waiting for its fsync: 503, retry
            "resend": (status == 200 and answer in ("queued", "duplicate")
                       or status == 503 and b'"in_progress"' in raw),
            "ignored": status == 200 and answer == "ignored",
            "forged": status == 401,
        }[kind]
        with self.lock:
            self.answers[(kind, status, answer)] += 1
            if not ok and status != "conn":
                self.unexpected.append((kind, status, raw[:200]))


def read_proc(pid, what):
    try:
        if what == "fds":
            return len(os.listdir("/proc/%d/fd" % pid))
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def current_workers(ngx):
    out = []
    for pid, role in ngx.processes().items():
        if role != "worker":
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"shutting down" not in cmd:
            out.append(pid)
    return sorted(out)


def status(ngx):
    try:
        return ngx.status()
    except (OSError, AssertionError, ValueError,
            http.client.HTTPException):
        return None


def sample(ngx, t0, gen):
    st = status(ngx) or {}
    zone = st.get("zone", {})
    journal = st.get("journal", {})
    workers = current_workers(ngx)
    try:
        master = ngx.master_pid()
    except (OSError, ValueError):
        master = 0
    return {
        "min": (time.monotonic() - t0) / 60,
        "worker_rss": sum(read_proc(p, "rss") for p in workers),
        "master_rss": read_proc(master, "rss") if master else 0,
        "worker_fds": sum(read_proc(p, "fds") for p in workers),
        "zone_used": zone.get("used_bytes", 0),
        "queued": zone.get("queued_items", 0),
        "exc": zone.get("exceptions", 0),
        "ids": zone.get("dedup_ids", 0),
        "jbytes": journal.get("bytes", 0),
        "gen": gen,
    }


def fit(xs, ys):
    """Least-squares slope and intercept."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, my
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def fmt(name, v):
    if name in ("worker_rss", "master_rss", "zone_used", "jbytes"):
        return "%.2fM" % (v / MiB)
    if name == "min":
        return "%.2f" % v
    return str(v)


def main():
    minutes = env_num("SOAK_MINUTES", 60)
    run_s = minutes * 60
    rate = env_num("SOAK_RATE", 10)
    sample_s = min(env_num("SOAK_SAMPLE_S", 60), run_s / 12)
    reload_s = min(env_num("SOAK_RELOAD_S", 600), run_s / 4)
    ttl = int(min(env_num("SOAK_DEDUP_TTL", 300), run_s / 4))
    warmup_s = ttl + sample_s
    drain_s = env_num("SOAK_DRAIN_S", 120)
    seed = int(env_num("SOAK_SEED", random.SystemRandom().randrange(1 << 30)))
    rng = random.Random(seed)

    print("soak: %.1f min at %.0f webhooks/s, a sample every %.0f s, a "
          "reload every %.0f s, dedup_ttl %d s, judged after %.0f s; "
          "seed %d (SOAK_SEED)" % (minutes, rate, sample_s, reload_s, ttl,
                                   warmup_s, seed), flush=True)

    sim = simhelper.Sim(*SIM_FAULTS, "--seed", str(seed), "--quiet")
    ngx = NginxServer("", workers=2)
    try:
        d = ngx.dir
        simhelper.write_key_files(d)
        shutil.copy(os.path.join(FIX, "skus.map"), os.path.join(d, "skus.map"))
        ngx.write_conf(HTTP.replace("__SIM__", str(sim.port))
                       .replace("__DIR__", d).replace("__TTL__", str(ttl)))

        load = Load(ngx.port, rate, rng)
        for o in load.orders:
            sim.seed_order(o.eid, lines=[
                {"item": {"id": "9999"}, "quantity": 1, "rate": 1}],
                custbody_shopify_order_id=str(o.oid))

        ngx.start()
        t0 = time.monotonic()
        gen = 0
        samples = [sample(ngx, t0, gen)]
        print("  " + "  ".join("%10s" % c for c in COLUMNS), flush=True)
        print("  " + "  ".join("%10s" % fmt(c, samples[-1][c])
                               for c in COLUMNS), flush=True)
        load.start()

        next_sample = t0 + sample_s
        # half a sample away from a sample: both generations' workers are
        # "worker process" for a moment after the HUP
        next_reload = t0 + reload_s + sample_s / 2
        end = t0 + run_s
        while True:
            now = time.monotonic()
            if now >= next_reload and now < end:
                os.kill(ngx.master_pid(), signal.SIGHUP)
                gen += 1
                next_reload += reload_s
            if now >= next_sample:
                samples.append(sample(ngx, t0, gen))
                print("  " + "  ".join("%10s" % fmt(c, samples[-1][c])
                                       for c in COLUMNS), flush=True)
                next_sample += sample_s
                if now >= end:
                    break
            time.sleep(max(0.05, min(next_sample, next_reload)
                           - time.monotonic()))

        load.join()

        # the queue drains once Shopify stops
        deadline = time.monotonic() + drain_s
        drained = False
        while time.monotonic() < deadline:
            st = status(ngx)
            if st and st["zone"]["queued_items"] == 0:
                drained = True
                break
            time.sleep(0.5)
        st = status(ngx) or {}

        return report(samples, warmup_s, load, drained, st, sim, ngx)
    finally:
        try:
            ngx.nginx("-s", "stop")
        except Exception:
            pass
        if os.environ.get("SOAK_KEEP") == "1":
            print("soak: nginx prefix kept in %s" % ngx.dir)
            ngx.started = False
            ngx.dir = "/nonexistent-kept"
        ngx.stop()
        sim.stop()


def report(samples, warmup_s, load, drained, st, sim, ngx):
    failed = []
    steady = [s for s in samples if s["min"] * 60 >= warmup_s]
    window = (steady[-1]["min"] - steady[0]["min"]) if len(steady) > 1 else 0

    print("\nsoak: %d samples, %d in the steady window (%.2f min)"
          % (len(samples), len(steady), window))
    if len(steady) < 3:
        failed.append("fewer than 3 samples after the warm-up: run longer "
                      "or sample more often")

    for name, floor in JUDGED:
        if len(steady) < 2:
            break
        xs = [s["min"] for s in steady]
        ys = [s[name] for s in steady]
        slope, _ = fit(xs, ys)
        mean = sum(ys) / len(ys)
        drift = slope * window
        bound = floor + 0.10 * mean
        flat = abs(drift) <= bound
        unit = 1 if name == "worker_fds" else 1024
        print("  %-11s slope %+10.1f %s/min  drift %+10.1f %s over the "
              "window, bound %.1f %s: %s"
              % (name, slope / unit, "fd" if unit == 1 else "KiB",
                 drift / unit, "fd" if unit == 1 else "KiB", bound / unit,
                 "fd" if unit == 1 else "KiB", "flat" if flat else "NOT FLAT"))
        if not flat:
            failed.append("%s is not flat" % name)

    # a leak within one worker generation: its growth, sample to sample
    by_gen = collections.defaultdict(list)
    for s in steady:
        by_gen[s["gen"]].append(s["worker_rss"])
    worst = max((max(v) - v[0] for v in by_gen.values() if v), default=0)
    mean = (sum(s["worker_rss"] for s in steady) / len(steady)
            if steady else 0)
    bound = JUDGED[0][1] + 0.10 * mean
    print("  worker_rss  most growth within one generation %.1f KiB, bound "
          "%.1f KiB: %s" % (worst / 1024, bound / 1024,
                            "ok" if worst <= bound else "TOO MUCH"))
    if worst > bound:
        failed.append("worker memory grows within a generation")

    print("\nanswers:")
    for (kind, status, answer), n in sorted(load.answers.items(),
                                            key=lambda x: str(x[0])):
        print("  %-9s %-5s %-10s %d" % (kind, status, answer, n))
    if load.unexpected:
        failed.append("%d unexpected answers, e.g. %r"
                      % (len(load.unexpected), load.unexpected[:3]))

    zone = st.get("zone", {})
    print("\nat the end: queued %s, exceptions %s, journal %s"
          % (zone.get("queued_items"), zone.get("exceptions"),
             {k: st.get("journal", {}).get(k)
              for k in ("bytes", "segments", "pending", "writes", "errors",
                        "full", "replayed")}))
    try:
        c = sim.counters()
        c = getattr(c, "json", c)
        print("netsuite: %s" % json.dumps(c, sort_keys=True, default=str))
    except Exception as e:  # noqa: BLE001
        print("netsuite: counters unavailable (%s)" % e)
    if not drained:
        failed.append("the queue did not drain after the load")
    if "[alert]" in ngx.error_log() or "[emerg]" in ngx.error_log():
        failed.append("alerts in the error log")
    crashes = [line for line in ngx.error_log().splitlines()
               if "exited on signal" in line]
    if crashes:
        failed.append("worker crashes: %s" % crashes[:3])

    if failed:
        print("\nsoak: FAILED\n  " + "\n  ".join(failed))
        return 1
    print("\nsoak: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
