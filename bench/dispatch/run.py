#!/usr/bin/env python3
"""bench/dispatch: the dispatcher against a saturated NetSuite.

The NetSuite simulator (tools/netsuite-sim) with an account concurrency
limit C and a fixed latency L; nginx with the module, two workers, the
dispatcher on the zone and one order_edit_netsuite block of concurrency C
pointing at the simulator. 1,000 Sales Orders are seeded in the simulator,
then 3,000 signed orders/updated webhooks (three snapshots per order, with
increasing updated_at) are posted from a bounded pool of client threads
at a fixed rate, and the queue is left to drain.

Reported (see bench/README.md for the method):

  - NetSuite API requests per second while the queue drains, against the
    bound C / L (aim >= 0.95);
  - 429s per successful request (aim <= 0.01);
  - NetSuite writes per distinct order (aim 1.0), reads (the lock read and
    the read-back) counted separately;
  - the drain time and the dispatcher's counters from GET /status;
  - p99 webhook answer time (client-measured) while NetSuite is saturated,
    against the same posts to an identical nginx without the dispatcher
    (NetSuite idle), measured before and after (aim <= 1.2).

Everything listens on 127.0.0.1; every process started here is stopped
on the way out (also on failure or Ctrl-C). Raw results go to
bench/results/dispatch-<stamp>.*.  Python 3 standard library only; the
nginx and simulator helpers of the integration tests are imported, not
copied.
"""

import argparse
import collections
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(TOP, "t", "fixtures", "shopify")
FIXTURE = "01-us-tax-exclusive.json"
FIX_ORDER_ID = b"450789469"
FIX_UPDATED_AT = b"2024-03-05T10:15:30-05:00"
SHOP = "acme.myshopify.com"
SECRET = "acme"
EID = "shopify-acme-%d"
FIRST_ORDER_ID = 5100000000


def reconcile_args(p):
    """--reconcile: the same saturated run without, then with, the
    Shopify catch-up and the mismatch report (RecBench, at the end)."""
    g = p.add_argument_group("reconciliation and the report (--reconcile)")
    g.add_argument("--reconcile", action="store_true",
                   help="run the saturated run twice, without and with "
                        "`reconcile` and `report` against tools/shopify-sim")
    g.add_argument("--rec-first", action="store_true",
                   help="the run with reconciliation first (drift)")
    g.add_argument("--rec-interval", default="5s",
                   help="reconcile interval= (several polls a run)")
    g.add_argument("--rec-page-size", type=int, default=250,
                   help="reconcile page_size= (Shopify's largest page)")
    g.add_argument("--rec-queue-max", type=int, default=0,
                   help="reconcile queue_max= (0: the module's)")
    g.add_argument("--day-orders", type=int, default=2000,
                   help="other orders the shop changed in the day (the "
                        "report lists them; reconciliation's window not)")
    g.add_argument("--report-every", type=float, default=2.0,
                   help="seconds between two POSTs asking for a report")
    g.add_argument("--day-missing", action="store_true",
                   help="leave the day's orders out of NetSuite: each run "
                        "of the report raises an exception for each (up "
                        "to --rec-max-exceptions); by default they are "
                        "seeded in NetSuite as the module writes them, so "
                        "that the report's own cost is measured")
    g.add_argument("--rec-max-exceptions", type=int, default=-1,
                   help="report max_exceptions= (-1: the module's)")
    g.add_argument("--sim-nice", type=int, default=10,
                   help="the two simulators this much nicer than the "
                        "bench (both runs; 0: as nice as it): their CPU "
                        "(Python rendering 600 KB pages, running SuiteQL "
                        "over the day's records) is the other side's, "
                        "not the module's, and must not take the CPUs "
                        "from nginx's event loop")
    g.add_argument("--sim-idle", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="the two simulators SCHED_IDLE as well (default): "
                        "on an EEVDF kernel (6.6 on) a nice task that is "
                        "running keeps its CPU for its slice (1.5 ms and more) "
                        "when nginx's loop wakes up, whatever its nice; "
                        "an idle one gives it up at once")
    g.add_argument("--background-pool", action="store_true",
                   help="the run with the report: order_edit_curl "
                        "background_thread_pool= (SCHED_IDLE threads) for "
                        "reconciliation's and the report's pages (a "
                        "module that has the parameter)")
    g.add_argument("--pairs", type=int, default=0,
                   help="N alternating pairs of runs without and with the "
                        "report (without first in odd pairs, with first "
                        "in even ones), no idle references: the per-pair "
                        "webhook p99 ratios (with / without) and their "
                        "median")


def parse_args():
    p = argparse.ArgumentParser(
        description="Benchmark the dispatcher against a saturated NetSuite "
                    "simulator (see bench/README.md).")
    env = os.environ.get
    p.add_argument("--module", default=env("MODULE_SO", os.path.join(
        TOP, "build", "ngx_http_order_edit_module.so")))
    p.add_argument("--nginx", default=env("NGINX_BIN", "/usr/sbin/nginx"))
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--snapshots", type=int, default=3,
                   help="orders/updated snapshots per order")
    p.add_argument("--concurrency", type=int, default=15,
                   help="C: the simulator's limit and the block's")
    p.add_argument("--latency-ms", type=int, default=200)
    p.add_argument("--threads", type=int, default=8,
                   help="client threads posting webhooks")
    p.add_argument("--rate", type=float, default=200.0,
                   help="webhooks per second offered (0: as fast as the "
                        "threads go)")
    p.add_argument("--interval", default="",
                   help="order_edit_dispatch interval= (default: the "
                        "module's)")
    p.add_argument("--zone", default="64m")
    p.add_argument("--no-idle", action="store_true",
                   help="skip the NetSuite-idle reference runs")
    p.add_argument("--drain-timeout", type=float, default=240.0)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 100 orders, one idle run")
    p.add_argument("--mode", choices=("rest", "restlet"), default="rest",
                   help="the NetSuite block's mode (restlet: the "
                        "simulator's RESTlet, one call per edit)")
    p.add_argument("--session-gap-ms", type=float, default=0.0,
                   help="post an order's snapshots this far apart (an "
                        "edit session), orders started at rate/snapshots "
                        "per second; 0: back to back, order-major")
    p.add_argument("--out", default=os.path.join(TOP, "bench", "results"))
    reconcile_args(p)
    a = p.parse_args()
    if a.quick:
        a.orders = min(a.orders, 100)
    return a


ARGS = parse_args()
# ngxctl reads these when it is imported
os.environ["TEST_NGINX_BINARY"] = ARGS.nginx
os.environ["TEST_NGINX_LOAD_MODULES"] = os.path.abspath(ARGS.module)
sys.path.insert(0, os.path.join(TOP, "t", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

from ngxctl import NginxServer, sign  # noqa: E402
import simhelper  # noqa: E402
from stallwatch import StallWatch, stalled_in  # noqa: E402


HTTP = """
    order_edit_zone edits:__ZONE__;
    order_edit_netsuite main {
        account __ACCOUNT__;
        endpoint http://127.0.0.1:__SIM__;
        consumer_key_file __KEYS__/ck;
        consumer_secret_file __KEYS__/cs;
        token_id_file __KEYS__/ti;
        token_secret_file __KEYS__/ts;
        concurrency __C__;
        __NSEXTRA__
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map __KEYS__/skus.map;
        __STOREEXTRA__
    }
    __DISPATCH__
    server {
        listen 127.0.0.1:__PORT__;
        client_body_buffer_size 64k;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location /exc { order_edit_exceptions edits; }
    }
"""


# ---------------------------------------------------------------------------
# small helpers

def log(*a):
    print(*a, flush=True)


def pct(values, q):
    """Nearest-rank percentile (q in 0..100) of a list."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-q * len(v) // 100)) - 1))
    return v[k]


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tck
    except (OSError, ValueError, IndexError):
        return None


def renice(pid, n, idle=False):
    """Every thread of pid n nicer than this process, and SCHED_IDLE
    when idle (Linux: a nice value and a policy are a thread's; threads
    started later inherit their creator's)."""
    if n <= 0 and not idle:
        return
    to = min(19, os.getpriority(os.PRIO_PROCESS, 0) + max(n, 0))
    try:
        tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        tids = [pid]
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, to)
            if idle:
                os.sched_setscheduler(tid, os.SCHED_IDLE,
                                      os.sched_param(0))
        except OSError:
            pass


def phase_steps(lines):
    """The report's done lines' "steps by phase" merged: per phase the
    most CPU and wall time a step took (us), the steps over the line's
    threshold and all steps."""
    out = collections.OrderedDict()
    for l in lines:
        m = re.search(r"steps by phase \(.*?over (\d+) us.*?\):(.*)$", l)
        if not m:
            continue
        for ph, cpu, wall, long_, n in re.findall(
                r"(\w+) (\d+)/(\d+) us (\d+)/(\d+)", m.group(2)):
            o = out.setdefault(ph, [0, 0, 0, 0])
            o[0] = max(o[0], int(cpu))
            o[1] = max(o[1], int(wall))
            o[2] += int(long_)
            o[3] += int(n)
        out["_over"] = int(m.group(1))
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def bodies(n_orders, n_snap):
    """[(order_id, snapshot, body)] in order-major order: the snapshots of
    one order follow each other, as an edit session in Shopify fires them."""
    with open(os.path.join(FIX, FIXTURE), "rb") as f:
        base = f.read().rstrip()
    assert base.count(FIX_ORDER_ID) >= 1 and base.count(FIX_UPDATED_AT) == 1
    out = []
    for i in range(n_orders):
        oid = FIRST_ORDER_ID + i
        for k in range(n_snap):
            ts = snapshot_time(k).encode()
            body = base.replace(FIX_ORDER_ID, str(oid).encode()) \
                       .replace(FIX_UPDATED_AT, ts)
            out.append((oid, k, body))
    return out


def newest_updated_at(n_snap):
    return snapshot_time(n_snap - 1)


# the first snapshot's updated_at (epoch seconds); the fixture's own time
# (2024-03-05T10:15:30-05:00) unless --reconcile dates them to the run
SNAPSHOT_BASE = 1709651730


def snapshot_time(k):
    """The k-th snapshot's updated_at: a minute after the one before, in
    Shopify's format (whole seconds, the shop's offset, -05:00)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S-05:00",
                         time.gmtime(SNAPSHOT_BASE + 60 * k - 5 * 3600))


def mode_conf(a, sim_port):
    """(NetSuite block lines, store lines) for --mode."""
    if a.mode != "restlet":
        return "", ""
    # the module does not read the order in RESTlet mode: the store says
    # its tax kind (as t/integration/test_dispatch.py's RestletMode)
    return ("mode restlet; restlet_url http://127.0.0.1:%d/app/site/"
            "hosting/restlet.nl?script=1&deploy=1;" % sim_port,
            "taxes_included off;")


def session_schedule(work, a):
    """--session-gap-ms: order i's snapshot k posted at i / (rate /
    snapshots) + k * gap seconds, so an order's next edit arrives while
    its previous one is being delivered. Returns the work in posting order
    and each post's offset (s); (work, None) when off."""
    if a.session_gap_ms <= 0 or a.rate <= 0:
        return work, None
    per_order = a.snapshots / a.rate
    timed = sorted(((oid - FIRST_ORDER_ID) * per_order
                    + k * a.session_gap_ms / 1000.0, (oid, k, body))
                   for oid, k, body in work)
    return [w for _, w in timed], [t for t, _ in timed]


def fold_reads(log_, kinds):
    """A Sales Order read between two writes of it is the second edit's
    lock read and, folded into it, the first one's read back (issue 17):
    moved from "readback" to "lock_read+readback" in kinds."""
    seq = collections.defaultdict(list)
    for r in log_:
        path = r.get("path") or ""
        if "/salesOrder/" in path:
            seq[path].append(r)
    for reqs in seq.values():
        for a, b, c in zip(reqs, reqs[1:], reqs[2:]):
            if a["method"] != "GET" and b["method"] == "GET" \
                    and c["method"] != "GET":
                st = b.get("status")
                st = "ok" if st and st < 300 else str(st)
                kinds[("readback", st)] -= 1
                kinds[("lock_read+readback", st)] += 1
    for k in [k for k, v in kinds.items() if v == 0]:
        del kinds[k]


def slot_breakdown(log_, spans, C, first, last, sat_start, sat_end):
    """Where the account's slot time went (ms): busy at the simulator,
    idle while ramping up (before all C were first busy) and in the tail
    (after they last were), and in between: gaps between the consecutive
    requests of one order (the job holds its slot meanwhile) and the rest,
    the hand-off from a finished order to the next one's first request."""
    busy = sum(e - s for s, e in spans)
    ramp = tail = 0.0
    # idle slot time before sat_start and after sat_end, from the
    # concurrency step function
    ev = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                key=lambda x: (x[0], x[1]))
    cur, prev = 0, first
    for t, d in ev:
        for lo, hi, which in ((first, sat_start, "ramp"),
                              (sat_end, last, "tail")):
            a, b = max(prev, lo), min(t, hi)
            if b > a:
                if which == "ramp":
                    ramp += (C - cur) * (b - a)
                else:
                    tail += (C - cur) * (b - a)
        prev = t
        cur += d
    by_order = collections.defaultdict(list)
    for r in log_:
        path = r.get("path") or ""
        if "/salesOrder/" in path:
            by_order[path].append((r["time"] - r["ms"] / 1e3, r["time"]))
    gaps = []
    for reqs in by_order.values():
        reqs.sort()
        for (s0, e0), (s1, _) in zip(reqs, reqs[1:]):
            if sat_start <= s1 <= sat_end and s1 >= e0:
                gaps.append(s1 - e0)
    total = C * (last - first)
    middle_idle = total - busy - ramp - tail
    gap_sum = sum(gaps)
    # a gap longer than a request is a later job of the same order (a
    # hand-back, a retry), not a job's own step: counted as hand-off
    own = [g for g in gaps if g < OWN_GAP_S]
    own_sum = sum(own)

    def share(x):
        return round(x / total, 4) if total > 0 else None
    return {
        "slot_ms_total": round(total * 1000, 1),
        "busy_share": share(busy),
        "ramp_idle_share": share(ramp),
        "tail_idle_share": share(tail),
        "within_order_gap_share": share(own_sum),
        "handoff_and_other_share": share(middle_idle - own_sum),
        "within_order_gaps": len(own),
        "within_order_gap_ms_p50": round(pct(own, 50) * 1000, 2)
        if own else None,
        "within_order_gap_ms_p99": round(pct(own, 99) * 1000, 2)
        if own else None,
        "within_order_gap_ms_mean": round(own_sum / len(own) * 1000, 2)
        if own else None,
        "later_job_gaps": len(gaps) - len(own),
        "all_gaps_s": round(gap_sum, 3),
    }


# a gap between two requests of one order shorter than this is the job's
# own step (its slot held meanwhile); longer, a later job of the order
OWN_GAP_S = 0.05


def jobs_of(log_):
    """Each request as (start, end, first, last, new): first or last of
    its job (the consecutive requests of one Sales Order less than
    OWN_GAP_S apart; any other request is a job of its own), and new: the
    first request ever made for its order."""
    by_order = collections.defaultdict(list)
    out = []
    for r in log_:
        path = r.get("path") or ""
        span = (r["time"] - r["ms"] / 1e3, r["time"])
        if "/salesOrder/" in path:
            by_order[path].append(span)
        else:
            out.append((span[0], span[1], True, True, True))
    for reqs in by_order.values():
        reqs.sort()
        for i, (s, e) in enumerate(reqs):
            first = i == 0 or s - reqs[i - 1][1] >= OWN_GAP_S
            last = i == len(reqs) - 1 or reqs[i + 1][0] - e >= OWN_GAP_S
            out.append((s, e, first, last, i == 0))
    out.sort()
    return out


def steady_state(log_, spans, C, L, sat_start):
    """The dispatcher's steady state: from the moment all C slots were
    first busy at the simulator to the moment the queue first ran out of
    ready work, i.e. the last order never started before got its first
    request (from then on only jobs already out remain, fewer than C to
    come).  Requests are counted by the share of their time inside the
    window, so its edges cost nothing.  Against the nominal bound C / L
    and against the one the simulator measured, C / its mean answer time
    (arrival to answer) in the window: the second is the module's share
    of what the account offered."""
    jobs = jobs_of(log_)
    starts = [s for s, _, _, _, new in jobs if new]
    if sat_start is None or not starts:
        return None
    lo, hi = sat_start, max(starts)
    w = hi - lo
    if w <= 0:
        return None
    frac = busy = 0.0
    ms_in = []
    for r, (s, e) in zip(log_, spans):
        a, b = max(s, lo), min(e, hi)
        if b > a:
            busy += b - a
            frac += (b - a) / (e - s) if e > s else 1.0
        if lo <= s and e <= hi and r.get("status") and r["status"] < 300:
            ms_in.append(r["ms"])
    own = 0.0
    # own gaps: between consecutive requests of one job, clipped
    by_path = collections.defaultdict(list)
    for r, (s, e) in zip(log_, spans):
        path = r.get("path") or ""
        if "/salesOrder/" in path:
            by_path[path].append((s, e))
    for reqs in by_path.values():
        reqs.sort()
        for (s0, e0), (s1, _) in zip(reqs, reqs[1:]):
            if 0 <= s1 - e0 < OWN_GAP_S:
                a, b = max(e0, lo), min(s1, hi)
                if b > a:
                    own += b - a
    # hand-off: a slot freed by a job's last answer to the next job's
    # first request, the latest free one first (slots are alike; a slot
    # the module holds for a job that sends nothing, one coalesced or
    # parsing, looks free here and stays unmatched)
    ends = []
    handoffs = []
    events = sorted([(e, 0) for s, e, f, l, _ in jobs if l]
                    + [(s, 1) for s, e, f, l, _ in jobs if f])
    for t, kind in events:
        if kind == 0:
            ends.append(t)
        elif ends:
            t0 = ends.pop()
            if lo <= t0 and t <= hi:
                handoffs.append(t - t0)
    mean_ms = sum(ms_in) / len(ms_in) if ms_in else None
    rate = frac / w
    nominal = C * 1000.0 / L
    idle = C * w - busy

    def ms(q):
        return round(pct(handoffs, q) * 1000, 2) if handoffs else None
    return {
        "from_s": round(lo - spans[0][0], 3) if spans else None,
        "window_s": round(w, 3),
        "requests": round(frac, 1),
        "req_per_s": round(rate, 2),
        "ratio_nominal": round(rate / nominal, 4),
        "ns_ms_mean": round(mean_ms, 2) if mean_ms else None,
        "bound_measured_req_per_s": round(C * 1000.0 / mean_ms, 2)
        if mean_ms else None,
        "ratio_measured": round(rate * mean_ms / (C * 1000.0), 4)
        if mean_ms else None,
        "occupancy": round(busy / (C * w), 4),
        "own_gap_share": round(own / (C * w), 4),
        "handoff_and_other_share": round((idle - own) / (C * w), 4),
        "handoffs": len(handoffs),
        "handoff_ms_p50": ms(50),
        "handoff_ms_p90": ms(90),
        "handoff_ms_p99": ms(99),
        "handoff_ms_max": round(max(handoffs) * 1000, 2)
        if handoffs else None,
        "handoffs_over_5ms": sum(1 for h in handoffs if h > 0.005),
        "handoffs_over_50ms": sum(1 for h in handoffs if h > 0.05),
    }


# ---------------------------------------------------------------------------
# the pieces

class Poller(threading.Thread):
    """Samples nginx's status and the simulator's counters every period,
    in every phase alike (so the client process does the same work)."""

    def __init__(self, ngx, sim, period=0.25):
        super().__init__(daemon=True)
        self.ngx, self.sim, self.period = ngx, sim, period
        self.samples = []
        self.stop_ev = threading.Event()
        self.errors = 0

    def run(self):
        while not self.stop_ev.is_set():
            t = time.time()
            try:
                st = self.ngx.status()
                c = self.sim.counters()
                shop = st.get("stores", {}).get(SHOP, {})
                acct = st.get("netsuite", {}).get("main", {})
                self.samples.append({
                    "t": t,
                    "queue_depth": shop.get("queue_depth"),
                    "in_flight": shop.get("in_flight"),
                    "received": shop.get("received"),
                    "acked": shop.get("acked"),
                    "leased": shop.get("leased"),
                    "requeued": shop.get("requeued"),
                    "stale": shop.get("stale"),
                    "coalesced": shop.get("coalesced"),
                    "parked": shop.get("parked"),
                    "limit": acct.get("limit"),
                    "ns_in_flight": acct.get("in_flight"),
                    "sim_requests": c.get("requests"),
                    "sim_in_flight": c.get("in_flight"),
                    "sim_429": c.get("429"),
                })
            except Exception:  # noqa: BLE001 (a sample lost, not the run)
                self.errors += 1
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join(5)

    def last(self):
        return self.samples[-1] if self.samples else {}


def post_all(ngx, work, threads, rate, tag, offsets=None):
    """Post every (order, snapshot, body) from a pool of threads, offered
    at `rate` per second (0: flat out). Returns the answer times (ms,
    connect to last byte, fresh connection each, like ngxctl) with the
    wall-clock time each post started, and any unexpected answers."""
    q = queue.Queue()
    signed = [(oid, k, body, sign(SECRET, body)) for oid, k, body in work]
    results = [None] * len(signed)
    bad = []
    t0 = time.monotonic() + 0.05
    for i in range(len(signed)):
        q.put(i)

    def worker():
        while True:
            try:
                i = q.get_nowait()
            except queue.Empty:
                return
            if rate > 0:
                d = t0 + (offsets[i] if offsets else i / rate) \
                    - time.monotonic()
                if d > 0:
                    time.sleep(d)
            oid, k, body, mac = signed[i]
            headers = {
                "X-Shopify-Hmac-Sha256": mac,
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Topic": "orders/updated",
                "X-Shopify-Webhook-Id": "%s-%d-%d" % (tag, oid, k),
                "X-Shopify-API-Version": "2024-10",
                # as Shopify: when the change was triggered, so that
                # reconcile knows this update was delivered
                "X-Shopify-Triggered-At": time.strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z",
                    time.gmtime(SNAPSHOT_BASE + 60 * k)),
                "Content-Type": "application/json",
            }
            wall = time.time()
            s = time.perf_counter()
            try:
                status, _, b = ngx.request("POST", "/wh", body, headers)
            except Exception as e:  # noqa: BLE001
                status, b = None, repr(e).encode()
            ms = (time.perf_counter() - s) * 1000.0
            results[i] = (wall, ms)
            if status != 200 or b'"queued"' not in b:
                bad.append((i, status, b[:200].decode("latin-1")))

    ts = [threading.Thread(target=worker, daemon=True)
          for _ in range(threads)]
    start = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"start": start, "end": time.time(),
            "lat": [r[1] for r in results if r],
            "walls": [r[0] for r in results if r], "bad": bad}


def summary_lat(post):
    lat = post["lat"]
    dur = post["end"] - post["start"]
    return {"n": len(lat), "seconds": round(dur, 2),
            "offered_per_s": round(len(lat) / dur, 1) if dur else None,
            "p50_ms": round(pct(lat, 50), 3), "p90_ms": round(pct(lat, 90), 3),
            "p99_ms": round(pct(lat, 99), 3),
            "p999_ms": round(pct(lat, 99.9), 3),
            "max_ms": round(max(lat), 3) if lat else None,
            "bad": len(post["bad"]), "bad_sample": post["bad"][:5]}


class Bench:
    def __init__(self, a):
        self.a = a
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        os.makedirs(a.out, exist_ok=True)
        self.prefix = os.path.join(a.out, "dispatch-" + self.stamp)
        self.servers = []
        self.sim = None
        self.keys = None
        self.problems = []
        self.cpu = {}
        self.seed_writes = {}
        self.offsets = None

    # -- processes --------------------------------------------------------

    def start_sim(self):
        self.keys = tempfile.mkdtemp(prefix="oe-bench-dispatch-")
        # nginx workers run as nobody when the master is root
        os.chmod(self.keys, 0o755)
        simhelper.write_key_files(self.keys)
        shutil.copy(os.path.join(FIX, "skus.map"),
                    os.path.join(self.keys, "skus.map"))
        cfg = os.path.join(self.keys, "sim.json")
        with open(cfg, "w") as f:
            # keep every API call of the run in the admin request log
            json.dump({"request_log_size": 20 * self.a.orders
                       * self.a.snapshots + 1000}, f)
        k = self.keys
        self.sim = simhelper.Sim(
            "--consumer-key-file", k + "/ck",
            "--consumer-secret-file", k + "/cs",
            "--token-id-file", k + "/ti",
            "--token-secret-file", k + "/ts",
            "--concurrency", str(self.a.concurrency),
            "--latency-ms", str(self.a.latency_ms),
            "--config", cfg, keys=False)

    def nginx(self, dispatch):
        a = self.a
        d = "order_edit_dispatch edits%s;" % (
            " interval=" + a.interval if a.interval else "")
        ns_extra, store_extra = mode_conf(a, self.sim.port)
        http = (HTTP.replace("__ZONE__", a.zone)
                .replace("__NSEXTRA__", ns_extra)
                .replace("__STOREEXTRA__", store_extra)
                .replace("__ACCOUNT__", simhelper.ACCOUNT)
                .replace("__SIM__", str(self.sim.port))
                .replace("__KEYS__", self.keys)
                .replace("__C__", str(a.concurrency))
                .replace("__DISPATCH__", d if dispatch else
                         "# no order_edit_dispatch: NetSuite idle"))
        ngx = NginxServer(self.http_conf(http, dispatch), workers=2,
                          extra_main="thread_pool oe_bg threads=2;"
                          if getattr(a, "background_pool", False) else "")
        self.servers.append(ngx)
        ngx.pids = []
        ngx.start()
        deadline = time.monotonic() + 10
        while len(ngx.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        ngx.pids = [ngx.master_pid()] + ngx.worker_pids()
        return ngx

    def http_conf(self, http, dispatch):
        return http

    def stop_nginx(self, ngx, name):
        log_text = ngx.error_log()
        if log_text:
            with open("%s.%s.error.log" % (self.prefix, name), "w") as f:
                f.write(log_text)
        pids = list(getattr(ngx, "pids", []))
        ngx.stop()
        # the master was SIGKILLed if it hung: its workers must not outlive it
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if ngx in self.servers:
            self.servers.remove(ngx)
        return log_text

    def cleanup(self):
        for ngx in list(self.servers):
            try:
                self.stop_nginx(ngx, "cleanup")
            except Exception as e:  # noqa: BLE001
                log("cleanup: nginx: %r" % e)
        if self.sim is not None:
            try:
                rc = self.sim.stop()
                if rc not in (0, None):
                    self.problems.append("simulator exit status %r" % rc)
            except Exception as e:  # noqa: BLE001
                log("cleanup: simulator: %r" % e)
            self.sim = None
        if self.keys:
            shutil.rmtree(self.keys, ignore_errors=True)
            self.keys = None

    # -- phases -----------------------------------------------------------

    def cpu_mark(self, ngx):
        m = {"client": cpu_seconds(os.getpid()),
             "sim": cpu_seconds(self.sim.proc.pid)}
        for n, pid in enumerate(ngx.pids):
            m["nginx_master" if n == 0 else "nginx_worker_%d" % pid] = \
                cpu_seconds(pid)
        m["t"] = time.monotonic()
        return m

    @staticmethod
    def cpu_diff(m0, m1):
        dt = m1["t"] - m0["t"]
        out = {"seconds": round(dt, 2)}
        for k in m0:
            if k != "t" and m0[k] is not None and m1.get(k) is not None:
                out[k + "_cpu_pct"] = round(100 * (m1[k] - m0[k]) / dt, 1)
        return out

    def idle_run(self, work, name):
        """The same posts to nginx without the dispatcher: what answering
        webhooks costs with NetSuite idle (nothing leaves the machine)."""
        ngx = self.nginx(dispatch=False)
        try:
            poller = Poller(ngx, self.sim)
            poller.start()
            before = self.sim.counters()["requests"]
            m0 = self.cpu_mark(ngx)
            post = post_all(ngx, work, self.a.threads, self.a.rate, name,
                            self.offsets)
            m1 = self.cpu_mark(ngx)
            poller.stop()
            st = ngx.status()["stores"][SHOP]
            if st.get("queued") != len(work):
                self.problems.append("%s: %r queued of %d" % (
                    name, st.get("queued"), len(work)))
            if self.sim.counters()["requests"] != before:
                self.problems.append(name + ": NetSuite was not idle")
        finally:
            text = self.stop_nginx(ngx, name)
        self.scan_log(name, text)
        s = summary_lat(post)
        s["cpu"] = self.cpu_diff(m0, m1)
        return s, post

    def idle_ref(self, work, name, idles):
        s, post = self.idle_run(work, name)
        s["_lat"] = post["lat"]
        idles.append(s)
        log("    p50 %.2f ms  p99 %.2f ms  (%d bad)" % (
            s["p50_ms"], s["p99_ms"], s["bad"]))

    def scan_log(self, name, text):
        bad = [l for l in text.splitlines()
               if any(t in l for t in ("[alert]", "[crit]", "[emerg]",
                                       "[error]"))
               or "exited on signal" in l]
        if bad:
            self.problems.append("%s: %d error-log lines at [error] or "
                                 "worse, first: %s" % (name, len(bad),
                                                       bad[0][:300]))
        return bad

    def saturated_run(self, work):
        a = self.a
        ngx = self.nginx(dispatch=True)
        try:
            self.sim.admin("POST", "counters/reset")
            poller = Poller(ngx, self.sim)
            poller.start()
            watch = StallWatch()
            watch.start()
            m0 = self.cpu_mark(ngx)
            post = post_all(ngx, work, a.threads, a.rate, "sat",
                            self.offsets)
            m_post = self.cpu_mark(ngx)
            log("  posted %d webhooks in %.1f s; draining ..." % (
                len(post["lat"]), post["end"] - post["start"]))
            deadline = time.monotonic() + a.drain_timeout
            drained = False
            while time.monotonic() < deadline:
                shop = ngx.status()["stores"].get(SHOP, {})
                if shop.get("queue_depth") == 0 \
                        and shop.get("received") == len(work):
                    drained = True
                    break
                time.sleep(0.1)
            t_drained = time.time()
            m1 = self.cpu_mark(ngx)
            poller.stop()
            watch.stop()
            status = ngx.status()
            if not drained:
                self.problems.append(
                    "the queue did not drain in %.0f s: %s" % (
                        a.drain_timeout,
                        json.dumps(status["stores"].get(SHOP))))
            exc = json.loads(ngx.request("GET", "/exc")[2] or b"{}")
            counters = self.sim.counters()
            reqlog = self.sim.admin("GET", "requests")["requests"]
            for e in reqlog:
                # simhelper parses numbers as Decimal
                e["time"], e["ms"] = float(e["time"]), float(e["ms"])
            records = self.records()
        finally:
            text = self.stop_nginx(ngx, "saturated")
        self.scan_log("saturated", text)
        done = [l for l in text.splitlines() if "done:" in l
                and "report of" in l]
        return {"report_done": len(done),
                "report_hold_us": [int(x) for l in done for x in
                                   re.findall(r"longest step (\d+) us", l)],
                "report_file_us": [int(x) for l in done for x in
                                   re.findall(r"file (\d+) us", l)],
                "report_cpu_us": [int(x) for l in done for x in
                                  re.findall(r"at most (\d+) us CPU", l)],
                "report_hold_lines": [l.split("done: ", 1)[1]
                                      for l in done],
                "report_raised": [int(x) for l in done for x in
                                  re.findall(r"(\d+) exceptions raised",
                                             l)],
                "post": post, "t_drained": t_drained, "drained": drained,
                "status": status, "exceptions": exc, "counters": counters,
                "reqlog": reqlog, "records": records,
                "polls": poller.samples,
                "stalls": watch.stalls,
                "cpu_posting": self.cpu_diff(m0, m_post),
                "cpu_drain": self.cpu_diff(m0, m1),
                "log_lines": collections.Counter(
                    l.split(" ", 3)[2] for l in text.splitlines()
                    if l.count(" ") >= 3 and l.split(" ", 3)[2].startswith(
                        "["))}

    def seed(self):
        orders = [{"externalId": EID % (FIRST_ORDER_ID + i),
                   "entity": {"id": "42"},
                   "item": {"items": [
                       {"item": {"id": "1001"}, "quantity": 3,
                        "rate": 199}]}}
                  for i in range(self.a.orders)]
        self.sim.admin("POST", "records/salesOrder", {"records": orders})
        # seeding is a write of the record too: count from here
        self.seed_writes = {
            r.get("externalId"): (r.get("_sim") or {}).get("writes", 0)
            for r in self.records()}

    def records(self):
        recs = self.sim.admin("GET", "records/salesOrder")
        if isinstance(recs, dict):
            recs = recs.get("records") or recs.get("items") or []
        return recs

    # -- analysis ---------------------------------------------------------

    def analyse(self, sat, idles, n_work):
        a = self.a
        C, L = a.concurrency, a.latency_ms
        bound = C * 1000.0 / L
        c = sat["counters"]
        log_ = sorted(sat["reqlog"], key=lambda r: r["time"] - r["ms"] / 1e3)
        spans = [(r["time"] - r["ms"] / 1e3, r["time"]) for r in log_]
        first = min(s for s, _ in spans)
        last = max(e for _, e in spans)
        window = last - first
        # the simulator's own view of concurrency over time: the last
        # moment all C slots were busy ends the saturated stretch
        ev = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                    key=lambda x: (x[0], x[1]))
        cur = 0
        sat_end = first
        sat_start = None
        busy = 0.0
        prev = first
        for t, d in ev:
            busy += cur * (t - prev)
            prev = t
            cur += d
            if cur >= C:
                sat_end = t
                if sat_start is None:
                    sat_start = t
        steady_n = sum(1 for _, e in spans if e <= sat_end)
        steady_w = sat_end - first
        ms = [r["ms"] for r in log_ if r.get("status") and
              r["status"] < 300]
        kinds = collections.Counter()
        # a read of a Sales Order is its read-back when the request before
        # it on the same record was a write, else the read the lock step
        # makes (both may be full reads, ?expandSubResources=true)
        prev = {}
        for r in log_:                  # in the order they started
            q = r.get("query") or ""
            path = r.get("path") or ""
            order = "/salesOrder/" in path
            if "restlet" in path:
                k = "restlet"           # read, check, write, verify in one
            elif r["method"] == "GET" and order:
                k = "readback" if prev.get(path, "").startswith("write_") \
                    else "lock_read"
            elif r["method"] == "GET" and "fields=" in q:
                k = "lock_read"
            elif r["method"] == "GET":
                k = "other_read"
            else:
                k = "write_" + r["method"]
            prev[path] = k
            st = r.get("status")
            kinds[(k, "ok" if st and st < 300 else str(st))] += 1
        fold_reads(log_, kinds)

        # NetSuite requests per applied edit: an applied edit is a write
        # NetSuite accepted (2xx); each kind of request counted over them
        # (the account's concurrency is shared with every integration)
        applied = sum(v for (k, st), v in kinds.items()
                      if st == "ok" and (k.startswith("write_")
                                         or k == "restlet"))
        by_kind = collections.Counter()
        for (k, st), v in kinds.items():
            by_kind[k] += v
        per_edit = {k: round(v / applied, 3) if applied else None
                    for k, v in sorted(by_kind.items())}

        recs = sat["records"]
        want = {EID % (FIRST_ORDER_ID + i) for i in range(a.orders)}
        writes = {}
        not_newest = []
        for r in recs:
            eid = r.get("externalId")
            if eid in want:
                writes[eid] = (r.get("_sim") or {}).get("writes", 0) \
                    - self.seed_writes.get(eid, 0)
                if r.get("custbody_shopify_updated_at") != \
                        newest_updated_at(a.snapshots):
                    not_newest.append(eid)
        whist = collections.Counter(writes.values())
        total_writes = sum(writes.values())
        ok = c.get("2xx", 0)
        shop = sat["status"]["stores"].get(SHOP, {})
        acct = sat["status"].get("netsuite", {}).get("main", {})
        sat_lat = summary_lat(sat["post"])
        # only the posts answered while NetSuite was saturated
        in_sat = [m for w, m in zip(sat["post"]["walls"], sat["post"]["lat"])
                  if first <= w <= sat_end]
        idle_p99 = [i["p99_ms"] for i in idles]
        idle_all = [m for i in idles for m in i["_lat"]]
        ref = pct(idle_all, 99) if idle_all else None
        stalled, stalls = stalled_in(sat.get("stalls", []), first, last)
        r = {
            "bound_req_per_s": bound,
            "api_requests": c.get("requests"),
            "drain_window_s": round(window, 3),
            "req_per_s": round(c.get("requests", 0) / window, 2),
            "ratio": round(c.get("requests", 0) / window / bound, 3),
            "machine_stalled_s": round(stalled, 3),
            "machine_stalls": stalls,
            "ratio_without_stalls": round(
                c.get("requests", 0) / (window - stalled) / bound, 3)
            if window > stalled else None,
            "saturated_window_s": round(steady_w, 3),
            "saturated_req_per_s": round(steady_n / steady_w, 2)
            if steady_w > 0 else None,
            "saturated_ratio": round(steady_n / steady_w / bound, 3)
            if steady_w > 0 else None,
            "mean_concurrency_at_sim": round(busy / window, 2),
            # slot time left unused, per order delivered: the dispatcher's
            # hand-over from one finished order to the next
            "idle_slot_ms_per_order": round(
                (C * window - busy) * 1000 / max(1, len(set(
                    r["path"] for r in log_))), 1),
            "ns_ms_p50": round(pct(ms, 50), 1),
            "ns_ms_mean": round(sum(ms) / len(ms), 1) if ms else None,
            "ns_ms_p99": round(pct(ms, 99), 1),
            "429": c.get("429", 0),
            "2xx": ok,
            "429_per_success": round(c.get("429", 0) / ok, 4) if ok
            else None,
            "by_status": c.get("by_status"),
            "max_in_flight_at_sim": c.get("max_in_flight"),
            "sim_writes": c.get("writes"),
            "sim_reads": c.get("reads"),
            "kinds": {"%s %s" % k: v for k, v in sorted(kinds.items())},
            "applied_edits": applied,
            "requests_per_applied_edit": round(
                sum(by_kind.values()) / applied, 3) if applied else None,
            "requests_per_applied_edit_by_kind": per_edit,
            "orders": len(writes),
            "writes_total": total_writes,
            "writes_per_order": round(total_writes / len(writes), 4)
            if writes else None,
            "writes_histogram": {str(k): v for k, v in sorted(whist.items())},
            "orders_not_at_newest_snapshot": len(not_newest),
            "not_newest_sample": not_newest[:5],
            "lock_reads_per_order": round(
                sum(v for (k, s), v in kinds.items() if k == "lock_read")
                / max(1, len(writes)), 3),
            "readbacks_per_order": round(
                sum(v for (k, s), v in kinds.items() if k == "readback")
                / max(1, len(writes)), 3),
            "drain_s_from_first_post": round(
                last - sat["post"]["start"], 2),
            "drain_s_polled": round(sat["t_drained"] - sat["post"]["start"],
                                    2),
            "store": shop,
            "account": acct,
            "exceptions": len((sat["exceptions"] or {}).get(
                "exceptions", [])),
            "webhooks": n_work,
            "saturated_post": sat_lat,
            "saturated_post_p99_in_window_ms": round(pct(in_sat, 99), 3)
            if in_sat else None,
            "saturated_posts_in_window": len(in_sat),
            "idle_p99_ms_each": idle_p99,
            "idle_p99_ms": round(ref, 3) if ref else None,
            "p99_ratio": round(sat_lat["p99_ms"] / ref, 3) if ref else None,
            "error_log_levels": dict(sat["log_lines"]),
            "ratio_measured": round(
                c.get("requests", 0) / window * (sum(ms) / len(ms))
                / (C * 1000.0), 3) if ms else None,
            "steady": steady_state(log_, spans, C, L, sat_start),
            "slots": slot_breakdown(log_, spans, C, first, last,
                                    sat_start if sat_start is not None
                                    else first, sat_end),
            "mode": a.mode,
            "session_gap_ms": a.session_gap_ms,
            "cpu_posting": sat["cpu_posting"],
            "cpu_drain": sat["cpu_drain"],
        }
        if stalls:
            longest = max(stalls, key=lambda x: x[1])
            self.problems.append(
                "the machine stalled %.1f s of the drain window (%d times, "
                "the longest %.1f s at %s UTC): this client's clock watch "
                "was not run, nor were nginx and the simulator; the ratio "
                "measures the pause (%.3f without it)" % (
                    stalled, len(stalls), longest[1],
                    time.strftime("%H:%M:%S", time.gmtime(longest[0])),
                    r["ratio_without_stalls"] or 0))
        # counts that must add up
        if shop.get("acked") != n_work:
            self.problems.append("acked %r of %d webhooks" % (
                shop.get("acked"), n_work))
        if shop.get("parked") or r["exceptions"]:
            self.problems.append("%r parked, %r exceptions" % (
                shop.get("parked"), r["exceptions"]))
        if not_newest:
            self.problems.append("%d orders not at the newest snapshot"
                                 % len(not_newest))
        if whist.get(0):
            self.problems.append("%d orders never written" % whist[0])
        if acct.get("requests") is not None and \
                acct.get("requests") != c.get("requests"):
            self.problems.append(
                "status says %r NetSuite requests, the simulator %r" % (
                    acct.get("requests"), c.get("requests")))
        if acct.get("over_limit") is not None and \
                acct.get("over_limit") != c.get("429", 0):
            self.problems.append(
                "status says %r over-limit answers, the simulator %r 429s"
                % (acct.get("over_limit"), c.get("429")))
        return r

    # -- the whole run ----------------------------------------------------

    def run(self):
        a = self.a
        work, self.offsets = session_schedule(
            bodies(a.orders, a.snapshots), a)
        log("bench-dispatch: %d orders x %d snapshots = %d webhooks; "
            "NetSuite C=%d, %d ms; %d client threads at %s/s; %s" % (
                a.orders, a.snapshots, len(work), a.concurrency,
                a.latency_ms, a.threads, a.rate or "max",
                os.path.basename(a.module)))
        self.start_sim()
        log("  simulator on 127.0.0.1:%d" % self.sim.port)
        self.seed()
        log("  seeded %d Sales Orders" % a.orders)

        idles = []
        n_idle = 0 if a.no_idle else (1 if a.quick else 2)
        if n_idle:
            log("  idle reference 1: the same posts, nginx without the "
                "dispatcher")
            self.idle_ref(work, "idle1", idles)

        log("  saturated run: the dispatcher delivers to NetSuite")
        sat = self.saturated_run(work)

        if n_idle > 1:
            log("  idle reference 2 (after, for drift)")
            self.idle_ref(work, "idle2", idles)

        res = self.analyse(sat, idles, len(work))
        if sat["post"]["bad"]:
            self.problems.append("%d webhook posts not answered 200 queued: "
                                 "%r" % (len(sat["post"]["bad"]),
                                         sat["post"]["bad"][:3]))
        for i in idles:
            if i["bad"]:
                self.problems.append("idle run: %d posts not queued: %r"
                                     % (i["bad"], i["bad_sample"][:3]))
        self.write(res, sat, idles, work)
        return 1 if self.problems else 0

    def meta(self):
        a = self.a
        return {
            "stamp": self.stamp, "date": time.strftime("%Y-%m-%d"),
            "host": platform.node(), "cpus": os.cpu_count(),
            "load_before": os.getloadavg(), "args": vars(a),
            "nginx": subprocess.run([a.nginx, "-v"], capture_output=True,
                                    text=True).stderr.strip(),
            "commit": subprocess.run(
                ["git", "-C", TOP, "describe", "--always", "--dirty"],
                capture_output=True, text=True).stdout.strip(),
        }

    def steady_lines(self, r):
        st = r.get("steady")
        if not st:
            return ["%-34s %14s   %s" % ("steady state", "-",
                                         "no saturated stretch")]
        return [
            "%-34s %14s   %s" % (
                "steady state: ratio to C/L", "%.3f" % st["ratio_nominal"],
                ">= 0.98 (issue 17; all C first busy at %.1f s, the last "
                "new order started %.1f s later; %.1f req/s)" % (
                    st["from_s"], st["window_s"], st["req_per_s"])),
            "%-34s %14s   %s" % (
                "  to C / measured service time",
                "%.3f" % (st["ratio_measured"] or 0),
                ">= 0.98, the aim's figure (the simulator answered in "
                "%.2f ms on average: bound %.2f req/s)" % (
                    st["ns_ms_mean"] or 0,
                    st["bound_measured_req_per_s"] or 0)),
            "%-34s %14s   %s" % (
                "  slot time: busy", "%.4f" % st["occupancy"],
                "idle: own gaps %.4f, hand-off and other %.4f; hand-off "
                "(a job's last answer to the next job's first request, "
                "%d) p50 %s p90 %s p99 %s max %s ms, %d over 5 ms, %d "
                "over 50 ms" % (
                    st["own_gap_share"], st["handoff_and_other_share"],
                    st["handoffs"], st["handoff_ms_p50"],
                    st["handoff_ms_p90"], st["handoff_ms_p99"],
                    st["handoff_ms_max"], st["handoffs_over_5ms"],
                    st["handoffs_over_50ms"])),
        ]

    def write(self, r, sat, idles, work):
        a = self.a
        meta = self.meta()
        for i in idles:
            i.pop("_lat", None)
        with open(self.prefix + ".json", "w") as f:
            json.dump({"meta": meta, "result": r, "idle": idles,
                       "problems": self.problems,
                       "status": sat["status"], "counters": sat["counters"],
                       "polls": sat["polls"],
                       "post_latency_ms": sat["post"]["lat"]}, f, indent=1)
        with open(self.prefix + ".requests.jsonl", "w") as f:
            for e in sat["reqlog"]:
                e.pop("request_body", None)
                f.write(json.dumps(e) + "\n")

        bound = r["bound_req_per_s"]
        shop, acct = r["store"], r["account"]
        idle_txt = " / ".join("%.2f" % p for p in r["idle_p99_ms_each"])
        lines = [
            "bench-dispatch %s  %s, %d CPUs, %s, commit %s" % (
                meta["date"], meta["host"], meta["cpus"], meta["nginx"],
                meta["commit"]),
            "  %d orders x %d snapshots = %d webhooks, %d threads at %s/s;"
            " NetSuite sim C=%d, %d ms fixed; dispatcher concurrency %d;"
            " mode %s%s" % (
                a.orders, a.snapshots, len(work), a.threads,
                a.rate or "max", a.concurrency, a.latency_ms,
                a.concurrency, a.mode,
                "; snapshots of an order %g ms apart" % a.session_gap_ms
                if self.offsets else ""),
            "",
            "%-34s %14s   %s" % ("metric", "value", "aim"),
            "%-34s %14s   %s" % (
                "NetSuite req/s (drain window)",
                "%.1f" % r["req_per_s"], "bound C/L = %.0f" % bound),
            "%-34s %14s   %s" % ("  ratio to the bound", "%.3f" % r["ratio"],
                                 "whole run, ramp-up and tail included; "
                                 "%.3f against the measured bound" % (
                                     r["ratio_measured"] or 0)),
            "%-34s %14s   %s" % (
                "  without the machine's stalls",
                "%.3f" % (r["ratio_without_stalls"] or 0),
                "%.1f s stalled (%d late wake-ups of the client's clock "
                "watch)" % (r["machine_stalled_s"],
                            len(r["machine_stalls"]))),
            "%-34s %14s   %s" % (
                "  up to the last moment all C busy", "%.3f" % (
                    r["saturated_ratio"] or 0),
                "(%.1f req/s over %.1f s, ramp-up included)" % (
                    r["saturated_req_per_s"] or 0, r["saturated_window_s"])),
        ] + self.steady_lines(r) + [
            "%-34s %14s   %s" % ("  mean concurrency at the sim",
                                 "%.2f" % r["mean_concurrency_at_sim"],
                                 "of %d; answer p50 %.1f ms, mean %.1f" % (
                                     a.concurrency, r["ns_ms_p50"],
                                     r["ns_ms_mean"] or 0)),
            "%-34s %14s   %s" % ("  unused slot time per order",
                                 "%.1f ms" % r["idle_slot_ms_per_order"],
                                 "(3 requests of %d ms each)" % a.latency_ms),
            "%-34s %14s   %s" % ("429s per success", "%.4f" % (
                r["429_per_success"] or 0), "<= 0.01 (%d / %d)" % (
                    r["429"], r["2xx"])),
            "%-34s %14s   %s" % ("NetSuite writes per order", "%.3f" % (
                r["writes_per_order"] or 0), "1.0 (histogram %s)" % (
                    r["writes_histogram"])),
            "%-34s %14s   %s" % ("  lock reads per order",
                                 "%.3f" % r["lock_reads_per_order"], ""),
            "%-34s %14s   %s" % ("  read-backs per order",
                                 "%.3f" % r["readbacks_per_order"], ""),
            "%-34s %14s   %s" % (
                "NetSuite requests per applied edit",
                "%.3f" % (r["requests_per_applied_edit"] or 0),
                "%d applied edits (2xx writes); by kind: %s" % (
                    r["applied_edits"], ", ".join(
                        "%s %.3f" % (k, v) for k, v in
                        r["requests_per_applied_edit_by_kind"].items()))),
            "%-34s %14s   %s" % (
                "slot time: busy / ramp / tail",
                "%.3f" % (r["slots"]["busy_share"] or 0),
                "ramp-up idle %.4f, tail idle %.4f, own gaps %.4f (%s "
                "gaps, p50 %s ms, p99 %s ms), hand-off and other %.4f" % (
                    r["slots"]["ramp_idle_share"] or 0,
                    r["slots"]["tail_idle_share"] or 0,
                    r["slots"]["within_order_gap_share"] or 0,
                    r["slots"]["within_order_gaps"],
                    r["slots"]["within_order_gap_ms_p50"],
                    r["slots"]["within_order_gap_ms_p99"],
                    r["slots"]["handoff_and_other_share"] or 0)),
            "%-34s %14s   %s" % ("NetSuite API requests",
                                 r["api_requests"], "by status %s" %
                                 r["by_status"]),
            "%-34s %14s   %s" % ("drain time (first post to last answer)",
                                 "%.1f s" % r["drain_s_from_first_post"],
                                 "posting took %.1f s" %
                                 r["saturated_post"]["seconds"]),
            "%-34s %14s   %s" % ("webhook p99, NetSuite saturated",
                                 "%.2f ms" % r["saturated_post"]["p99_ms"],
                                 "p50 %.2f ms, %d posts" % (
                                     r["saturated_post"]["p50_ms"],
                                     r["saturated_post"]["n"])),
            "%-34s %14s   %s" % ("webhook p99, NetSuite idle",
                                 "%.2f ms" % (r["idle_p99_ms"] or 0),
                                 "runs: %s" % idle_txt),
            "%-34s %14s   %s" % ("  ratio", "%.2f" % (r["p99_ratio"] or 0),
                                 "<= 1.2"),
            "",
            "dispatcher (GET /status): received %s queued %s leased %s "
            "acked %s requeued %s stale %s coalesced %s parked %s "
            "exceptions %s lease_reclaimed %s" % tuple(
                shop.get(k) for k in (
                    "received", "queued", "leased", "acked", "requeued",
                    "stale", "coalesced", "parked", "exceptions",
                    "lease_reclaimed")),
            "account: requests %s over_limit %s failed %s limit %s/%s "
            "latency p50 %s p99 %s ms" % (
                acct.get("requests"), acct.get("over_limit"),
                acct.get("failed"), acct.get("limit"),
                acct.get("concurrency"),
                (acct.get("latency_ms") or {}).get("p50"),
                (acct.get("latency_ms") or {}).get("p99")),
            "orders not at the newest snapshot: %d; error log: %s" % (
                r["orders_not_at_newest_snapshot"],
                r["error_log_levels"]),
            "cpu while posting (%%): %s" % {
                k: v for k, v in r["cpu_posting"].items()},
        ]
        for i, idle in enumerate(idles):
            lines.append("cpu idle run %d (%%): %s" % (i + 1, idle["cpu"]))
        if self.problems:
            lines.append("")
            lines.append("PROBLEMS:")
            lines += ["  - " + p for p in self.problems]
        lines.append("")
        lines.append("raw: %s.{json,requests.jsonl,*.error.log}" %
                     os.path.relpath(self.prefix, TOP))
        text = "\n".join(lines) + "\n"
        with open(self.prefix + ".txt", "w") as f:
            f.write(text)
        log("")
        log(text)


# ---------------------------------------------------------------------------
# --reconcile: the same saturated run without, then with, the catch-up from
# the Shopify Admin API (`reconcile`) and the mismatch report (`report`)

TOKEN = "shpat_bench_dispatch"
DAY_FIRST_ID = 6100000000
SUITEQL = "/query/v1/suiteql"


class Asker(threading.Thread):
    """POSTs to the order_edit_report location every period: a report
    asked for again and again while NetSuite is saturated."""

    def __init__(self, ngx, period):
        super().__init__(daemon=True)
        self.ngx, self.period = ngx, period
        self.stop_ev = threading.Event()
        self.answers = collections.Counter()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                s, _, _ = self.ngx.request("POST", "/report?shop=" + SHOP)
            except Exception as e:  # noqa: BLE001
                s = type(e).__name__
            self.answers[str(s)] += 1
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join(5)


class Prober(threading.Thread):
    """GETs a location nginx answers itself (204) every period, a fresh
    connection each: the workers' event-loop latency, also after the
    posting, while the queue drains and reconciliation and the report
    run (no webhook is posted then: a duplicate would count as
    received)."""

    def __init__(self, ngx, period=0.02):
        super().__init__(daemon=True)
        self.ngx, self.period = ngx, period
        self.stop_ev = threading.Event()
        self.samples = []           # (wall, ms)
        self.bad = 0

    def run(self):
        while not self.stop_ev.is_set():
            wall = time.time()
            s = time.perf_counter()
            try:
                status = self.ngx.request("GET", "/probe")[0]
            except Exception:  # noqa: BLE001
                status = None
            self.samples.append((wall, (time.perf_counter() - s) * 1000))
            self.bad += status != 204
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join(5)


class RecBench(Bench):
    """Two saturated runs on the same machine, in one invocation, with
    the same webhooks, the same NetSuite (records reset and seeded again)
    and the same shop in tools/shopify-sim (reset and laid out again):
    one nginx without `reconcile` and `report`, one with them.

    The shop holds --day-orders orders changed over the day before the
    run (older than reconciliation's window: its first run does not queue
    them, as a running nginx's watermark would not; the report lists them)
    and the bench's orders, dated at the end of the posting: they list
    only once their last webhook was posted, at the snapshot it carried,
    so that reconciliation finds nothing missing and the work NetSuite
    gets is the same in both runs."""

    def __init__(self, a):
        super().__init__(a)
        self.prefix = os.path.join(a.out, "dispatch-rec-" + self.stamp)
        self.shopify = None
        self.rec_on = False
        self.asker = None
        self.prober = None
        self.so_template = None     # (order id, a Sales Order written)

    def http_conf(self, http, dispatch):
        exc = "location /exc { order_edit_exceptions edits; }"
        assert exc in http
        http = http.replace(exc, exc + "\n        location = /probe "
                            "{ return 204; }")
        a, k = self.a, self.keys
        sku = "sku_map %s/skus.map;" % k
        assert sku in http
        # Shopify's tax booked as NetSuite's (the simulator has no tax
        # engine), in every run: the Sales Orders written, and the day's
        # copied from one, then equal Shopify's orders in the report
        http = http.replace(sku, sku + "\n        tax_details 13 91;")
        if not (dispatch and self.rec_on):
            return http
        rec = ("reconcile token_file=%s/shopify.token url=http://127.0.0.1:%d"
               " api_version=2024-10 interval=%s window=2m overlap=2s"
               " page_size=%d%s;\n        report dir=%s/reports at=02:00"
               " keep=31d%s;" % (k, self.shopify.port, a.rec_interval,
                                 a.rec_page_size, " queue_max=%d"
                                 % a.rec_queue_max if a.rec_queue_max
                                 else "", k,
                                 " max_exceptions=%d" % a.rec_max_exceptions
                                 if a.rec_max_exceptions >= 0 else ""))
        if a.background_pool:
            http = ("    order_edit_curl background_thread_pool=oe_bg;\n"
                    + http)
        return (http.replace(sku, sku + "\n        " + rec)
                .replace(exc, exc + "\n        location = /report "
                         "{ order_edit_report edits; }"))

    def nginx(self, dispatch):
        ngx = super().nginx(dispatch)
        if dispatch:
            self.prober = Prober(ngx)
            self.prober.start()
        if dispatch and self.rec_on:
            self.asker = Asker(ngx, self.a.report_every)
            self.asker.start()
        return ngx

    def stop_nginx(self, ngx, name):
        if self.asker is not None:
            self.asker.stop()
        if self.prober is not None:
            self.prober.stop()
        if self.rec_on and name == "saturated":
            # the last run's rows, a few: what the report found
            try:
                doc = json.loads(ngx.request(
                    "GET", "/report?shop=" + SHOP)[2] or b"{}")
                self.report_rows = (doc.get("rows") or [])[:5]
            except Exception as e:  # noqa: BLE001
                self.report_rows = [repr(e)]
        return super().stop_nginx(ngx, name)

    def cpu_mark(self, ngx):
        m = super().cpu_mark(ngx)
        if self.shopify is not None:
            m["shopify_sim"] = cpu_seconds(self.shopify.proc.pid)
        return m

    def cleanup(self):
        if self.shopify is not None:
            try:
                self.shopify.stop()
            except Exception as e:  # noqa: BLE001
                log("cleanup: shopify-sim: %r" % e)
            self.shopify = None
        super().cleanup()

    # -- the two sides' state before each run -----------------------------

    def start_shopify(self):
        import shopifysimhelper
        self.shopify = shopifysimhelper.ShopifySim()
        renice(self.sim.proc.pid, self.a.sim_nice, self.a.sim_idle)
        renice(self.shopify.proc.pid, self.a.sim_nice, self.a.sim_idle)
        with open(os.path.join(self.keys, "shopify.token"), "w") as f:
            f.write(TOKEN + "\n")
        reports = os.path.join(self.keys, "reports")
        os.makedirs(reports)
        os.chmod(reports, 0o777)

    def lay_out_shop(self, todo):
        """Orders (id, updated_at) into the shop, firing nothing."""
        import http.client
        with open(os.path.join(FIX, FIXTURE)) as f:
            base = json.load(f)
        c = http.client.HTTPConnection("127.0.0.1", self.shopify.port,
                                       timeout=10)
        for oid, at in todo:
            o = dict(base, id=oid)
            c.request("POST", "/_sim/shops/%s/orders" % SHOP,
                      json.dumps({"order": o, "fire": False, "at": at}),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 201:
                raise RuntimeError("shopify-sim: %d creating %d"
                                   % (r.status, oid))
        c.close()

    def prepare(self):
        """NetSuite as before the first run, the shop laid out, and the
        webhooks dated so that the newest lands after the posting."""
        global SNAPSHOT_BASE
        a = self.a
        self.sim.admin("POST", "reset", {"records": True, "counters": True,
                                         "requests": True, "faults": False,
                                         "nonces": False})
        self.seed()
        if self.rec_on and not a.day_missing:
            self.seed_day_orders()
        # a fresh shop: the day's orders an hour to a day old
        self.shopify.ctl("POST", "shops", {"domain": SHOP,
                                           "access_token": TOKEN,
                                           "secret": SECRET})
        now = time.time()
        self.lay_out_shop([(DAY_FIRST_ID + i,
                            now - 3600 - i * 82800.0 / max(1, a.day_orders))
                           for i in range(a.day_orders)])
        # the bench's orders at their last snapshot, dated a little after
        # the posting's end (nginx starts in about a second)
        n = a.orders * a.snapshots
        posting = n / a.rate if a.rate > 0 else n / 200.0
        newest = int(time.time() + a.orders / 1000.0 + 2 + posting + 2)
        SNAPSHOT_BASE = newest - 60 * (a.snapshots - 1)
        self.lay_out_shop([(FIRST_ORDER_ID + i, newest)
                           for i in range(a.orders)])
        return bodies(a.orders, a.snapshots)

    def keep_template(self, reqlog):
        """A Sales Order as the module wrote it (its last write of one
        of the bench's orders, from the simulator's request log): the
        day's orders are seeded in NetSuite as its copies."""
        for e in reversed(reqlog):
            b = e.get("request_body")
            if e.get("method") in ("PATCH", "POST", "PUT") \
                    and "salesOrder" in (e.get("path") or "") \
                    and isinstance(b, dict) and b.get("item") \
                    and b.get("custbody_shopify_order_id"):
                # the simulator's JSON numbers are Decimals; a float's
                # repr is the shortest text that reads back the same
                self.so_template = (str(b["custbody_shopify_order_id"]),
                                    json.dumps(b, default=float))
                return

    def seed_day_orders(self):
        """The day's orders in NetSuite as the module would have written
        them: the report finds them equal and raises nothing."""
        if self.so_template is None:
            raise RuntimeError("no Sales Order written yet to copy: a run "
                               "without the report comes first (or use "
                               "--day-missing)")
        src, text = self.so_template
        recs = []
        for i in range(self.a.day_orders):
            oid = str(DAY_FIRST_ID + i)
            r = json.loads(text.replace(src, oid))
            r["externalId"] = EID % int(oid)
            r["custbody_shopify_order_id"] = oid
            r.setdefault("entity", {"id": "42"})
            # an update names the lines it changes: a new record has none
            for line in (r.get("item") or {}).get("items") or []:
                line.pop("line", None)
            recs.append(r)
        if recs:
            self.sim.admin("POST", "records/salesOrder", {"records": recs})

    # -- a run and its numbers --------------------------------------------

    def one(self, rec, idles):
        self.rec_on = rec
        name = "with" if rec else "without"
        work = self.prepare()
        log("  saturated run %s reconciliation and the report" % name)
        sat = self.saturated_run(work)
        if self.so_template is None:
            self.keep_template(sat["reqlog"])
        shop = self.shopify.ctl("GET", "shops/" + SHOP)
        calls = self.shopify.ctl("GET", "shops/%s/requests" % SHOP)
        asked = dict(self.asker.answers) if rec and self.asker else {}
        self.asker = None
        probes, self.prober = self.prober, None
        n_problems = len(self.problems)
        r = self.analyse_rec(sat, idles, len(work))
        for i in range(n_problems, len(self.problems)):
            self.problems[i] = "%s: %s" % (name, self.problems[i])
        if sat["post"]["bad"]:
            self.problems.append("%s: %d webhook posts not answered 200 "
                                 "queued: %r" % (name, len(sat["post"]["bad"]),
                                                 sat["post"]["bad"][:3]))
        r["shopify_api_calls"] = shop.get("api_calls")
        r["shopify_429"] = shop.get("api_429")
        r["shopify_pages_reconcile"] = sum(
            1 for q in calls["requests"] if "updated_at_min" in q["path"])
        r["report_asks"] = asked
        r["report_done"] = sat["report_done"]
        r["report_hold_us"] = sat["report_hold_us"]
        r["report_raised"] = sat["report_raised"]
        r["report_file_us"] = sat["report_file_us"]
        r["report_cpu_us"] = sat["report_cpu_us"]
        r["report_done_lines"] = sat["report_hold_lines"]
        r["report_rows_sample"] = getattr(self, "report_rows", []) \
            if rec else []
        if rec and r["report_rows_sample"] and not self.a.day_missing:
            self.problems.append("%s: the report has rows, though NetSuite "
                                 "holds every order: %s" % (
                                     name, json.dumps(
                                         r["report_rows_sample"][:2])))
        # the probes while posting, and from the posting's end to the
        # queue drained (reconciliation and the report run then)
        end, drained = sat["post"]["end"], sat["t_drained"]
        for k, sel in (("posting", lambda w: w <= end),
                       ("drain", lambda w: end < w <= drained)):
            ms = [m for w, m in probes.samples if sel(w)]
            r["probe_" + k] = {"n": len(ms),
                               "p50_ms": round(pct(ms, 50), 3),
                               "p99_ms": round(pct(ms, 99), 3),
                               "max_ms": round(max(ms), 3) if ms else None}
        if probes.bad:
            self.problems.append("%s: %d probes not answered 204"
                                 % (name, probes.bad))
        log("    p99 %.2f ms, NetSuite 429 %d, ratio %.3f, Shopify 429 %s"
            % (r["saturated_post"]["p99_ms"], r["429_all"],
               r["ratio_all"], r["shopify_429"]))
        return r, sat

    def analyse_rec(self, sat, idles, n_work):
        """analyse() over the edits' requests (the report's SuiteQL taken
        out, and counted here), then the same over every request."""
        log_all = sat["reqlog"]
        sq = [e for e in log_all if SUITEQL in (e.get("path") or "")]
        sq_429 = sum(1 for e in sq if e.get("status") == 429)
        edits = dict(sat)
        edits["reqlog"] = [e for e in log_all
                           if SUITEQL not in (e.get("path") or "")]
        c = dict(sat["counters"])
        c["429_all"] = c.get("429", 0)
        c["requests"] = c.get("requests", 0) - len(sq)
        c["429"] = c.get("429", 0) - sq_429
        edits["counters"] = c
        st = json.loads(json.dumps(sat["status"]))
        shop = st["stores"].get(SHOP, {})
        acct = st.get("netsuite", {}).get("main", {})
        rec = (st.get("reconcile") or {}).get(SHOP) or {}
        if acct.get("requests") is not None:
            acct["requests"] -= len(sq)
        if acct.get("over_limit") is not None:
            acct["over_limit"] -= sq_429
        if shop.get("acked") is not None:
            # what reconciliation queued is acked too: reported apart
            shop["acked"] -= rec.get("enqueued", 0)
        edits["status"] = st
        r = self.analyse(edits, idles, n_work)
        # the report and reconciliation go on after the drain: a request
        # of theirs may be counted by the simulator and not yet answered
        # when the status is read (a difference of one is that race)
        for i, p in enumerate(self.problems):
            if p.startswith("status says ") and "NetSuite requests" in p:
                ns = [int(x) for x in p.split() if x.isdigit()]
                if len(ns) == 2 and abs(ns[0] - ns[1]) <= 1:
                    self.problems[i] = None
        self.problems = [p for p in self.problems if p is not None]
        spans = [(e["time"] - e["ms"] / 1e3, e["time"]) for e in log_all]
        window = max(e for _, e in spans) - min(s for s, _ in spans)
        bound = r["bound_req_per_s"]
        r["suiteql"] = len(sq)
        r["suiteql_429"] = sq_429
        r["429_all"] = c["429_all"]
        r["api_requests_all"] = len(log_all)
        r["ratio_all"] = round(len(log_all) / window / bound, 3)
        r["reconcile"] = rec
        return r

    def run(self):
        if self.a.pairs:
            return self.run_pairs()
        if self.a.rec_first and not self.a.day_missing:
            raise SystemExit("--rec-first copies the day's Sales Orders "
                             "from a run without: add --day-missing")
        a = self.a
        work = bodies(a.orders, a.snapshots)
        log("bench-dispatch --reconcile: %d orders x %d snapshots = %d "
            "webhooks; NetSuite C=%d, %d ms; %d client threads at %s/s; "
            "shop: %d orders in the day besides; reconcile interval=%s "
            "page_size=%d queue_max=%s; a report asked every %.1f s" % (
                a.orders, a.snapshots, len(work), a.concurrency,
                a.latency_ms, a.threads, a.rate or "max", a.day_orders,
                a.rec_interval, a.rec_page_size,
                a.rec_queue_max or "(module's)", a.report_every))
        self.start_sim()
        self.start_shopify()
        log("  NetSuite simulator on 127.0.0.1:%d, Shopify on :%d" % (
            self.sim.port, self.shopify.port))
        idles = []
        n_idle = 0 if a.no_idle else (1 if a.quick else 2)
        if n_idle:
            log("  idle reference 1: the same posts, nginx without the "
                "dispatcher")
            self.idle_ref(work, "idle1", idles)
        res, sats = {}, {}
        for rec in ((True, False) if a.rec_first else (False, True)):
            res[rec], sats[rec] = self.one(rec, idles)
        if n_idle > 1:
            log("  idle reference 2 (after, for drift)")
            self.idle_ref(work, "idle2", idles)
        # the idle reference pooled over both idle runs, for both
        ref = pct([m for i in idles for m in i["_lat"]], 99) if idles \
            else None
        for r in res.values():
            r["idle_p99_ms"] = round(ref, 3) if ref else None
            r["idle_p99_ms_each"] = [i["p99_ms"] for i in idles]
            r["p99_ratio"] = round(r["saturated_post"]["p99_ms"] / ref, 3) \
                if ref else None
        for i in idles:
            if i["bad"]:
                self.problems.append("idle run: %d posts not queued: %r"
                                     % (i["bad"], i["bad_sample"][:3]))
        self.write_rec(res[False], res[True], sats, idles)
        return 1 if self.problems else 0

    def emit(self, lines):
        """The table, the problems and where the raw results are: to
        <prefix>.txt and the terminal."""
        if self.problems:
            lines += ["", "PROBLEMS:"] + ["  - " + p for p in self.problems]
        lines += ["", "raw: %s.json" % os.path.relpath(self.prefix, TOP)]
        text = "\n".join(lines) + "\n"
        with open(self.prefix + ".txt", "w") as f:
            f.write(text)
        log("")
        log(text)

    def run_pairs(self):
        """--pairs N: N pairs of runs at the same rate, without and with
        the report, alternating which goes first (ABBA: drift over the
        invocation falls on both sides alike); each pair's webhook p99
        ratio, and their median.  The decisive number is the median over
        the pairs, each pair's two runs minutes apart at most."""
        a = self.a
        work = bodies(a.orders, a.snapshots)
        log("bench-dispatch --reconcile --pairs %d: %d orders x %d "
            "snapshots at %s/s; NetSuite C=%d, %d ms; shop: %d orders in "
            "the day (%s NetSuite); a report asked every %.1f s" % (
                a.pairs, a.orders, a.snapshots, a.rate or "max",
                a.concurrency, a.latency_ms, a.day_orders,
                "not in" if a.day_missing else "also in", a.report_every))
        t0 = time.monotonic()
        self.start_sim()
        self.start_shopify()
        pairs = []
        for i in range(a.pairs):
            order = (False, True) if i % 2 == 0 else (True, False)
            if order[0] and not a.day_missing and self.so_template is None:
                order = (False, True)
            pr = {}
            for rec in order:
                log("  pair %d/%d:" % (i + 1, a.pairs))
                pr[rec] = self.one(rec, [])[0]
            pr["first"] = "with" if order[0] else "without"
            pairs.append(pr)
        self.write_pairs(pairs, time.monotonic() - t0)
        return 1 if self.problems else 0

    def write_pairs(self, pairs, seconds):
        a = self.a
        meta = self.meta()
        p99 = lambda r: r["saturated_post"]["p99_ms"]
        ratios = [p99(pr[True]) / p99(pr[False]) for pr in pairs
                  if p99(pr[False])]
        holds = [h for pr in pairs for h in pr[True]["report_hold_us"]]
        cpus = [h for pr in pairs for h in pr[True]["report_cpu_us"]]
        med = statistics.median(ratios) if ratios else None
        with open(self.prefix + ".json", "w") as f:
            json.dump({"meta": meta, "seconds": round(seconds, 1),
                       "pairs": [{"first": pr["first"],
                                  "without": pr[False], "with": pr[True]}
                                 for pr in pairs],
                       "ratios": ratios, "median_ratio": med,
                       "problems": self.problems}, f, indent=1,
                      default=str)
        rp = lambda r, k: ((r["reconcile"] or {}).get("report") or {}) \
            .get(k, "-")
        lines = [
            "bench-dispatch --reconcile --pairs %d  %s, %d CPUs, %s, commit "
            "%s, load before %.2f, %.0f s" % (
                a.pairs, meta["date"], meta["cpus"], meta["nginx"],
                meta["commit"], meta["load_before"][0], seconds),
            "  %d orders x %d snapshots at %s/s (NetSuite C=%d, %d ms); "
            "shop: %d day orders %s NetSuite; report asked every %.1f s"
            % (a.orders, a.snapshots, a.rate or "max", a.concurrency,
               a.latency_ms, a.day_orders,
               "missing in" if a.day_missing else "also in",
               a.report_every),
            "",
            "%-5s %-8s %9s %9s %7s %11s %11s %5s %7s %9s %8s %8s %7s %6s"
            % ("pair", "first", "p99 wo", "p99 with", "ratio", "p99.9 wo",
               "p99.9 with", "runs", "SuiteQL", "hold us", "cpu us",
               "file us", "raised", "rows"),
        ]
        for i, pr in enumerate(pairs):
            off, on = pr[False], pr[True]
            lines.append("%-5d %-8s %9.2f %9.2f %7.2f %11.2f %11.2f %5d "
                         "%7d %9s %8s %8s %7d %6s" % (
                             i + 1, pr["first"], p99(off), p99(on),
                             p99(on) / p99(off) if p99(off) else 0,
                             off["saturated_post"]["p999_ms"],
                             on["saturated_post"]["p999_ms"],
                             on["report_done"], on["suiteql"],
                             max(on["report_hold_us"] or [0]),
                             max(on["report_cpu_us"] or [0]),
                             max(on["report_file_us"] or [0]),
                             sum(on["report_raised"]),
                             "%s/%s/%s" % (rp(on, "mismatch"),
                                           rp(on, "missing_in_netsuite"),
                                           rp(on, "missing_in_shopify"))))
        lines += [
            "",
            "median p99 ratio (with / without): %s   (aim: <= 1, noise "
            "allowing)" % ("%.3f" % med if med is not None else "-"),
            "the report's longest step on the event loop: %s us wall time "
            "(a loaded machine's preemption included), %s us CPU (the "
            "runs that finished: %d); its day's file written in up to %s "
            "us" % (max(holds) if holds else "-",
                    max(cpus) if cpus else "-",
                    sum(pr[True]["report_done"] for pr in pairs),
                             max([f for pr in pairs
                                  for f in pr[True]["report_file_us"]]
                                 or ["-"])),
            "rows: the last run's mismatch / missing in NetSuite / missing "
            "in Shopify (0/0/0 unless --day-missing)",
        ]
        ph = phase_steps(l for pr in pairs
                         for l in pr[True]["report_done_lines"])
        over = ph.pop("_over", None)
        if ph:
            lines += [
                "the report's steps by phase, over the runs: most CPU / "
                "wall us a step, steps over %s us CPU / all:" % over,
                "  " + ", ".join("%s %d/%d %d/%d" % ((k,) + tuple(v))
                                 for k, v in ph.items()),
            ]
        cpu = lambda r, k: max([v for n, v in r["cpu_posting"].items()
                                if n.startswith(k)] or [0])
        lines.append(
            "CPU while posting, %% of one (nginx's dispatching worker, the "
            "NetSuite and Shopify simulators; --sim-nice %d%s), without / "
            "with: %s" % (a.sim_nice, ", SCHED_IDLE" if a.sim_idle else "",
                          "; ".join(
                "%.1f %.1f %.1f / %.1f %.1f %.1f" % (
                    cpu(pr[False], "nginx_worker"), cpu(pr[False], "sim"),
                    cpu(pr[False], "shopify_sim"),
                    cpu(pr[True], "nginx_worker"), cpu(pr[True], "sim"),
                    cpu(pr[True], "shopify_sim")) for pr in pairs)))
        self.emit(lines)

    def write_rec(self, off, on, sats, idles):
        a = self.a
        meta = self.meta()
        for i in idles:
            i.pop("_lat", None)
        with open(self.prefix + ".json", "w") as f:
            json.dump({"meta": meta, "without": off, "with": on,
                       "idle": idles, "problems": self.problems,
                       "status": {str(k): s["status"]
                                  for k, s in sats.items()},
                       "polls": {str(k): s["polls"]
                                 for k, s in sats.items()}}, f, indent=1)

        def row(name, key, fmt="%.3f", aim=""):
            v0, v1 = key(off), key(on)
            rel = "%.2f" % (v1 / v0) if isinstance(v0, (int, float)) \
                and isinstance(v1, (int, float)) and v0 else ""
            f = lambda v: fmt % v if isinstance(v, (int, float)) \
                else str(v)
            return "%-38s %12s %12s %7s   %s" % (name, f(v0), f(v1), rel,
                                                aim)

        sp = lambda r: r["saturated_post"]
        rc = lambda r, k: (r["reconcile"] or {}).get(k, "-")
        rp = lambda r, k: ((r["reconcile"] or {}).get("report") or {}) \
            .get(k, "-")
        lines = [
            "bench-dispatch --reconcile %s  %s, %d CPUs, %s, commit %s, "
            "load before %.2f" % (meta["date"], meta["host"], meta["cpus"],
                                  meta["nginx"], meta["commit"],
                                  meta["load_before"][0]),
            "  %d orders x %d snapshots, %d threads at %s/s; NetSuite sim "
            "C=%d, %d ms; shop: %d + %d orders; reconcile interval=%s "
            "page_size=%d queue_max=%s; report asked every %.1f s; runs: %s"
            % (a.orders, a.snapshots, a.threads, a.rate or "max",
               a.concurrency, a.latency_ms, a.orders, a.day_orders,
               a.rec_interval, a.rec_page_size,
               a.rec_queue_max or "module's", a.report_every,
               "with, without" if a.rec_first else "without, with"),
            "",
            "%-38s %12s %12s %7s   %s" % ("metric", "without", "with",
                                         "with/wo", "aim"),
            row("webhook p99, NetSuite saturated (ms)",
                lambda r: sp(r)["p99_ms"], "%.2f", "with/wo <= ~1 (noise)"),
            row("  p50 (ms)", lambda r: sp(r)["p50_ms"], "%.2f"),
            row("  p99.9 (ms)", lambda r: sp(r)["p999_ms"], "%.2f"),
            row("  ratio to idle p99", lambda r: r["p99_ratio"] or 0,
                "%.2f", "<= 1.2; idle p99 %s ms (runs %s)" % (
                    on["idle_p99_ms"], on["idle_p99_ms_each"])),
            row("probe p99 while posting (ms)",
                lambda r: r["probe_posting"]["p99_ms"], "%.2f",
                "GET of a 204, 50/s"),
            row("probe p99 while draining (ms)",
                lambda r: r["probe_drain"]["p99_ms"], "%.2f",
                "no webhooks then; reconcile and report run"),
            row("  max (ms)", lambda r: r["probe_drain"]["max_ms"], "%.2f"),
            row("NetSuite 429s (simulator)", lambda r: r["429_all"], "%d",
                "0"),
            row("NetSuite calls / bound (all)", lambda r: r["ratio_all"],
                "%.3f", ">= 0.95"),
            row("  edits only (SuiteQL out)", lambda r: r["ratio"]),
            row("  while all C slots busy (edits)",
                lambda r: r["saturated_ratio"] or 0),
            row("  SuiteQL queries (the report)", lambda r: r["suiteql"],
                "%d"),
            row("NetSuite writes per order", lambda r: r["writes_per_order"]
                or 0, "%.3f", "1.0"),
            row("NetSuite requests per applied edit",
                lambda r: r["requests_per_applied_edit"] or 0),
            row("drain (first post to last answer, s)",
                lambda r: r["drain_s_from_first_post"], "%.1f"),
            row("Shopify API calls", lambda r: r["shopify_api_calls"], "%d"),
            row("Shopify 429s", lambda r: r["shopify_429"], "%d", "0"),
            row("reconcile runs (polled)", lambda r: rc(r, "polled"), "%s"),
            row("  pages / orders listed",
                lambda r: "%s/%s" % (rc(r, "pages"), rc(r, "orders")), "%s"),
            row("  found missing / enqueued",
                lambda r: "%s/%s" % (rc(r, "found_missing"),
                                     rc(r, "enqueued")), "%s", "0/0"),
            row("  errors / throttled",
                lambda r: "%s/%s" % (rc(r, "errors"), rc(r, "throttled")),
                "%s"),
            row("report runs / errors",
                lambda r: "%s/%s" % (rp(r, "runs"), rp(r, "errors")), "%s"),
            row("  asks (POST /report answers)",
                lambda r: r["report_asks"] or "-", "%s"),
            row("dispatching nginx CPU while posting (%)",
                lambda r: max([v for k, v in r["cpu_posting"].items()
                               if k.startswith("nginx_worker")] or [0]),
                "%.1f"),
        ]
        self.emit(lines)


def main():
    b = (RecBench if ARGS.reconcile else Bench)(ARGS)

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return b.run()
    except KeyboardInterrupt as e:
        log("bench-dispatch: interrupted (%s)" % e)
        return 130
    finally:
        b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
