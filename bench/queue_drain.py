#!/usr/bin/env python3
"""Empty a module's queue through order_edit_queue_debug (lease + ack).

  queue_drain.py --port PORT [--path /q] [--connections 32] [--pin-cpu 0]

The benches' warm-up: after a fill, every queued webhook is leased and
acked, so the zone's pages (and a journal's records) are written once and
freed, as in a queue that a dispatcher drains.  wrk with drain.lua does
the bulk (lease, then ack, on keep-alive connections); the few leases it
left unacked when it stopped are reclaimed once they expire and acked
here.  Prints one JSON line: how many were drained, in how long, and
whether the queue ended empty (nothing queued, nothing in flight).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LEASE_MS = 1000


def get(port, path, timeout=10):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=timeout) as r:
        return r.read().decode()


def drained(port, path):
    """(empty?, the drain answer) without waiting."""
    body = get(port, path + "?op=drain&ms=50")
    return '"drained":true' in body, body.strip()


def drain(port, path="/q", conns=32, pin=(), limit_s=600, chunk_s=2):
    t0 = time.monotonic()
    total = {"leased": 0, "acked": 0, "bad": 0, "requests": 0,
             "wrk_runs": 0}
    url = "http://127.0.0.1:%d%s" % (port, path)
    while time.monotonic() - t0 < limit_s:
        out = subprocess.run(list(pin) + [
            "wrk", "-t1", "-c%d" % conns, "-d%ds" % chunk_s,
            "-s", os.path.join(HERE, "ingest", "drain.lua"), url, "--",
            str(LEASE_MS)], stdout=subprocess.PIPE, text=True)
        m = re.search(r"^DRAIN_RESULT (.*)$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            return dict(total, ok=False, error="wrk drain failed: %s"
                        % out.stdout[-300:])
        r = json.loads(m.group(1))
        total["wrk_runs"] += 1
        for k in ("leased", "acked", "bad", "requests"):
            total[k] += r[k]
        if r["empty"]:          # nothing ready: all leased or acked
            break
    # the leases wrk left unacked: wait until they expire, take them back
    time.sleep(LEASE_MS / 1000.0 + 0.2)
    get(port, path + "?op=reclaim")
    while True:
        body = get(port, path + "?op=lease&ms=%d" % LEASE_MS)
        m = re.search(r'"id":(\d+),"token":(\d+),"shop":"([^"]+)"', body)
        if not m:
            break
        get(port, "%s?op=ack&shop=%s&id=%s&token=%s"
            % (path, m.group(3), m.group(1), m.group(2)))
        total["leased"] += 1
        total["acked"] += 1
    empty, answer = drained(port, path)
    total.update(ok=empty, drain_answer=answer,
                 seconds=round(time.monotonic() - t0, 2))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/q")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pin-cpu")
    ap.add_argument("--limit", type=float, default=600)
    a = ap.parse_args()
    pin = ["taskset", "-c", a.pin_cpu] if a.pin_cpu else []
    r = drain(a.port, a.path, a.connections, pin, a.limit)
    print(json.dumps(r, separators=(",", ":")))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
