"""The journal against a failing disk: a full filesystem (ENOSPC in the
middle of a record, full at start), a failing fsync (EIO) and a directory
that becomes read-only.  Whatever the disk does, every webhook answered 200
is there after a restart, every refusal is a 503 with a JSON body, every
refusal the journal causes is counted once in journal.errors, and nginx
starts.

A real full filesystem is a small tmpfs mounted for the test, which needs
root (CAP_SYS_ADMIN); without it those tests run through the fault
injector instead (build/jfault.so, LD_PRELOAD, t/lib/jfault.c), which
makes journal writes fail as a full disk would (OE_JFAULT_FORCE=1 uses
the injector even as root).  The EIO fsync test always runs through the
injector: no filesystem fails an fsync on request.  The read-only
directory is a chmod: the workers never run as root.
"""

import errno
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from ngxctl import NginxServer

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import simhelper  # noqa: E402
JFAULT = os.path.abspath(os.path.join(TOP, "build", "jfault.so"))

HTTP = """
    order_edit_zone edits:4m;
    order_edit_journal __DIR__ fsync=__FSYNC__ __JOURNAL__;
    order_edit_store acme.myshopify.com { secret acme; }
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location = /q { order_edit_queue_debug edits; }
    }
"""


def body(n, pad=0):
    return json.dumps({"id": 7000 + n, "note": "x" * pad, "line_items": [
        {"id": i, "sku": f"SKU-{i}", "quantity": 1, "price": "9.99"}
        for i in range(4)]}).encode()


def record_offsets(data):
    """(offset, size) of each record of a segment image (header: magic,
    type, flags, reserved, u32 length, crc; 8-byte aligned)."""
    out, off = [], 0
    while off + 16 <= len(data):
        length = struct.unpack_from("<I", data, off + 8)[0]
        size = 16 + ((length + 7) & ~7)
        out.append((off, size))
        off += size
    return out


def can_mount():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp(prefix="oe-mnt-probe-")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                            "tmpfs", d], capture_output=True)
        if r.returncode != 0:
            return False
        subprocess.run(["umount", d], check=True)
        return True
    finally:
        os.rmdir(d)


MOUNT = os.environ.get("OE_JFAULT_FORCE") != "1" and can_mount()


def fill(path, chunk=4096):
    """Fill the filesystem of path with one file; returns its size."""
    n = 0
    buf = b"\0" * chunk
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            try:
                w = os.write(fd, buf)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if chunk == 1:
                    break
                chunk = max(1, chunk // 8)
                buf = b"\0" * chunk
                continue
            n += w
    finally:
        os.close(fd)
    return n


class FaultBase:
    """nginx with its journal on a small tmpfs (root) or under the fault
    injector (otherwise); self.full() and self.room() make the disk full
    and give some room back."""

    fsync = "batch"
    journal_args = "batch_window=1ms"     # order_edit_journal's others
    tmpfs_size = "1m"

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="oe-jfault-")
        os.chmod(self.root, 0o755)
        self.addCleanup(shutil.rmtree, self.root, True)
        self.mnt = os.path.join(self.root, "mnt")
        os.mkdir(self.mnt)
        self.ctl = os.path.join(self.root, "faults")
        self.mounted = False
        if self.tmpfs() and MOUNT:
            subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=%s,mode=1777" % self.tmpfs_size,
                            "tmpfs", self.mnt], check=True)
            self.mounted = True
            self.addCleanup(self.umount)
        else:
            self.assertTrue(os.path.exists(JFAULT),
                            "build/jfault.so is missing: run make")
            os.chmod(self.mnt, 0o1777)
        self.dir = os.path.join(self.mnt, "journal")
        self.filler = os.path.join(self.mnt, "filler")
        self.ngx = self.server()
        self.addCleanup(self.stop)
        self.ngx.start()

    def tmpfs(self):
        return True

    def server(self):
        if not self.mounted and not getattr(self, "preloaded", False):
            self.preloaded = True
            # the injector is inherited by every worker the master forks
            # (after whatever is preloaded already, e.g. libasan)
            self.preload = os.environ.get("LD_PRELOAD")
            os.environ["LD_PRELOAD"] = " ".join(
                p for p in (self.preload, JFAULT) if p)
            os.environ["OE_JFAULT_CTL"] = self.ctl
            os.environ["OE_JFAULT_DIR"] = self.dir
            self.addCleanup(self.unpreload)
        ngx = NginxServer("", workers=1)
        self.http = (HTTP.replace("__DIR__", self.dir)
                     .replace("__FSYNC__", self.fsync)
                     .replace("__JOURNAL__", self.journal_args))
        ngx.write_conf(self.http)
        return ngx

    def unpreload(self):
        for k in ("LD_PRELOAD", "OE_JFAULT_CTL", "OE_JFAULT_DIR"):
            os.environ.pop(k, None)
        if self.preload:
            os.environ["LD_PRELOAD"] = self.preload

    def stop(self):
        self.ngx.stop()

    def umount(self):
        for _ in range(50):
            if subprocess.run(["umount", self.mnt],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        subprocess.run(["umount", "-l", self.mnt])

    def fault(self, spec):
        """The injector's faults, e.g. "pwritev=ENOSPC:half" (no-op on a
        tmpfs for the disk-full kind)."""
        with open(self.ctl + ".tmp", "w") as f:
            f.write(spec)
        os.rename(self.ctl + ".tmp", self.ctl)

    def full(self):
        if self.mounted:
            fill(self.filler)
        else:
            self.fault("pwritev=ENOSPC:half\nwrite=ENOSPC\nopen=ENOSPC\n")

    def room(self, size=128 * 1024):
        if self.mounted:
            os.truncate(self.filler, max(0, os.path.getsize(self.filler)
                                         - size))
        else:
            self.fault("")

    # -- requests ----------------------------------------------------------

    def post(self, n, wid, pad=0):
        status, headers, raw = self.ngx.post_webhook("acme", body(n, pad),
                                                     wid)
        answer = json.loads(raw)
        if status != 200:
            self.assertEqual(status, 503, raw)
            self.assertTrue(headers.get("Content-Type", "")
                            .startswith("application/json"), headers)
            self.assertIn("error", answer)
        return status, answer

    def get(self, path):
        status, _, raw = self.ngx.request("GET", path)
        self.assertEqual(status, 200, raw)
        return json.loads(raw)

    def journal(self):
        return self.get("/status")["journal"]

    def queued_ids(self):
        """The webhook ids in the zone, by leasing each once."""
        ids = []
        for _ in range(self.get("/q?op=depth")["depth"]):
            ids.append(self.get("/q?op=lease")["item"]["webhook_id"])
        return sorted(ids)

    def restart(self):
        self.ngx.kill_all()
        r = self.ngx.nginx()
        if r.returncode != 0 or "signal 7" in self.ngx.error_log():
            self.fail("nginx did not start again: rc %d, %s\n%s"
                      % (r.returncode, r.stderr, self.ngx.error_log()[-3000:]))
        self.ngx.started = True
        self.ngx.wait_ready()

    def segments(self):
        return sorted(glob.glob(os.path.join(self.dir, "edits-*.jnl")))


class DiskFullTest(FaultBase, unittest.TestCase):

    def test_enospc_mid_record_leaves_no_hole_and_start_on_a_full_disk(self):
        ok = []
        for n in range(3):
            self.assertEqual(self.post(n, f"ok{n}")[0], 200)
            ok.append(f"ok{n}")

        # the disk fills: a large record fails part way through
        self.full()
        refused = 0
        for n in range(3):
            status, answer = self.post(10 + n, f"big{n}", pad=40000)
            self.assertEqual((status, answer["error"]),
                             (503, "journal_unavailable"), answer)
            refused += 1

        # room again: what comes next is written where the failed ones were
        self.room()
        for n in range(3):
            status, answer = self.post(20 + n, f"after{n}")
            self.assertEqual(status, 200, answer)
            ok.append(f"after{n}")

        j = self.journal()
        self.assertEqual(j["errors"], refused, j)

        # every segment is records end to end, nothing in between
        for seg in self.segments():
            with open(seg, "rb") as f:
                data = f.read()
            recs = record_offsets(data)
            self.assertEqual(sum(s for _, s in recs), len(data), seg)
            for off, _ in recs:
                self.assertEqual(data[off:off + 4], b"OEJ2",
                                 "%s: a gap at %d" % (seg, off))
            # and no hole the filesystem has to fill in when it is read
            st = os.stat(seg)
            self.assertGreaterEqual(st.st_blocks * 512,
                                    st.st_size - 4095, seg)

        # full again, and nginx starts on it with every 200 kept
        self.full()
        self.restart()
        self.assertEqual(self.queued_ids(), sorted(ok))
        self.assertEqual(self.journal()["corrupt"], 0)

    def test_a_segment_with_a_hole_replays_on_a_full_disk(self):
        for n in range(2):
            self.assertEqual(self.post(n, f"h{n}")[0], 200)
        self.ngx.kill_all()

        # a hole between the two records, as an older nginx left after a
        # failed write: the filesystem has no page for it
        seg = self.segments()[0]
        with open(seg, "rb") as f:
            data = f.read()
        (_, hs), (a, asz), (b, bsz) = record_offsets(data)
        with open(seg, "r+b") as f:
            f.truncate(b)
            f.seek(b + 256 * 1024)
            f.write(data[b:b + bsz])
        self.full()

        self.restart()
        self.assertEqual(self.queued_ids(), ["h0", "h1"])
        self.assertEqual(self.journal()["corrupt"], 1)

    def tmpfs(self):
        return True


class FsyncErrorTest(FaultBase, unittest.TestCase):

    def tmpfs(self):
        return False

    def test_eio_on_fsync_refuses_what_it_covered_and_keeps_the_rest(self):
        ok = []
        for n in range(2):
            self.assertEqual(self.post(n, f"ok{n}")[0], 200)
            ok.append(f"ok{n}")
        before = self.journal()["errors"]

        self.fault("fdatasync=EIO\n")
        for n in range(3):
            status, answer = self.post(10 + n, f"eio{n}")
            self.assertEqual((status, answer["error"]),
                             (503, "journal_unavailable"), answer)
        self.assertEqual(self.journal()["errors"] - before, 3)
        self.assertRegex(self.ngx.error_log(),
                         r"\[crit\] .*journal fsync in .* failed "
                         r"\(5: Input/output error\)")

        # the disk is back: a new segment, and Shopify's retries are taken
        self.fault("")
        for n in range(3):
            status, answer = self.post(10 + n, f"eio{n}")
            self.assertEqual(answer["status"], "queued", answer)
            ok.append(f"eio{n}")

        self.restart()
        self.assertEqual(self.queued_ids(), sorted(ok))

    def test_after_an_eio_the_next_batch_is_not_refused_for_the_old_one(self):
        """Linux reports a writeback error once to every file open when it
        happened: the writer's own descriptor of the failed segment, which
        never fsynced, would report it again.  The webhooks written after
        the failure, in a new segment, are not refused for it."""
        ok = []
        for n in range(2):
            self.assertEqual(self.post(n, f"ok{n}")[0], 200)
            ok.append(f"ok{n}")

        self.fault("fdatasync=EIO:once\n")
        status, answer = self.post(10, "eio0")
        self.assertEqual((status, answer["error"]),
                         (503, "journal_unavailable"), answer)

        for n in range(3):
            status, answer = self.post(20 + n, f"next{n}")
            self.assertEqual(status, 200, answer)
            ok.append(f"next{n}")

        self.restart()
        self.assertEqual(self.queued_ids(), sorted(ok))


class RollbackTest(FaultBase, unittest.TestCase):
    """The store's rollback: a webhook whose record fails leaves the zone
    as it was before it came (its id, its body, its counters), whichever
    way the record failed."""

    def tmpfs(self):
        return False

    def zone_state(self):
        st = self.get("/status")
        zone, shop = st["zone"], st["stores"]["acme.myshopify.com"]
        return {
            "queued_items": zone["queued_items"],
            "queued_bytes": zone["queued_bytes"],
            "queued_zone_bytes": zone["queued_zone_bytes"],
            "dedup_ids": zone["dedup_ids"],
            "dedup_bytes": zone["dedup_bytes"],
            "queue_depth": shop["queue_depth"],
            "queued": shop["queued"],
            "duplicate": shop["duplicate"],
            "journal_pending": st["journal"]["pending"],
        }, shop["received"], shop["queue_full"], st["journal"]["errors"]

    def test_a_failed_record_leaves_id_body_and_counters_as_before(self):
        for n in range(3):
            self.assertEqual(self.post(n, f"ok{n}")[0], 200)
        before, received, full, errors = self.zone_state()

        # written in part and cut back; not written at all; not synced
        faults = ("pwritev=ENOSPC:half\n", "pwritev=ENOSPC\n",
                  "fdatasync=EIO\n")
        refused = []
        for k, spec in enumerate(faults):
            self.fault(spec)
            for n in range(2):
                wid = f"fail{k}-{n}"
                status, answer = self.post(10 + 2 * k + n, wid, pad=3000)
                self.assertEqual((status, answer.get("error")),
                                 (503, "journal_unavailable"), (spec, answer))
                refused.append(wid)
        self.fault("")

        after, received2, full2, errors2 = self.zone_state()
        self.assertEqual(after, before)
        self.assertEqual(received2 - received, len(refused))
        self.assertEqual(full2 - full, len(refused))
        self.assertEqual(errors2 - errors, len(refused))

        # the ids were forgotten: Shopify's next delivery is a new webhook
        for k, wid in enumerate(refused):
            status, answer = self.post(10 + k, wid, pad=3000)
            self.assertEqual(answer["status"], "queued", answer)

        self.restart()
        self.assertEqual(self.queued_ids(),
                         sorted(["ok0", "ok1", "ok2"] + refused))


DISPATCH = """
    order_edit_zone edits:8m;
    order_edit_journal __DIR__ fsync=batch max_size=1m;
    order_edit_netsuite main {
        account 1234567_SB1;
        endpoint http://127.0.0.1:9;
        consumer_key_file __KEYS__/ck;
        consumer_secret_file __KEYS__/cs;
        token_id_file __KEYS__/ti;
        token_secret_file __KEYS__/ts;
        retry_backoff 10s 60s;
    }
    order_edit_store acme.myshopify.com { secret acme; netsuite main; }
    order_edit_dispatch edits interval=1s;
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location = /q { order_edit_queue_debug edits; }
    }
"""


class AdoptionOffTheEventLoopTest(FaultBase, unittest.TestCase):
    """A second nginx on the same journal adopts the first one's segments
    in its delivering worker once the first is gone.  The files are read
    on the thread pool: with each read made 500 ms slow, the worker still
    answers at once meanwhile."""

    SLOW_MS = 500

    def tmpfs(self):
        return False

    def test_the_worker_answers_while_segments_are_adopted(self):
        keys = os.path.join(self.root, "keys")
        os.mkdir(keys)
        os.chmod(keys, 0o755)
        simhelper.write_key_files(keys)
        for name in os.listdir(keys):
            os.chmod(os.path.join(keys, name), 0o644)

        # the first nginx writes several segments (1m journal: 128k each)
        self.ngx.stop()
        self.ngx = self.server()
        first = self.ngx
        first.write_conf(self.http.replace("fsync=batch",
                                           "fsync=batch max_size=1m"))
        first.start()
        n = 0
        while n < 24:
            self.assertEqual(self.post(n, f"a{n}", pad=20000)[0], 200)
            n += 1
        segs = len(self.segments())
        self.assertGreaterEqual(segs, 3)

        # the second one starts while the first holds the journal
        second = NginxServer("", workers=1)
        self.addCleanup(second.stop)
        second.write_conf(DISPATCH.replace("__DIR__", self.dir)
                          .replace("__KEYS__", keys))
        second.start()
        self.assertEqual(self.depth(second), 0)

        self.fault("read=SLOW:%d\n" % self.SLOW_MS)
        first.kill_all()

        worst, t0 = 0.0, time.monotonic()
        while time.monotonic() - t0 < 20:
            t = time.monotonic()
            depth = self.depth(second)
            worst = max(worst, time.monotonic() - t)
            if depth == n:
                break
            time.sleep(0.02)
        took = time.monotonic() - t0
        self.assertEqual(depth, n, second.error_log()[-2000:])

        # the reads were slow (the adoption took at least one slow read;
        # how many ran one after the other is the thread pool's business),
        # the event loop never was
        self.assertGreater(took, self.SLOW_MS / 1000)
        # (before, a request waited for every file's read in a row; the
        # bound leaves room for a busy machine, below one slow read)
        self.assertLess(worst, self.SLOW_MS / 1000 * 0.8,
                        "a request waited %.3f s" % worst)
        self.assertRegex(second.error_log(),
                         r"this worker holds the journal of zone \"edits\"")

    def depth(self, ngx):
        status, _, raw = ngx.request("GET", "/q?op=depth")
        self.assertEqual(status, 200, raw)
        return json.loads(raw)["depth"]


class ReadOnlyDirectoryTest(FaultBase, unittest.TestCase):

    def tmpfs(self):
        return False

    def test_a_read_only_directory_refuses_and_counts_each_refusal(self):
        ok = []
        for n in range(2):
            self.assertEqual(self.post(n, f"ok{n}")[0], 200)
            ok.append(f"ok{n}")
        before = self.journal()["errors"]

        # a new worker needs a segment of its own (made at its first
        # webhook) and cannot make one; after the reload, whose master
        # gives the directory's owner its rights back
        self.assertTrue(self.ngx.reload(self.http))
        os.chmod(self.dir, 0o555)
        self.addCleanup(os.chmod, self.dir, 0o755)

        for n in range(4):
            status, answer = self.post(10 + n, f"ro{n}")
            self.assertEqual((status, answer["error"]),
                             (503, "journal_unavailable"), answer)
        self.assertEqual(self.journal()["errors"] - before, 4)
        self.assertIn("cannot create journal segment", self.ngx.error_log())

        os.chmod(self.dir, 0o755)
        for n in range(4):
            status, answer = self.post(10 + n, f"ro{n}")
            self.assertEqual(answer["status"], "queued", answer)
            ok.append(f"ro{n}")

        self.restart()
        self.assertEqual(self.queued_ids(), sorted(ok))


class FsyncOrderTest(FaultBase, unittest.TestCase):
    """Two fsyncs in flight (fsync=always): a webhook is answered only
    after an fsync that started after its record was written, and an
    fsync that ends before one started earlier waits for it (the earlier
    one holds the directory and the retired files).  Made slow on purpose
    through the injector, so the order shows in the answers' times."""

    fsync = "always"
    slow = 0.6

    def tmpfs(self):
        return False

    def jsyncs(self):
        """NGX_HTTP_ORDER_EDIT_JSYNCS, the fsyncs a worker runs at once,
        as the module's source has it."""
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "ngx_order_edit_module",
                           "ngx_http_order_edit_journal.c")
        with open(src) as f:
            for line in f:
                if line.startswith("#define NGX_HTTP_ORDER_EDIT_JSYNCS"):
                    return int(line.split()[2])
        self.fail("NGX_HTTP_ORDER_EDIT_JSYNCS not found in " + src)

    def timed_posts(self, gap):
        """Two webhooks gap seconds apart, each in its own thread; the
        seconds each one waited for its answer."""
        out = {}

        def one(n, wid):
            t0 = time.monotonic()
            status, answer = self.post(n, wid)
            out[wid] = (status, answer.get("status"), time.monotonic() - t0)

        first = threading.Thread(target=one, args=(1, "first"))
        first.start()
        time.sleep(gap)
        one(2, "second")
        first.join()
        self.assertEqual(out["first"][:2], (200, "queued"), out)
        self.assertEqual(out["second"][:2], (200, "queued"), out)
        return out["first"][2], out["second"][2]

    def test_a_record_written_during_an_fsync_waits_for_one_started_after(
            self):
        # a segment, its directory entry synced: later fsyncs sync it only
        self.assertEqual(self.post(0, "zero")[0], 200)
        self.fault("fdatasync=SLOW:%d@.jnl\n" % (self.slow * 1000))
        first, second = self.timed_posts(0.2)
        self.assertGreaterEqual(first, self.slow - 0.01)
        # the first fsync ended 0.4 s after the second webhook: it did not
        # cover it; only the next, started when it ended, did (0.4 s for
        # the first to end, then the second's 0.6 s; with two in flight,
        # NGX_HTTP_ORDER_EDIT_JSYNCS 2, the second starts at once: 0.6 s)
        self.assertGreaterEqual(second, self.slow - 0.01,
                                "answered by an fsync started before it")
        if self.jsyncs() == 1:
            self.assertGreaterEqual(second, 2 * self.slow - 0.2 - 0.05,
                                    "answered when the first fsync ended")

    def test_an_fsync_ending_first_waits_for_an_earlier_one(self):
        # the first webhook opens a segment: its fsync also syncs the
        # directory, slowly; the second's syncs the segment only, at once
        self.fault("fdatasync=SLOW:%d@%s$\n" % (self.slow * 1000, self.dir))
        first, second = self.timed_posts(0.2)
        self.assertGreaterEqual(first, self.slow - 0.01)
        # durable only with the directory entry the first fsync syncs
        self.assertGreaterEqual(second, self.slow - 0.2 - 0.01)
        self.assertEqual(self.journal()["errors"], 0)
        self.restart()
        self.assertEqual(self.queued_ids(), ["first", "second"])


class FsyncTargetTest(FaultBase, unittest.TestCase):
    """An fsync covers every record written when its thread starts it, not
    only those written when it was posted: the records that came while it
    waited for a thread (or for batch's window) are answered by it, not by
    one more fsync after it.  The pool has one thread, kept busy by the
    worker's first spare (its zero-fill made slow through the injector)
    while two webhooks come."""

    fsync = "always"
    busy = 2.0
    slow = 0.5

    def tmpfs(self):
        return False

    journal_args = "batch_window=1ms thread_pool=jbusy"

    def server(self):
        ngx = FaultBase.server(self)
        ngx.extra_main = "thread_pool jbusy threads=1;"
        ngx.write_conf(self.http)
        return ngx

    def test_records_written_while_the_fsync_waits_share_it(self):
        # the next worker's first spare keeps the only thread busy
        self.fault("fdatasync=SLOW:%d@.zero\nfdatasync=SLOW:%d@.jnl\n"
                   % (self.busy * 1000, self.slow * 1000))
        self.restart()
        fsyncs = self.journal()["fsyncs"]

        out = {}

        def one(n, wid):
            status, answer = self.post(n, wid)
            out[wid] = (status, answer.get("status"), time.monotonic())

        first = threading.Thread(target=one, args=(1, "first"))
        first.start()
        self.addCleanup(first.join, 10)
        time.sleep(0.2)
        one(2, "second")
        first.join(10)

        self.assertEqual(out["first"][:2], (200, "queued"), out)
        self.assertEqual(out["second"][:2], (200, "queued"), out)
        # one fsync for both: the second did not wait for another slow one
        self.assertLess(abs(out["second"][2] - out["first"][2]),
                        self.slow / 2, out)
        self.assertEqual(self.journal()["fsyncs"], fsyncs + 1,
                         self.journal())
        self.restart()
        self.assertEqual(self.queued_ids(), ["first", "second"])


class StagedWritesTest(FaultBase, unittest.TestCase):
    """With fsync on, the records an fsync covers are written by its thread
    in one pwritev() (one a run of records that follow each other in a
    file), not one a record on the event loop.  The first webhook's fsync
    is made slow; three more come while it runs, and the next fsync's
    thread writes their records in one call (before: three calls).  A
    failed write of such a run refuses all of its webhooks, cuts the file
    back, and loses none answered 200."""

    slow = 0.6

    def tmpfs(self):
        return False

    # no spare being zero-filled beside the segment: its writes and
    # fsyncs are not the ones counted or failed here
    journal_args = "batch_window=1ms preallocate=off"

    def writes(self):
        """(offset, bytes) of each pwritev() to a segment, in order."""
        try:
            with open(self.dir + ".writes") as f:
                return [(int(o), int(n), p) for o, n, p in
                        (line.split(None, 2) for line in f if line.strip())]
        except FileNotFoundError:
            return []

    def first_and_three(self, faults_after_first):
        """'first' posted with its fsync slow; once it is in the fsync,
        the faults become faults_after_first and three more come."""
        out = {}

        def one(n, wid):
            status, answer = self.post(n, wid)
            out[wid] = (status, answer.get("error") or answer.get("status"))

        first = threading.Thread(target=one, args=(1, "first"))
        first.start()
        self.addCleanup(first.join, 10)
        time.sleep(self.slow / 3)
        self.fault(faults_after_first)
        rest = [threading.Thread(target=one, args=(2 + k, "next%d" % k))
                for k in range(3)]
        for t in rest:
            t.start()
        first.join(10)
        for t in rest:
            t.join(10)
        return out

    def test_records_that_share_an_fsync_are_written_at_once(self):
        slow = "pwritev=LOG@.jnl\nfdatasync=SLOW:%d@.jnl\n" % (
            self.slow * 1000)
        self.fault(slow)
        out = self.first_and_three(slow)

        self.assertEqual(out, {w: (200, "queued") for w in
                               ("first", "next0", "next1", "next2")})
        w = self.writes()
        # the first record alone, then the three in one call
        self.assertEqual(len(w), 2, w)
        (o1, n1, _), (o2, n2, _) = w
        self.assertGreater(o2, o1, w)
        self.assertGreater(n2, 2 * n1, w)
        self.assertEqual(self.journal()["fsyncs"], 2, self.journal())

        self.fault("")
        self.restart()
        self.assertEqual(self.queued_ids(),
                         ["first", "next0", "next1", "next2"])
        self.assertEqual(self.journal()["corrupt"], 0)

    def test_a_failed_run_refuses_all_of_it_and_keeps_the_rest(self):
        slow = "fdatasync=SLOW:%d@.jnl\n" % (self.slow * 1000)
        self.fault(slow)
        before = self.journal()["errors"]
        out = self.first_and_three(slow + "pwritev=ENOSPC:half@.jnl\n")

        self.assertEqual(out["first"], (200, "queued"), out)
        for k in range(3):
            self.assertEqual(out["next%d" % k], (503, "journal_unavailable"),
                             out)
        self.assertEqual(self.journal()["errors"] - before, 3)

        # room again: the next webhook goes to a file of its own
        self.fault("")
        self.assertEqual(self.post(9, "after")[0], 200)

        self.restart()
        self.assertEqual(self.queued_ids(), ["after", "first"])
        j = self.journal()
        self.assertEqual((j["corrupt"], j["torn"]), (0, 0), j)


    def test_a_killed_worker_s_staged_records_are_taken_afresh(self):
        """Three records staged behind a slow fsync when their worker is
        killed were never written: the next worker must roll them back,
        not let them go as if the kernel kept them (Shopify's retry would
        then hear "duplicate", and a restart lose them)."""
        self.fault("fdatasync=SLOW:3000@.jnl\n")
        out = {}

        def one(n, wid):
            try:
                status, answer = self.post(n, wid)
                out[wid] = (status, answer.get("status"))
            except (OSError, ValueError) as e:
                out[wid] = ("no answer", str(e))

        posts = [threading.Thread(target=one, args=(1, "first"))]
        posts[0].start()
        time.sleep(0.5)
        for k in range(3):
            posts.append(threading.Thread(target=one,
                                          args=(2 + k, "next%d" % k)))
            posts[-1].start()
        time.sleep(0.5)

        # the worker dies with "first" in its fsync and three staged
        old = self.ngx.worker_pids()
        self.assertEqual(len(old), 1, old)
        os.kill(old[0], signal.SIGKILL)
        for t in posts:
            t.join(10)
        self.assertNotIn((200, "queued"), out.values(), out)

        self.fault("")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = self.ngx.worker_pids()
            if pids and pids != old:
                break
            time.sleep(0.05)
        self.ngx.wait_ready()

        # Shopify's retries are taken afresh, and kept over a restart
        for k, wid in enumerate(["first", "next0", "next1", "next2"]):
            status, answer = self.post(1 + k, wid)
            self.assertEqual((status, answer.get("status")), (200, "queued"),
                             (wid, answer))
        self.assertIn("4 webhooks from #", self.ngx.error_log())
        self.restart()
        self.assertEqual(self.queued_ids(),
                         ["first", "next0", "next1", "next2"])


class NewSegmentDuringWindowTest(FaultBase, unittest.TestCase):
    """An fsync posted while the writer had no file (a rotation whose new
    segment could not be made) must not answer records written to a
    segment opened while it waits out its window: it never syncs that
    file.  On the first build of the window kept by the thread, r4 was
    answered by the fsync posted before its file existed (2 fsyncs)."""

    def tmpfs(self):
        return False

    journal_args = "batch_window=1s max_size=256k"

    def test_a_file_opened_during_the_window_is_not_taken(self):
        self.fault("fdatasync=SLOW:300@.jnl\n")
        f0 = self.journal()["fsyncs"]
        out = {}

        def one(n, wid, pad=0):
            status, answer = self.post(n, wid, pad)
            out[wid] = status

        t0 = time.monotonic()
        ths = [threading.Thread(target=one, args=(1, "r1"))]
        ths[-1].start()
        time.sleep(0.05)
        # fills the first segment: the next record rotates
        ths.append(threading.Thread(target=one, args=(2, "r2", 40000)))
        ths[-1].start()
        time.sleep(0.05)
        os.chmod(self.dir, 0o555)
        try:
            one(3, "r3")               # the rotation makes no segment
        finally:
            time.sleep(max(0, 0.4 - (time.monotonic() - t0)))
            os.chmod(self.dir, 0o755)
        ths.append(threading.Thread(target=one, args=(4, "r4")))
        ths[-1].start()
        for th in ths:
            th.join(10)
        j = self.journal()
        self.assertEqual(out.get("r3"), 503, out)
        self.assertEqual(out.get("r4"), 200, out)
        # r4's segment is new: an fsync more than r1's and r2's
        self.assertGreaterEqual(j["fsyncs"] - f0, 3, (out, j))


class RemoverKilledTest(FaultBase, unittest.TestCase):
    """A worker killed while it removes a settled segment's files (in the
    rename that recycles it, or the unlink) left the segment in the zone
    for good: its bytes counted against max_size until nginx restarted,
    and enough such kills refused every webhook as a full journal.  The
    worker that replaces it finishes the removal."""

    slow_ms = 3000

    def tmpfs(self):
        return False

    # segments of 32k (max_size / 8, at least 32k)
    journal_args = "batch_window=1ms max_size=256k"

    def ack(self, item):
        try:
            self.ngx.request("GET", "/q?op=ack&shop=acme.myshopify.com"
                             "&id=%d&token=%d" % (item["id"], item["token"]))
        except OSError:
            pass  # its worker killed before it answered

    def test_a_segment_whose_remover_was_killed_is_removed(self):
        # the first record fills a segment: the second opens the next
        # one, and the first is sealed
        self.assertEqual(self.post(1, "a", 40000)[0], 200)
        self.assertEqual(self.post(2, "b")[0], 200)
        first, second = self.segments()
        before = self.journal()["bytes"]

        # the ack of the first segment's only record makes its worker
        # remove the file: slowly, and the worker is killed doing it
        self.fault("rename=SLOW:%d@.jnl$\nunlink=SLOW:%d@.jnl$\n"
                   % (self.slow_ms, self.slow_ms))
        item = self.get("/q?op=lease")["item"]
        self.assertEqual(item["webhook_id"], "a")
        [pid] = self.ngx.worker_pids()
        acker = threading.Thread(target=self.ack, args=(item,))
        acker.start()
        self.addCleanup(acker.join, 10)
        # the injector marks the slow call begun
        deadline = time.monotonic() + 10
        while (time.monotonic() < deadline
               and not os.path.exists(self.dir + ".slow")):
            time.sleep(0.02)
        self.assertTrue(os.path.exists(self.dir + ".slow"),
                        "the segment's removal never began")
        self.assertTrue(os.path.exists(first), "removed before the kill")
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone([pid]))
        self.fault("")

        # the next worker removes it: the zone counts the second only
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(first):
            time.sleep(0.05)
        self.assertFalse(os.path.exists(first), self.ngx.error_log()[-2000:])
        self.assertEqual(self.segments(), [second])
        self.assertLess(self.journal()["bytes"], before - 40000)
        self.assertEqual(self.journal()["segments"], 1)

        # and nothing acknowledged comes back
        self.restart()
        self.assertEqual(self.queued_ids(), ["b"])


if __name__ == "__main__":
    unittest.main()
