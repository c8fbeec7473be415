#!/usr/bin/env python3
"""bench/journal: what order_edit_journal costs webhook ingest.

nginx with ONE worker answers the signed ~16 KB Shopify orders/updated of
bench/ingest (unique X-Shopify-Webhook-Id per request, wrk + post.lua) in
four configurations, interleaved in rounds within one run:

  nojournal  order_edit_zone + order_edit_webhook (bench/ingest's "module")
  off        + order_edit_journal DIR fsync=off
  batch      + order_edit_journal DIR fsync=batch   (group commit, window)
  always     + order_edit_journal DIR fsync=always  (group commit)

Reported per configuration and concurrency: req/s (median of rounds),
p50/p99 latency, the ratio to nojournal (median, and per round against
the same round's nojournal), and the journal's own counters from GET on
the order_edit_status location (records per fsync, fsyncs per second,
sampled fsync durations). Aim (issue): batch keeps >= 0.7 of nojournal's
throughput with p99 < 10 ms, judged at the first --connections value.

Every run: a fresh nginx (fresh zone) with a fresh, empty journal
directory on the project's filesystem (build/, printed with its device),
a sanity request that must answer 200 queued, then two measurements in
the same nginx: cold (the fresh zone and journal: a warm-up, the measured
wrk run), then the steady state (the zone filled until it refuses and
drained by lease + ack, so the zone's pages and the journal's records
have been written once and acknowledged, as under a dispatcher; a
warm-up, the measured run).  Every answer is counted by status
(count.lua), the status counters must account for every request, and
perf profiles the worker in a run of its own after each measured one. See
bench/README.md.

Usage: bench/journal/run.py [options]        (or: make bench-journal)
Python 3 standard library, wrk, taskset.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))

sys.path.insert(0, HERE)
from summarise import pct  # noqa: E402  (one percentile for both)
sys.path.insert(0, os.path.join(TOP, "bench"))
import perf_profile  # noqa: E402
import queue_drain  # noqa: E402
INGEST = os.path.join(TOP, "bench", "ingest")

SHOP = "bench.myshopify.com"
TOPIC = "orders/updated"
SECRET = "bench-shared-secret-0123456789abcdef"
CONFIGS = ("nojournal", "off", "batch", "always")
SERIOUS = ("[alert]", "[crit]", "[emerg]", "exited on signal")
STORE_BAD = ("duplicate", "rejected_signature", "rejected_request",
             "rate_limited", "ignored", "queue_full")
JOURNAL_KEYS = ("writes", "fsyncs", "last_fsync_us", "bytes", "segments",
                "pending", "errors", "full")


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(
        description="order_edit_journal ingest cost: fsync=off/batch/always "
                    "against no journal, one worker, interleaved rounds "
                    "(see bench/README.md).")
    p.add_argument("--rounds", type=int, default=int(env("ROUNDS", 3)))
    p.add_argument("--duration", type=int, default=int(env("DURATION", 5)),
                   help="measured seconds per run (5)")
    p.add_argument("--warmup", type=int, default=int(env("WARMUP", 1)),
                   help="warm-up seconds per run (1)")
    p.add_argument("--connections", default=env("CONNECTIONS", "32,128"),
                   help="wrk connections, a comma list; the aim is judged "
                        "at the first (32,128)")
    p.add_argument("--configs", default=env("CONFIGS", ",".join(CONFIGS)))
    p.add_argument("--zone", default=env("ZONE", "auto"),
                   help="order_edit_zone size in nginx syntax (k, m), or "
                        "auto: sized from a 1 s calibration run")
    p.add_argument("--max-size", default=env("MAX_SIZE", "auto"),
                   help="journal max_size (auto: the zone's size)")
    p.add_argument("--batch-window", default=env("BATCH_WINDOW", ""),
                   help="batch_window= for fsync=batch (default: the "
                        "module's, 1ms)")
    p.add_argument("--floor", default=env("JOURNAL_FLOOR", os.path.join(
                       TOP, "build", "bench", "journal-floor")),
                   help="the floor program (bench/journal/floor.c; `make "
                        "bench-journal` builds it), run after each round "
                        "with the module's records per fsync; '' skips it")
    p.add_argument("--pause", default=env("JOURNAL_PAUSE", os.path.join(
                       TOP, "build", "bench", "journal-pause")),
                   help="the machine's stops probe (bench/journal/pause.c; "
                        "`make bench-journal` builds it), run beside each "
                        "measured run; '' skips it")
    p.add_argument("--flush-sim", type=int, default=None, metavar="US",
                   help="take the disk's flush out: the journal's nginx "
                        "runs with build/bench/flushsim.so, its "
                        "fdatasync() a wait of US microseconds that "
                        "flushes nothing (0: no wait). Not durable, and "
                        "not the aim's measure: what the journal costs "
                        "without the disk")
    p.add_argument("--preallocate", default=env("PREALLOCATE", ""),
                   choices=["", "on", "off"],
                   help="the journal's preallocate= (default: the module's, "
                        "on); off: a journal that does not drain writes new "
                        "files instead of zero-filling spares first")
    p.add_argument("--recycle", default=env("RECYCLE", "512"),
                   help="the journal's recycle= (default 512, the most: "
                        "every file the fill wrote is kept after the drain, "
                        "so that the steady state's runs write only "
                        "recycled segments, as a journal whose queue "
                        "drains while it is written; '' for the module's "
                        "default, 4)")
    p.add_argument("--pool-cpus", default=env("POOL_CPUS", ""),
                   help="move the worker's thread-pool threads (the "
                        "fsyncs, the spares' zero-fill) to these CPUs, "
                        "e.g. 0 or 0,1 (default: pinned with the worker, "
                        "as worker_cpu_affinity pins them)")
    p.add_argument("--size", type=int, default=int(env("SIZE", 16384)),
                   help="payload bytes (16384)")
    p.add_argument("--sample-ms", type=int, default=200,
                   help="GET the status every N ms during a measured run "
                        "to sample last_fsync_us (0: off)")
    p.add_argument("--journal-root", default=env("JOURNAL_ROOT", ""),
                   help="where the per-run journal directories go "
                        "(default: a temporary directory in build/, on "
                        "the project's filesystem)")
    p.add_argument("--module", default=env("MODULE_SO", os.path.join(
        TOP, "build", "ngx_http_order_edit_module.so")))
    p.add_argument("--nginx", default=env("NGINX_BIN", "/usr/sbin/nginx"))
    p.add_argument("--out", default=os.path.join(TOP, "bench", "results"))
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin wrk to CPU 0 and nginx to CPU 1")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (nginx prefixes, logs)")
    p.add_argument("--states", default=env("STATES", "cold,steady"),
                   help="cold (fresh zone and journal), steady (after a "
                        "fill and a drain), or both (cold,steady)")
    p.add_argument("--no-perf", action="store_true",
                   help="no perf profiles of the worker")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 round, 3 s, first concurrency only")
    a = p.parse_args()
    try:
        a.conns = [int(c) for c in a.connections.split(",") if c.strip()]
    except ValueError:
        p.error("--connections: a comma list of numbers")
    a.configs = [c for c in a.configs.split(",") if c.strip()]
    for c in a.configs:
        if c not in CONFIGS:
            p.error("unknown config %r (%s)" % (c, ", ".join(CONFIGS)))
    a.flushsim_so = os.path.join(TOP, "build", "bench", "flushsim.so")
    if a.flush_sim is not None:
        if a.flush_sim < 0 or a.flush_sim > 10 ** 7:
            p.error("--flush-sim: 0 to 10000000 us")
        if not os.path.exists(a.flushsim_so):
            p.error("--flush-sim: no %s (make build/bench/flushsim.so)"
                    % a.flushsim_so)
    a.states = [x for x in a.states.split(",") if x.strip()]
    if not a.states or any(x not in ("cold", "steady") for x in a.states):
        p.error("--states: cold, steady or cold,steady")
    if a.quick:
        a.rounds, a.duration, a.warmup = 1, 3, 1
        a.conns = a.conns[:1]
    if not a.conns or a.rounds < 1 or a.duration < 1 or a.warmup < 0:
        p.error("need rounds >= 1, duration >= 1, some connections")
    return a


# ---------------------------------------------------------------------------
# helpers

def log(*a):
    print(*a, flush=True)


def die(msg):
    raise SystemExit("bench-journal: " + msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])          # kB
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def cpu_ticks(path):
    """utime + stime from a /proc .../stat file, in clock ticks."""
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def worker_cpu(pid):
    """(process ticks, main thread ticks): the main thread is the event
    loop, the rest is the thread pool doing the fsyncs."""
    return (cpu_ticks("/proc/%d/stat" % pid),
            cpu_ticks("/proc/%d/task/%d/stat" % (pid, pid)))


def loop_switches(pid):
    """The event loop's (the main thread's) voluntary context switches:
    each one is the loop going to sleep in epoll_wait with nothing to
    do, and a wake-up after."""
    try:
        with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tcp_out_segments():
    """TCP segments sent on this machine (/proc/net/snmp OutSegs): wrk's
    and nginx's over loopback, nothing else runs meanwhile."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [l.split() for l in f if l.startswith("Tcp:")]
        return int(rows[1][rows[0].index("OutSegs")])
    except (OSError, IndexError, ValueError):
        return None


def filesystem_of(path):
    """What the journal directory sits on: device, fs type, options, and
    the block device's queue settings when they can be found."""
    info = {"path": path}
    try:
        out = subprocess.run(["findmnt", "-n", "-o",
                              "TARGET,SOURCE,FSTYPE,OPTIONS", "-T", path],
                             capture_output=True, text=True, timeout=10)
        f = out.stdout.split()
        if len(f) >= 4:
            info.update(mount=f[0], source=f[1], fstype=f[2], options=f[3])
    except (OSError, subprocess.SubprocessError):
        pass
    st = os.stat(path)
    info["dev"] = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
    sysdev = "/sys/dev/block/" + info["dev"]
    if os.path.exists(sysdev):
        real = os.path.realpath(sysdev)
        q = os.path.join(real, "queue")
        if not os.path.isdir(q):                # a partition: its disk's
            q = os.path.join(os.path.dirname(real), "queue")
        info["block"] = os.path.basename(real)
        for k in ("rotational", "write_cache", "scheduler"):
            try:
                with open(os.path.join(q, k)) as fh:
                    info[k] = fh.read().strip()
            except OSError:
                pass
    du = shutil.disk_usage(path)
    info["free_bytes"] = du.free
    return info


def fsync_probe(root, body_bytes, n=200):
    """fdatasync after appending one record-sized write, n times, in a
    scratch file next to the journals: the disk's own fsync latency."""
    path = os.path.join(root, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = b"j" * (body_bytes + 300)
    us = []
    try:
        for _ in range(n):
            os.write(fd, buf)
            t = time.perf_counter()
            os.fdatasync(fd)
            us.append((time.perf_counter() - t) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    return {"n": n, "p50_us": pct(us, 50), "p90_us": pct(us, 90),
            "p99_us": pct(us, 99), "max_us": max(us)}


def append_probe(root, body_bytes, n=20000):
    """Append n record-sized writes to a fresh file (page cache only, no
    fsync): about what fsync=off adds to a request, at the least."""
    path = os.path.join(root, "append-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = b"j" * (body_bytes + 300)
    try:
        t = time.perf_counter()
        for _ in range(n):
            os.write(fd, buf)
        dt = time.perf_counter() - t
    finally:
        os.close(fd)
        os.unlink(path)
    return {"n": n, "us_per_append": dt / n * 1e6}


def overwrite_probe(root, body_bytes, n=5000):
    """Write n record-sized records into a file already written and
    synced once (a recycled segment: its page-cache pages and its blocks
    exist), no fsync: the floor of fsync=off in the steady state."""
    path = os.path.join(root, "overwrite-probe")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    size = body_bytes + 300
    buf = b"j" * size
    try:
        for i in range(n):
            os.pwrite(fd, buf, i * size)
        os.fsync(fd)
        t = time.perf_counter()
        for i in range(n):
            os.pwrite(fd, buf, i * size)
        dt = time.perf_counter() - t
    finally:
        os.close(fd)
        os.unlink(path)
    return {"n": n, "us_per_write": dt / n * 1e6}


def disk_settle(block, limit=20.0, period=0.5):
    """Wait until the journal's disk is quiet: busy (io_ticks) under 10%
    of a period and no discard under way (ext4's `discard` trims what a
    drained journal's deleted files held, seconds after).  Bounded: the
    disk is shared.  Returns the seconds waited, or None if unknown."""
    path = "/sys/block/%s/stat" % block if block else None
    if not path or not os.path.exists(path):
        return None

    def read():
        with open(path) as f:
            v = [int(x) for x in f.read().split()]
        return v[9], v[13] if len(v) > 13 else 0    # io_ticks, discards

    t0 = time.monotonic()
    last = read()
    while time.monotonic() - t0 < limit:
        time.sleep(period)
        cur = read()
        if cur[0] - last[0] < period * 100 and cur[1] == last[1]:
            break
        last = cur
    return round(time.monotonic() - t0, 2)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_head():
    try:
        r = subprocess.run(["git", "-C", TOP, "describe", "--always",
                            "--dirty"], capture_output=True, text=True,
                           timeout=10)
        return r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def http_get_json(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("GET %s: %d" % (path, r.status))
        return json.loads(data)
    finally:
        c.close()


# ---------------------------------------------------------------------------

class Sampler(threading.Thread):
    """GET the status every period during a measured run: each new
    last_fsync_us seen (fsyncs moved) is one sampled fsync duration."""

    def __init__(self, port, period):
        super().__init__(daemon=True)
        self.port, self.period = port, period
        self.stop_ev = threading.Event()
        self.fsync_us = []
        self.samples = 0
        self.errors = 0

    def run(self):
        last = None
        while not self.stop_ev.wait(self.period):
            try:
                j = http_get_json(self.port, "/order-edit/status",
                                  timeout=2).get("journal") or {}
            except Exception:  # noqa: BLE001
                self.errors += 1
                continue
            self.samples += 1
            f = j.get("fsyncs")
            if f is not None and f != last and last is not None:
                self.fsync_us.append(j.get("last_fsync_us"))
            last = f

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=5)


class Bench:
    def __init__(self, a):
        self.a = a
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        os.makedirs(a.out, exist_ok=True)
        self.base = os.path.join(a.out, "journal-" + self.stamp)
        self.running = None             # (master pid, prefix)
        self.work = None
        self.jroot = None
        self.pin_wrk, self.pin_ngx = [], []
        self.tck = os.sysconf("SC_CLK_TCK")
        self.perf_why = "profiles off (--no-perf)" if a.no_perf \
            else perf_profile.check()
        self.ok = False                 # keep the work directory if not

    # -- setup ------------------------------------------------------------

    def check_tools(self):
        a = self.a
        if shutil.which("wrk") is None:
            die("wrk not found (apt-get install wrk)")
        if not os.access(a.nginx, os.X_OK):
            die("nginx not found at %s" % a.nginx)
        if not os.path.isfile(a.module):
            die("module not built: %s (run make)" % a.module)
        a.module = os.path.abspath(a.module)
        if (not a.no_pin and (os.cpu_count() or 1) >= 2
                and shutil.which("taskset")):
            self.pin_wrk, self.pin_ngx = ["taskset", "-c", "0"], \
                ["taskset", "-c", "1"]
            # this process (status sampler, checks) stays off nginx's CPU
            os.sched_setaffinity(0, {0})

    def prepare(self):
        a = self.a
        build = os.path.join(TOP, "build")
        os.makedirs(build, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="bench-journal.", dir=build)
        os.chmod(self.work, 0o755)      # workers run as nobody under root
        if a.journal_root:
            os.makedirs(a.journal_root, exist_ok=True)
            self.jroot = tempfile.mkdtemp(prefix="bench-journal.",
                                          dir=a.journal_root)
        else:
            self.jroot = os.path.join(self.work, "journals")
            os.makedirs(self.jroot)
        os.chmod(self.jroot, 0o755)
        self.payload = os.path.join(self.work, "order.json")
        subprocess.run([sys.executable, os.path.join(INGEST,
                                                     "gen_payload.py"),
                        "--size", str(a.size), "--out", self.payload],
                       check=True, timeout=60)
        with open(self.payload, "rb") as f:
            self.body = f.read()
        self.hmac = base64.b64encode(hmac.new(
            SECRET.encode(), self.body, hashlib.sha256).digest()).decode()

    # -- nginx ------------------------------------------------------------

    def write_conf(self, cfg, prefix, port, jdir, zone, max_size):
        a = self.a
        journal = ""
        if cfg != "nojournal":
            journal = "order_edit_journal %s fsync=%s max_size=%s%s%s%s;" % (
                jdir, cfg, max_size,
                " batch_window=" + a.batch_window
                if cfg == "batch" and a.batch_window else "",
                " recycle=" + a.recycle if a.recycle else "",
                " preallocate=" + a.preallocate if a.preallocate else "")
        for d in ("conf", "logs", "tmp"):
            os.makedirs(os.path.join(prefix, d), exist_ok=True)
        os.chmod(prefix, 0o755)
        conf = """# bench/journal: configuration "{cfg}" (bench/journal/run.py)
daemon on;
master_process on;
worker_processes 1;
pid {p}/logs/nginx.pid;
error_log {p}/logs/error.log warn;
load_module {module};

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    default_type application/json;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path       {p}/tmp/proxy;
    fastcgi_temp_path     {p}/tmp/fastcgi;
    uwsgi_temp_path       {p}/tmp/uwsgi;
    scgi_temp_path        {p}/tmp/scgi;

    # as bench/ingest: bodies in memory, connections kept for the run
    client_body_buffer_size 64k;
    client_max_body_size    1m;
    keepalive_requests      1000000;
    keepalive_timeout       60s;

    order_edit_zone bench:{zone};
    {journal}

    # the limiter runs on every request but never rejects at this rate
    order_edit_store {shop} {{
        secret   "{secret}";
        rate     1000000r/s burst=1000000;
        max_body 1m;
    }}

    server {{
        listen 127.0.0.1:{port};
        location = /webhooks/shopify  {{ order_edit_webhook bench; }}
        location = /order-edit/status {{ order_edit_status  bench; }}
        location = /q                 {{ order_edit_queue_debug bench; }}
    }}
}}
""".format(cfg=cfg, p=prefix, module=a.module, zone=zone,
           journal=journal or "# no order_edit_journal", shop=SHOP,
           secret=SECRET, port=port)
        path = os.path.join(prefix, "conf", "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        open(os.path.join(prefix, "logs", "error.log"), "w").close()
        return path

    def start_nginx(self, cfg, prefix, conf, port):
        errlog = os.path.join(prefix, "logs", "error.log")
        env = dict(os.environ)
        if self.a.flush_sim is not None and cfg != "nojournal":
            env["LD_PRELOAD"] = self.a.flushsim_so
            env["OE_FLUSHSIM_US"] = str(self.a.flush_sim)
        r = subprocess.run(self.pin_ngx + [self.a.nginx, "-p", prefix,
                                           "-c", conf, "-e", errlog],
                           capture_output=True, text=True, timeout=120,
                           env=env)
        if r.returncode != 0:
            log(r.stderr + open(errlog).read())
            die("nginx (%s) did not start" % cfg)
        pidfile = os.path.join(prefix, "logs", "nginx.pid")
        deadline = time.monotonic() + 30
        while not os.path.exists(pidfile):
            if time.monotonic() > deadline:
                die("nginx (%s): no pid file" % cfg)
            time.sleep(0.05)
        time.sleep(0.05)
        master = int(open(pidfile).read().strip())
        self.running = (master, prefix)
        # the worker maps (and touches) the whole zone before it serves
        deadline = time.monotonic() + 60
        workers = []
        while not workers:
            if time.monotonic() > deadline:
                die("nginx (%s): no worker" % cfg)
            workers = children(master)
            time.sleep(0.05)
        if self.a.pool_cpus:
            self.move_pool(workers[0])
        return master, workers[0]

    def move_pool(self, worker):
        """the worker's threads but its event loop to --pool-cpus"""
        cpus = {int(c) for c in self.a.pool_cpus.split(",")}
        task = "/proc/%d/task" % worker
        deadline = time.monotonic() + 2
        while len(os.listdir(task)) < 2:
            if time.monotonic() > deadline:
                return      # nojournal: no thread pool
            time.sleep(0.05)
        time.sleep(0.2)
        for tid in os.listdir(task):
            if int(tid) != worker:
                os.sched_setaffinity(int(tid), cpus)

    def stop_nginx(self):
        if self.running is None:
            return
        master, prefix = self.running
        workers = children(master)
        for sig, wait in ((signal.SIGQUIT, 20), (signal.SIGTERM, 5),
                          (signal.SIGKILL, 5)):
            try:
                os.kill(master, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while alive(master) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not alive(master):
                break
        for pid in workers:             # never outlive a killed master
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.running = None

    def sanity(self, cfg, port):
        """The request wrk sends must answer 200 queued (a wrong secret,
        a 503 journal_unavailable... would make the numbers meaningless).
        Generous timeout: the worker may still be touching the zone."""
        deadline = time.monotonic() + 60
        last = None
        while time.monotonic() < deadline:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                c.request("POST", "/webhooks/shopify", body=self.body,
                          headers={
                              "Content-Type": "application/json",
                              "X-Shopify-Hmac-Sha256": self.hmac,
                              "X-Shopify-Shop-Domain": SHOP,
                              "X-Shopify-Topic": TOPIC,
                              "X-Shopify-API-Version": "2024-07",
                              "X-Shopify-Webhook-Id":
                                  "sanity-%s-%d" % (cfg, port)})
                r = c.getresponse()
                data = r.read()
                if r.status == 200 and b'"queued"' in data:
                    return
                last = "%d %s" % (r.status, data[:200])
                break
            except OSError as e:
                last = repr(e)
                time.sleep(0.1)
            finally:
                c.close()
        die("%s: the sanity request did not answer 200 queued: %s"
            % (cfg, last))

    def wrk(self, port, conns, seconds, nonce):
        cmd = self.pin_wrk + [
            "wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
            "--timeout", "5s", "-s", os.path.join(HERE, "count.lua"),
            "http://127.0.0.1:%d/webhooks/shopify" % port, "--",
            self.payload, self.hmac, SHOP, TOPIC, str(nonce)]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=seconds + 60)
        res = st = None
        for line in r.stdout.splitlines():
            if line.startswith("BENCH_RESULT "):
                res = json.loads(line.split(" ", 1)[1])
            elif line.startswith("BENCH_STATUS "):
                st = json.loads(line.split(" ", 1)[1])
        if r.returncode != 0 or res is None or st is None:
            log(r.stdout + r.stderr)
            die("wrk failed (exit %d)" % r.returncode)
        res["answers"] = st
        return res

    def status(self, port):
        return http_get_json(port, "/order-edit/status")

    # -- zone size --------------------------------------------------------

    def size_zone(self):
        """Nothing drains the queue (no dispatcher), so the zone (and the
        journal's max_size) must hold every webhook a run accepts."""
        a = self.a
        item = ((len(self.body) + 1023) // 4096 + 1) * 4096 + 512
        if a.zone == "auto":
            prefix = os.path.join(self.work, "calibrate")
            port = free_port()
            conf = self.write_conf("nojournal", prefix, port, None, "2048m",
                                   None)
            self.start_nginx("nojournal", prefix, conf, port)
            try:
                self.sanity("calibrate", port)
                r = self.wrk(port, max(a.conns), 1, 1)
            finally:
                self.stop_nginx()
            rps = r["answers"]["queued"] / (r["duration_us"] / 1e6)
            # 1.6x the calibrated rate (the steady state, on pages
            # written before, may beat a cold 1 s run) and 10% to spare;
            # the sanity request and what is in flight: +1 s
            per_s = rps * 1.6 * 1.1 * item / 2 ** 20
            # the profiled run after the measured one
            prof_s = min(a.duration, 3) if self.perf_why is None else 0
            zone_mb = max(256, int(per_s * (a.duration + a.warmup + 1
                                            + prof_s)) + 1)
            # the zone is RAM (touched at start); fsync=off leaves up to
            # a run's journal dirty in the page cache besides
            cap_mb = meminfo()["MemAvailable"] // 1024 // 2
            if zone_mb > cap_mb:
                fit = int(cap_mb / per_s) - a.warmup - 1 - prof_s
                if fit < 1:
                    die("not enough memory for the queue (%dm usable, "
                        "%dm/s needed)" % (cap_mb, per_s))
                log("note: %ds runs would need a %dm zone; runs shortened "
                    "to %ds" % (a.duration, zone_mb, fit))
                a.duration, zone_mb = fit, cap_mb
            a.zone = "%dm" % zone_mb
            self.calibration = {"rps": round(rps), "item_bytes": item}
        else:
            self.calibration = None
        if a.max_size == "auto":
            a.max_size = a.zone         # a record is smaller than its item
        mb = self.nginx_size_mb(a.max_size)
        need = mb * 2 ** 20 * 1.2 + 2 ** 30
        free = shutil.disk_usage(self.jroot).free
        if free < need:
            die("%s has %.1f GB free; a run may write %s of journal"
                % (self.jroot, free / 2 ** 30, a.max_size))

    @staticmethod
    def nginx_size_mb(s):
        s = s.strip().lower()
        mult = {"k": 1 / 1024, "m": 1, "g": 1024}.get(s[-1:], None)
        return float(s[:-1]) * mult if mult else float(s) / 2 ** 20

    # -- one run ----------------------------------------------------------

    def run_one(self, cfg, conns, rnd, nonce):
        """One nginx: the cold measurement, then fill, drain and the
        steady one (as --states asks).  Returns their records."""
        a = self.a
        name = "%s-c%d-r%d" % (cfg, conns, rnd)
        prefix = os.path.join(self.work, name)
        jdir = os.path.join(self.jroot, name)   # nginx creates it
        port = free_port()
        conf = self.write_conf(cfg, prefix, port, jdir, a.zone, a.max_size)
        master, worker = self.start_nginx(cfg, prefix, conf, port)
        recs = []
        try:
            self.sanity(cfg, port)
            base = None                 # counters a phase starts from
            for state in a.states:
                prep = None
                if state == "steady":
                    prep = self.fill_and_drain(port, conns, nonce, jdir)
                    base = prep["status"]
                rec = self.measure(cfg, conns, rnd, nonce, state, port,
                                   worker, base, jdir)
                rec["prepared"] = {k: v for k, v in (prep or {}).items()
                                   if k != "status"} or None
                recs.append(rec)
                nonce += 10
        finally:
            self.stop_nginx()
        with open(os.path.join(prefix, "logs", "error.log")) as f:
            errlog = f.read()
        with open(self.base + ".%s.error.log" % cfg, "a") as f:
            f.write("=== %s\n%s" % (name, errlog))
        # free the disk; drop what is still dirty, settle the rest, and let
        # the trims of the deleted files pass before the next run
        shutil.rmtree(jdir, ignore_errors=True)
        subprocess.run(["sync", "-f", self.jroot], timeout=120)
        disk_settle(self.fs.get("block"))
        bad = [l for l in errlog.splitlines() if any(s in l for s in SERIOUS)]
        for rec in recs:
            if bad:
                rec["problems"].append("error.log: " + bad[0][:200])
        return recs

    @staticmethod
    def dir_bytes(jdir):
        n, files = 0, 0
        if os.path.isdir(jdir):
            for fn in os.listdir(jdir):
                try:
                    n += os.path.getsize(os.path.join(jdir, fn))
                    files += 1
                except OSError:
                    pass
        return n, files

    def fill_and_drain(self, port, conns, nonce, jdir):
        """Post until the zone refuses (503 queue_full: every page of the
        zone written once, the journal holding a record of each), then
        lease and ack everything, as a dispatcher would."""
        t0 = time.monotonic()
        filled = 0
        fill_conns = max(conns, 128)    # batch/always: more per fsync
        for i in range(200):
            r = self.wrk(port, fill_conns, 2, 100000 + nonce * 1000 + i)
            filled += r["answers"]["queued"]
            if r["answers"]["other"]:
                break
        else:
            die("the zone did not fill in 400 s")
        t1 = time.monotonic()
        pin = ["taskset", "-c", "0"] if self.pin_wrk else []
        d = queue_drain.drain(port, conns=32, pin=pin)
        if not d["ok"]:
            die("the queue did not drain: %s" % d)
        # the fill wrote gigabytes in seconds, more than a disk takes in a
        # steady stream: let its writeback finish (as the cold runs start
        # after the previous run's sync), or the measured run pays for it
        t2 = time.monotonic()
        subprocess.run(["sync", "-f", self.jroot], timeout=300)
        sync_s = time.monotonic() - t2
        settle_s = disk_settle(self.fs.get("block"))
        jb, jf = self.dir_bytes(jdir)
        st = self.status(port)
        log("  (filled the zone with %d webhooks in %.1f s, drained in "
            "%.1f s, synced in %.1f s, disk quiet after %s s; journal after "
            "the drain: %d files, %.0f MB)" % (
                filled, t1 - t0, d["seconds"], sync_s, settle_s, jf,
                jb / 2 ** 20))
        return {"filled": filled, "fill_s": round(t1 - t0, 2),
                "sync_s": round(sync_s, 2), "settle_s": settle_s,
                "drain": d, "journal_files_after_drain": jf,
                "journal_bytes_after_drain": jb, "status": st}

    def measure(self, cfg, conns, rnd, nonce, state, port, worker, base,
                jdir):
        """Warm-up, then the measured run, profiled; its record, with the
        problems found in it (counters over the phase, from base)."""
        a = self.a
        problems = []
        warm = self.wrk(port, conns, a.warmup, nonce * 2) \
            if a.warmup else None
        s0 = self.status(port)
        cpu0, t0 = worker_cpu(worker), time.monotonic()
        sw0 = loop_switches(worker)
        seg0 = tcp_out_segments()
        sampler = perf = None
        if a.sample_ms and cfg != "nojournal":
            sampler = Sampler(port, a.sample_ms / 1000.0)
            sampler.start()
        pdata = "%s.%s-c%d-%s.r%d.perf.data" % (self.base, cfg, conns,
                                                 state, rnd)
        pause = None
        if a.pause and os.access(a.pause, os.X_OK):
            pause = subprocess.Popen([a.pause, str(a.duration)],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        try:
            res = self.wrk(port, conns, a.duration, nonce * 2 + 1)
        finally:
            if sampler:
                sampler.stop()
            stops = None
            if pause:
                try:
                    stops = json.loads(pause.communicate(timeout=30)[0])
                    # the worse CPU, once, for the run's line and summarise
                    k = stops["limits_ms"].index(5)
                    stops["over_5ms"] = max(c["late"][k]
                                            for c in stops["cpus"])
                    stops["max_ms"] = max(c["max_ms"] for c in stops["cpus"])
                    stops["fifo"] = all(c["fifo"] for c in stops["cpus"])
                except (ValueError, subprocess.SubprocessError) as e:
                    problems.append("pause probe: %r" % e)
                    pause.kill()
        cpu1, t1 = worker_cpu(worker), time.monotonic()
        sw1 = loop_switches(worker)
        seg1 = tcp_out_segments()

        # The profile has a run of its own, after the measured one: perf
        # costs the worker at each context switch of each of its threads
        # (it follows every thread's counters), and a journal with fsync
        # switches thousands of times a second where no journal hardly
        # does: profiled, batch measured 16k r/s and 54 us a request, not
        # profiled 22k and 39 (2026-12-07, wave 2 session 6).
        prof = None
        if self.perf_why is None:
            pdur = min(a.duration, 3)
            perf = subprocess.Popen(
                self.pin_wrk + perf_profile.record_cmd(
                    [worker], pdur, pdata),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pc0 = worker_cpu(worker)
            try:
                prof = self.wrk(port, conns, pdur, nonce * 2 + 7)
            finally:
                perf.wait(timeout=60)
            pc1 = worker_cpu(worker)
            if pc0[0] is not None and pc1[0] is not None \
                    and prof["requests"]:
                prof["worker_cpu_us_per_request"] = round(
                    (pc1[0] - pc0[0]) / self.tck / prof["requests"] * 1e6,
                    2)

        def since(st, path, k):
            if st is None:
                return 0
            for p in path:
                st = (st or {}).get(p)
            return (st or {}).get(k) or 0

        # batch/always count a write when its fsync settles: wait for
        # the answers wrk left in flight (bounded)
        deadline = time.monotonic() + 10
        while True:
            s1 = self.status(port)
            j, z = s1.get("journal"), s1["zone"]
            if (j is None or j.get("writes") - since(base, ["journal"],
                                                     "writes")
                    == z["queued_items"] - since(base, ["zone"],
                                                 "queued_items")
                    or time.monotonic() > deadline):
                break
            time.sleep(0.05)
        mem = meminfo()
        jbytes_disk, jfiles = self.dir_bytes(jdir)

        # -- validity, over the phase (from base: after the drain)
        for w, label in ((warm, "warm-up"), (res, "run"),
                         (prof, "profiled run")):
            if w is None:
                continue
            ans = w["answers"]
            errs = {k: w[k] for k in ("err_connect", "err_read", "err_write",
                                      "err_status", "err_timeout") if w[k]}
            if errs:
                problems.append("%s: wrk errors %s" % (label, errs))
            if ans["other"] or ans["ok200"] != ans["responses"]:
                problems.append("%s: %d answers not 200 (last status %d)"
                                % (label, ans["other"], ans["other_status"]))
            if ans["queued"] != ans["ok200"]:
                problems.append("%s: %d 200s not \"queued\""
                                % (label, ans["ok200"] - ans["queued"]))
        store = s1.get("stores", {}).get(SHOP, {})
        sp = ["stores", SHOP]
        for k in STORE_BAD:
            d = store.get(k, 0) - since(base, sp, k)
            if d:
                problems.append("status %s=%d%s" % (
                    k, d, " (the zone is too small for the run: --zone)"
                    if k == "queue_full" else ""))
        sent = (1 if base is None else 0) + res["requests"] + \
            (warm["requests"] if warm else 0) + \
            (prof["requests"] if prof else 0)
        queued = store.get("queued", 0) - since(base, sp, "queued")
        if queued < sent:
            problems.append("status queued %s < %d answered"
                            % (queued, sent))
        if store.get("received", 0) - since(base, sp, "received") != queued:
            problems.append("status received != queued over the run")
        j1 = s1.get("journal")
        items = s1["zone"]["queued_items"] - since(base, ["zone"],
                                                   "queued_items")
        if cfg != "nojournal":
            if j1 is None:
                problems.append("no journal in the status")
            else:
                if j1.get("fsync") != cfg:
                    problems.append("journal fsync=%s" % j1.get("fsync"))
                for k in ("errors", "full", "torn", "corrupt"):
                    d = j1.get(k, 0) - since(base, ["journal"], k)
                    if d:
                        problems.append("journal %s=%d" % (k, d))
                wr = j1.get("writes") - since(base, ["journal"], "writes")
                if wr != items:
                    problems.append("journal writes %s != queued items %s"
                                    % (wr, items))

        rec = {"round": rnd, "config": cfg, "connections": conns,
               "state": state,
               "body_bytes": len(self.body), "zone": a.zone,
               "max_size": a.max_size if cfg != "nojournal" else None,
               "journal_dir": jdir if cfg != "nojournal" else None,
               "journal_bytes_on_disk": jbytes_disk,
               "journal_files": jfiles,
               "wrk": res, "warmup": warm,
               "seconds": round(t1 - t0, 3),
               "worker_cpu_pct": None, "worker_main_cpu_pct": None,
               "worker_cpu_us_per_request": None,
               "dirty_kb_after": mem.get("Dirty"),
               "writeback_kb_after": mem.get("Writeback"),
               "status_before": s0, "status_after": s1,
               "fsync_samples_us": sampler.fsync_us if sampler else [],
               "status_samples": sampler.samples if sampler else 0,
               "perf": None, "profiled_run": prof, "problems": problems,
               "machine_stops": stops}
        if cpu0[0] is not None and cpu1[0] is not None:
            dt = t1 - t0
            rec["worker_cpu_pct"] = round(
                100 * (cpu1[0] - cpu0[0]) / self.tck / dt, 1)
            rec["worker_main_cpu_pct"] = round(
                100 * (cpu1[1] - cpu0[1]) / self.tck / dt, 1)
            if res["requests"]:
                rec["worker_cpu_us_per_request"] = round(
                    (cpu1[0] - cpu0[0]) / self.tck / res["requests"] * 1e6,
                    2)
        if sw0 is not None and sw1 is not None and res["requests"]:
            rec["loop_sleeps_per_request"] = round(
                (sw1 - sw0) / res["requests"], 3)
        if seg0 is not None and seg1 is not None and res["requests"]:
            rec["tcp_segments_per_request"] = round(
                (seg1 - seg0) / res["requests"], 2)
        if j1 is not None and s0.get("journal"):
            j0 = s0["journal"]
            rec["journal_delta"] = {
                k: j1.get(k, 0) - j0.get(k, 0) for k in ("writes", "fsyncs")}
        if prof is not None and os.path.exists(pdata):
            rec["perf"] = perf_profile.summarise(pdata, 15)
        return rec

    # -- the whole thing --------------------------------------------------

    def run(self):
        a = self.a
        self.check_tools()
        self.prepare()
        fs = self.fs = filesystem_of(self.jroot)
        probe = fsync_probe(self.jroot, len(self.body))
        probe["append"] = append_probe(self.jroot, len(self.body))
        probe["overwrite"] = overwrite_probe(self.jroot, len(self.body))
        self.size_zone()
        self.module_sha = file_sha256(a.module)
        nver = subprocess.run([a.nginx, "-v"], capture_output=True,
                              text=True).stderr.strip().split(": ")[-1]
        raw = self.base + ".jsonl"
        meta = {"meta": {
            "stamp": self.stamp, "cpus": os.cpu_count(),
            "kernel": os.uname().release, "nginx": nver,
            "body_bytes": len(self.body), "rounds": a.rounds,
            "duration": a.duration, "warmup": a.warmup,
            "connections": a.conns, "configs": a.configs, "zone": a.zone,
            "max_size": a.max_size,
            "batch_window": a.batch_window or "the module's default",
            "recycle": a.recycle or "4 (the module's default)",
            "preallocate": a.preallocate or "on", "pool_cpus": a.pool_cpus,
            "module": a.module, "module_sha256": self.module_sha,
            "git": git_head(),
            "pinned": bool(self.pin_wrk), "filesystem": fs,
            "fsync_probe": probe, "calibration": self.calibration,
            "mem_available_kb": meminfo()["MemAvailable"],
            "states": a.states, "perf": self.perf_why or "ok",
            "flush_sim": a.flush_sim,
            "args": sys.argv[1:]}}
        with open(raw, "w") as f:
            f.write(json.dumps(meta) + "\n")

        log("bench-journal: %d CPUs, %s, %s" % (
            os.cpu_count(), os.uname().release, nver))
        log("  module      %s (sha256 %s, tree %s)" % (
            a.module, self.module_sha[:12], meta["meta"]["git"]))
        log("  payload     %d bytes orders/updated, unique webhook id per "
            "request" % len(self.body))
        log("  journal     %s" % self.jroot)
        log("  filesystem  %s on %s (%s, %s), block %s rotational=%s "
            "write_cache=%s scheduler=%s" % (
                fs.get("mount"), fs.get("source"), fs.get("fstype"),
                fs.get("options"), fs.get("block"), fs.get("rotational"),
                fs.get("write_cache"), fs.get("scheduler")))
        log("  disk probe  fdatasync after a %d-byte append, %d times: "
            "p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us" % (
                len(self.body) + 300, probe["n"], probe["p50_us"],
                probe["p90_us"], probe["p99_us"], probe["max_us"]))
        log("              page-cache append of the same size, no fsync "
            "(%d times): %.1f us each" % (probe["append"]["n"],
                                           probe["append"]["us_per_append"]))
        log("              the same written over a file written and synced "
            "before (%d times): %.1f us each" % (
                probe["overwrite"]["n"], probe["overwrite"]["us_per_write"]))
        log("  zone        %s, journal max_size %s%s" % (
            a.zone, a.max_size,
            "  (calibration: nojournal ~%d req/s)" % self.calibration["rps"]
            if self.calibration else ""))
        log("  wrk         1 thread, %s connections, %ds warm-up + %ds per "
            "run" % ("/".join(map(str, a.conns)), a.warmup, a.duration))
        log("  rounds      %d x {%s} per concurrency (order rotates each "
            "round)" % (a.rounds, " ".join(a.configs)))
        log("  pinning     %s" % ("wrk cpu0, nginx cpu1" if self.pin_wrk
                                  else "off"))
        log("  states      %s (cold: fresh zone and journal; steady: after "
            "the zone was filled and drained)" % ", ".join(a.states))
        log("  perf        %s" % (self.perf_why or "cpu-clock profile of the "
                                  "worker, in a run of its own after each "
                                  "measured one"))
        if a.flush_sim is not None:
            log("  flush       SIMULATED for the journal's nginx: "
                "fdatasync() waits %d us and flushes nothing (%s); "
                "nothing answered is durable" % (a.flush_sim,
                                                 a.flushsim_so))
        log("  stops       %s" % (
            "bench/journal/pause.c beside each run: a real-time thread a "
            "CPU, woken 1,000 times a second; a wake-up > 5 ms late is the "
            "machine stopped" if a.pause and os.access(a.pause, os.X_OK)
            else "not probed (no %s)" % (a.pause or "pause probe")))
        log("  results     %s" % raw)

        nonce = 0
        n = len(a.configs)
        for rnd in range(1, a.rounds + 1):
            for conns in a.conns:
                for k in range(n):
                    cfg = a.configs[(k + rnd - 1) % n]
                    nonce += 100
                    for rec in self.run_one(cfg, conns, rnd, nonce):
                        self.report_run(raw, rec, rnd, conns, cfg)
            # the floor in each round: the machine's disk and CPU move
            # between rounds as much as the module's runs do
            floor = self.floor_runs(raw, rnd)
            if floor:
                floor["round"] = rnd
                with open(raw, "a") as f:
                    f.write(json.dumps({"floor": floor}) + "\n")
        if file_sha256(a.module) != self.module_sha:
            # nginx loads the .so at each start: runs may mix two builds
            with open(raw, "a") as f:
                f.write(json.dumps({"config": None, "module_changed": True})
                        + "\n")
        import summarise                # noqa: E402
        rc = summarise.main([raw])
        self.ok = True
        return rc

    def floor_runs(self, raw, rnd):
        """The journal's physical floor without nginx (floor.c), pinned
        as nginx was, after each round: records written as the module
        writes them into a recycled file (off: one pwritev a record), and
        made durable in groups of the batch runs' median records per
        fsync, one pwritev and one fsync per batch window at most (batch,
        --gather 1, as the module's fsync thread writes them).  CPU per
        record, every thread."""
        a = self.a
        if not a.floor or not os.access(a.floor, os.X_OK):
            log("  floor       skipped: no %s (make bench-journal builds it)"
                % (a.floor or "floor program"))
            return None
        if "steady" not in a.states:
            return None             # floor.c models recycled files only
        # the records an fsync of the aim's runs: steady, first concurrency
        conns = a.conns[0]
        rpf = []
        with open(raw) as f:
            for line in f:
                r = json.loads(line)
                d = r.get("journal_delta")
                if r.get("config") == "batch" and d and d.get("fsyncs") \
                        and r.get("state") == "steady" \
                        and r.get("connections") == conns:
                    rpf.append(d["writes"] / d["fsyncs"])
        batch = max(1, int(round(statistics.median(rpf)))) if rpf else 23
        # batch_window= as the module reads it: us, or nginx's time (a
        # bare number is seconds)
        window = 1000
        if a.batch_window:
            m = re.match(r"^(\d+)(us|ms|s)?$", a.batch_window)
            if not m:
                log("  floor       skipped: batch window %r not understood"
                    % a.batch_window)
                return None
            window = int(m.group(1)) * {"us": 1, "ms": 1000, "s": 10**6,
                                        None: 10**6}[m.group(2)]
        out = {"connections": conns}

        def cmd_for(mode):
            cmd = [a.floor, "--file", os.path.join(self.jroot, "floor"),
                   "--body", str(len(self.body)), "--seconds", "3",
                   "--fsync", mode, "--batch", str(batch),
                   "--window", str(window)]
            if mode == "batch":
                cmd += ["--gather", "1"]
            return cmd + (["--cpu", "1"] if self.pin_ngx else [])

        for mode in ("off", "batch"):
            cmd = cmd_for(mode)
            try:
                res = subprocess.run(cmd, capture_output=True, text=True,
                                     timeout=120)
                if res.returncode != 0:
                    raise RuntimeError(res.stderr.strip())
                out[mode] = json.loads(res.stdout)
            except (OSError, ValueError, RuntimeError,
                    subprocess.SubprocessError) as e:
                log("  floor       %s failed: %s" % (mode, e))
                return None
            log("  floor       %-5s %5.2f us of CPU a record (write %.2f; "
                "loop sleeps %.3f a record)%s"
                % (mode, out[mode]["cpu_us_per_record"],
                   out[mode]["write_us_per_record"],
                   out[mode].get("loop_sleeps_per_record", 0),
                   ", %.1f records a fsync, fsync %.0f us, its thread "
                   "%.0f us of CPU" % (
                       out[mode]["records_per_fsync"],
                       out[mode]["fsync_us_mean"],
                       out[mode]["sync_thread_us_per_fsync"])
                   if mode == "batch" else ""))
        # batch profiled in a run of its own, as the module's runs are:
        # what the journal's floor spends where, to set against what
        # batch spends over no journal (summarise: "above the floor")
        if self.perf_why is None:
            pdata = "%s.floor-batch.r%d.perf.data" % (self.base, rnd)
            try:
                res = subprocess.run(
                    self.pin_wrk + perf_profile.record_run_cmd(
                        cmd_for("batch"), pdata),
                    capture_output=True, text=True, timeout=120)
                if res.returncode != 0:
                    raise RuntimeError(res.stderr.strip()[-300:])
                prof = json.loads(res.stdout)
                out["batch_perf"] = perf_profile.summarise(pdata, 15)
                out["batch_perf_us"] = prof["cpu_us_per_record"]
            except (OSError, ValueError, KeyError, RuntimeError,
                    subprocess.SubprocessError) as e:
                log("  floor       batch profile failed: %s" % e)
        # its file is gone: the next run does not pay for its writeback
        subprocess.run(["sync", "-f", self.jroot], timeout=120)
        disk_settle(self.fs.get("block"))
        return out

    @staticmethod
    def report_run(raw, rec, rnd, conns, cfg):
        with open(raw, "a") as f:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        w = rec["wrk"]
        extra = ""
        if rec.get("loop_sleeps_per_request") is not None:
            extra = "  loop sleeps %.3f a request" % (
                rec["loop_sleeps_per_request"])
        if rec.get("tcp_segments_per_request") is not None:
            extra += ", %.2f TCP segments" % rec["tcp_segments_per_request"]
        st = rec.get("machine_stops")
        if st:
            extra += "  stops >5ms %d, max %.1f ms%s" % (
                st["over_5ms"], st["max_ms"], "" if st["fifo"]
                else " (probe not real-time: its own delays count)")
        d = rec.get("journal_delta")
        if d and d["fsyncs"]:
            extra += "  %5.1f rec/fsync" % (d["writes"] / d["fsyncs"])
        log("  round %d  c=%-4d %-9s %-6s %8.0f req/s  p99 %7.2f ms"
            "  event loop cpu %5.1f%%%s%s" % (
                rnd, conns, cfg, rec["state"], w["rps"],
                w["lat_p99_us"] / 1000.0,
                rec["worker_main_cpu_pct"] or 0, extra,
                "  PROBLEM: " + "; ".join(rec["problems"])
                if rec["problems"] else ""))

    def cleanup(self):
        try:
            self.stop_nginx()
        except Exception as e:  # noqa: BLE001
            log("cleanup: nginx: %r" % e)
        if self.jroot and self.jroot != os.path.join(self.work or "",
                                                     "journals"):
            shutil.rmtree(self.jroot, ignore_errors=True)
        if self.work:
            if self.a.keep or not self.ok:
                shutil.rmtree(os.path.join(self.work, "journals"),
                              ignore_errors=True)
                log("bench-journal: work directory kept: %s" % self.work)
            else:
                shutil.rmtree(self.work, ignore_errors=True)


def main():
    b = Bench(parse_args())

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return b.run()
    except KeyboardInterrupt as e:
        log("bench-journal: interrupted (%s)" % e)
        return 130
    finally:
        b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
