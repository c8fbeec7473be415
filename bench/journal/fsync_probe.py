#!/usr/bin/env python3
"""bench/journal/fsync_probe.py: fdatasync latency on the journal's disk.

What the group commit can at best do depends on one fdatasync of a batch
of records.  This probe writes journal-sized records (17 KB) and times
fdatasync in the cases the journal meets:

  prealloc   records overwrite a file zero-filled and synced before (a
             recycled or preallocated segment: no block allocation, no
             size change, so no ext4 journal commit is needed)
  fresh      records appended to a new file (allocation and size change:
             each fdatasync also commits ext4's journal)

each with --batch records per fdatasync, one at a time (serial), and
with two threads syncing the same file at once (overlap), each thread
writing its own records then syncing, to see whether a second fdatasync
started while one runs finishes sooner than after it (two in flight on
virtio/ext4).  Prints p50/p90/p99/max in microseconds and, for overlap,
fsyncs per second against serial.

Usage: bench/journal/fsync_probe.py [--dir D] [--batch 1,20] [--n 400]
"""

import argparse
import os
import statistics
import threading
import time

REC = 17 * 1024


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def line(name, xs, wall=None):
    s = "%-34s n=%4d p50 %6.0f p90 %6.0f p99 %6.0f max %6.0f us" % (
        name, len(xs), pct(xs, 50), pct(xs, 90), pct(xs, 99), max(xs))
    if wall:
        s += "  %5.0f fsync/s" % (len(xs) / wall)
    print(s, flush=True)


def make(path, size, prealloc):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    if prealloc:
        z = b"\0" * (1 << 20)
        for off in range(0, size, len(z)):
            os.pwrite(fd, z, off)
        os.fdatasync(fd)
        d = os.open(os.path.dirname(path), os.O_RDONLY)
        os.fsync(d)
        os.close(d)
    return fd


class Writer:
    """one thread's records, at its own offsets in the shared file"""

    def __init__(self, fd, base, batch):
        self.fd, self.off, self.batch = fd, base, batch
        self.rec = os.urandom(REC)
        self.lat = []

    def step(self):
        for _ in range(self.batch):
            os.pwrite(self.fd, self.rec, self.off)
            self.off += REC
        t0 = time.perf_counter()
        os.fdatasync(self.fd)
        self.lat.append((time.perf_counter() - t0) * 1e6)


def serial(d, kind, batch, n):
    path = os.path.join(d, "probe-%s.jnl" % kind)
    size = (n * batch + 1) * REC
    fd = make(path, size, kind == "prealloc")
    w = Writer(fd, 0, batch)
    t0 = time.perf_counter()
    for _ in range(n):
        w.step()
    wall = time.perf_counter() - t0
    os.close(fd)
    os.unlink(path)
    line("%s batch=%d serial" % (kind, batch), w.lat, wall)
    return len(w.lat) / wall


def overlap(d, kind, batch, n):
    path = os.path.join(d, "probe-%s-2.jnl" % kind)
    size = (2 * n * batch + 2) * REC
    fd = make(path, size, kind == "prealloc")
    ws = [Writer(fd, 0, batch), Writer(fd, (n * batch + 1) * REC, batch)]

    def run(w):
        for _ in range(n):
            w.step()

    ts = [threading.Thread(target=run, args=(w,)) for w in ws]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    os.close(fd)
    os.unlink(path)
    lat = ws[0].lat + ws[1].lat
    line("%s batch=%d two in flight" % (kind, batch), lat, wall)
    return len(lat) / wall


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
    p.add_argument("--batch", default="1,20")
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    print("dir %s" % os.path.realpath(a.dir))
    for r in range(a.rounds):
        for batch in [int(x) for x in a.batch.split(",")]:
            for kind in ("prealloc", "fresh"):
                s = serial(a.dir, kind, batch, a.n)
                o = overlap(a.dir, kind, batch, a.n // 2)
                print("  %s batch=%d: two in flight / serial fsync/s "
                      "%.2f" % (kind, batch, o / s), flush=True)


if __name__ == "__main__":
    main()
