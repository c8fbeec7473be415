#!/usr/bin/env python3
"""The dispatching worker's event loop, profiled with its callers.

  bench/loopprof.py OUT.perf [--module-path-contains TEXT]

Waits (up to 10 minutes) for the next nginx started after it whose
configuration has an active `order_edit_dispatch` and loads a module whose
path contains TEXT (default: this checkout's directory name), finds the
worker that logged "dispatching zone", and runs `perf record -e cpu-clock
-F 2000 --call-graph dwarf -t <that worker>`: its event-loop thread only,
until the worker exits.  Start it, then the bench (bench/dispatch/run.py,
bench/parse/run.py); then, for instance:

  perf report -i OUT.perf --no-children --sort symbol -S malloc_consolidate -G
  perf report -i OUT.perf --children --sort symbol -g none

DWARF call graphs, because nginx and the module are built without frame
pointers: `-g` alone names the hot functions but not who called them.
Needs root (or perf_event_paranoid <= 1) and perf.
"""

import argparse
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DISPATCHING = re.compile(r"\] (\d+)#\d+: order_edit: dispatching zone")


def masters():
    ps = subprocess.run(["ps", "-C", "nginx", "-o", "pid=,args="],
                        capture_output=True, text=True).stdout
    for line in ps.splitlines():
        if "master process" in line:
            m = re.search(r"-p (\S+)", line)
            if m:
                yield int(line.split()[0]), m.group(1)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def dispatcher(prefix, wait=5.0):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pids = DISPATCHING.findall(read(os.path.join(prefix, "logs",
                                                     "error.log")))
        if pids:
            return int(pids[-1])
        time.sleep(0.05)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("out")
    p.add_argument("--module-path-contains",
                   default=os.path.basename(TOP))
    a = p.parse_args()

    started = time.time()
    seen = set()
    deadline = time.monotonic() + 600

    while time.monotonic() < deadline:
        for pid, prefix in masters():
            if pid in seen:
                continue
            seen.add(pid)
            try:
                if os.stat("/proc/%d" % pid).st_ctime < started:
                    continue
            except OSError:
                continue
            conf = read(os.path.join(prefix, "conf", "nginx.conf"))
            if a.module_path_contains not in conf \
                    or not re.search(r"^\s*order_edit_dispatch ", conf, re.M):
                continue
            worker = dispatcher(prefix)
            if worker is None:
                continue
            print("perf on worker %d (%s)" % (worker, prefix), flush=True)
            return subprocess.run(
                ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000",
                 "--call-graph", "dwarf,16384", "-t", str(worker),
                 "-o", a.out]).returncode
        time.sleep(0.05)

    print("no dispatching nginx started", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
