"""The journal's replay as the error log tells it (Test::Nginx only sees
what a request logs, and replay happens in the master before any), and
what a worker crash or a reload does to the journal."""

import glob
import json
import os
import signal
import struct
import threading
import time
import unittest

from ngxctl import NginxServer

HTTP = """
    order_edit_zone edits:4m;
    order_edit_journal __DIR__ fsync=batch;
    order_edit_store acme.myshopify.com { secret acme; }
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location = /q { order_edit_queue_debug edits; }
    }
"""


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def record_offsets(data):
    """Offsets of the records of a segment image (header: magic, type,
    flags, reserved, u32 length, crc; 8-byte aligned)."""
    offs, off = [], 0
    while off + 16 <= len(data):
        length = struct.unpack_from("<I", data, off + 8)[0]
        offs.append(off)
        off += 16 + ((length + 7) & ~7)
    return offs


def body(n):
    return json.dumps({"id": 5000 + n, "line_items": [
        {"id": i, "sku": f"SKU-{i}", "quantity": 1, "price": "19.99"}
        for i in range(10 + n)]}).encode()


class JournalReplay(unittest.TestCase):

    def setUp(self):
        self.ngx = NginxServer("", workers=1)
        self.dir = os.path.join(self.ngx.dir, "journal")
        self.ngx.write_conf(HTTP.replace("__DIR__", self.dir))
        self.addCleanup(self.ngx.stop)
        self.ngx.start()

    def post(self, n, wid):
        status, _, raw = self.ngx.post_webhook("acme", body(n), wid)
        return status, json.loads(raw)

    def get(self, path):
        status, _, raw = self.ngx.request("GET", path)
        self.assertEqual(status, 200, raw)
        return json.loads(raw)

    def journal(self):
        return self.get("/status")["journal"]

    def depth(self):
        return self.get("/q?op=depth")["depth"]

    def segment(self):
        segs = sorted(glob.glob(os.path.join(self.dir, "edits-*.jnl")))
        self.assertEqual(len(segs), 1, segs)
        return segs[0]

    def deliver(self, n):
        """Lease and acknowledge n webhooks, as a dispatcher would."""
        for _ in range(n):
            item = self.get("/q?op=lease")["item"]
            self.assertEqual(self.ngx.request(
                "GET", "/q?op=ack&shop=acme.myshopify.com&id=%d&token=%d"
                % (item["id"], item["token"]))[0], 200)

    def crash_and_restart(self):
        self.ngx.kill_all()
        self.ngx.restart()

    def test_torn_tail_is_cut_and_logged_with_file_and_offset(self):
        for n in range(3):
            self.assertEqual(self.post(n, f"t{n}")[0], 200)
        seg = self.segment()
        size = os.path.getsize(seg)

        self.crash_and_restart()
        self.assertEqual(self.depth(), 3)

        # the machine stopped in the middle of the last record
        self.crash_and_restart_after(lambda: os.truncate(seg, size - 5))

        self.assertEqual(self.depth(), 2)
        j = self.journal()
        self.assertEqual((j["torn"], j["corrupt"]), (1, 0))
        log = self.ngx.error_log()
        self.assertRegex(log, r'\[warn\] .*torn tail of journal segment "'
                         + seg + r'" cut at offset \d+ \(\d+ bytes\)')
        self.assertLess(os.path.getsize(seg), size)
        # the cut record's webhook was never answered: Shopify resends it
        self.assertEqual(self.post(2, "t2")[1]["status"], "queued")

    def test_corrupt_record_is_skipped_and_the_rest_replayed(self):
        for n in range(4):
            self.assertEqual(self.post(n, f"c{n}")[0], 200)
        seg = self.segment()

        def flip():
            with open(seg, "r+b") as f:
                data = f.read()
                second = data.index(b"OEJ2", data.index(b"OEJ2", 8) + 8)
                f.seek(second + 200)
                f.write(b"#")
            return second

        self.crash_and_restart_after(flip)

        self.assertEqual(self.depth(), 3)
        j = self.journal()
        self.assertEqual((j["torn"], j["corrupt"], j["replayed"]), (0, 1, 3))
        self.assertRegex(self.ngx.error_log(),
                         r'\[error\] .*corrupt journal record in "' + seg
                         + r'" at offset \d+, \d+ bytes skipped')
        # the records after the bad one came back, in order
        self.assertEqual(
            self.get("/q?op=peek&shop=acme.myshopify.com")
            ["item"]["webhook_id"], "c0")

    def test_a_file_that_is_not_a_segment_is_set_aside(self):
        self.assertEqual(self.post(0, "x0")[0], 200)
        bogus = os.path.join(self.dir,
                             "edits-0000000000000001-00000001.jnl")

        def plant():
            with open(bogus, "wb") as f:
                f.write(b"not a journal at all" * 10)

        self.crash_and_restart_after(plant)

        self.assertEqual(self.depth(), 1)
        self.assertTrue(os.path.exists(bogus + ".bad"))
        self.assertIn("is not a journal segment of zone \"edits\"",
                      self.ngx.error_log())

    def test_a_worker_killed_mid_life_leaves_nothing_behind(self):
        for n in range(3):
            self.assertEqual(self.post(n, f"w{n}")[0], 200)
        worker = self.ngx.worker_pids()[0]
        os.kill(worker, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone([worker]))
        self.ngx.wait_ready()

        # the new worker seals the dead one's segment and writes its own
        self.assertEqual(self.post(3, "w3")[1]["status"], "queued")
        self.assertEqual(self.post(0, "w0")[1]["status"], "duplicate")
        j = self.journal()
        self.assertEqual((j["pending"], j["segments"]), (4, 2))
        self.assertIn("journal segments of exited workers sealed",
                      self.ngx.error_log())

        self.crash_and_restart()
        self.assertEqual(self.depth(), 4)

    def test_a_reload_keeps_the_journal_and_replays_nothing(self):
        for n in range(2):
            self.assertEqual(self.post(n, f"r{n}")[0], 200)
        self.assertTrue(self.ngx.reload(HTTP.replace("__DIR__", self.dir)))
        self.assertEqual(self.depth(), 2)
        j = self.journal()
        self.assertEqual((j["pending"], j["replayed"]), (2, 0))
        self.assertEqual(self.post(1, "r1")[1]["status"], "duplicate")

    def test_settled_segments_are_removed_and_the_journal_has_room(self):
        # a small journal: its segments must go as their webhooks are
        # delivered, or it fills and refuses everything
        self.fresh("fsync=batch max_size=64k")

        n = 0
        while self.post(n % 7, "s%d" % n)[0] == 200:
            n += 1
        self.assertGreater(n, 3)
        self.deliver(n)

        j = self.journal()
        self.assertEqual(j["pending"], 0)
        self.assertGreaterEqual(j["removed_segments"], 1)
        self.assertEqual(self.post(0, "after")[0], 200)

    def test_a_rolled_back_webhook_is_not_a_duplicate_after_restart(self):
        self.assertEqual(self.post(0, "keep")[0], 200)
        self.assertEqual(self.post(1, "refused")[0], 200)
        seg = self.segment()

        def rollback():
            # what a failed write or fsync leaves: a rollback ack
            with open(seg, "rb") as f:
                off = record_offsets(f.read())[2]
            payload = bytes([4, 0, 0, 0]) + struct.pack("<I", off)
            with open(seg + ".ack", "ab") as f:
                f.write(struct.pack("<II", 0x414a454f, crc32c(payload))
                        + payload)

        self.crash_and_restart_after(rollback)

        self.assertEqual(self.depth(), 1)
        # Shopify sends the refused webhook again: it is taken afresh
        self.assertEqual(self.post(1, "refused")[1]["status"], "queued")

    def test_a_copy_waiting_for_the_first_ones_fsync_is_refused(self):
        self.fresh("fsync=batch batch_window=1s")
        self.assertEqual(self.post(0, "w0")[0], 200)  # the window starts

        first = {}
        t = threading.Thread(
            target=lambda: first.update(r=self.post(1, "dup")))
        t.start()
        self.addCleanup(t.join, 10)
        self.wait_for(lambda: self.depth() == 2)

        status, answer = self.post(1, "dup")
        self.assertEqual((status, answer.get("error")), (503, "in_progress"),
                         (answer, first, self.journal()))
        t.join(10)
        self.assertEqual(first["r"][1]["status"], "queued")

    def test_a_reload_during_an_fsync_wait_answers_and_delivers(self):
        conf = self.reconfigure("fsync=batch batch_window=1s")
        self.assertEqual(self.post(0, "r0")[0], 200)

        waiting = {}
        t = threading.Thread(
            target=lambda: waiting.update(r=self.post(1, "r1")))
        t.start()
        self.addCleanup(t.join, 10)
        self.wait_for(lambda: self.depth() == 2)
        self.assertTrue(self.ngx.reload(conf))
        t.join(10)

        # the old worker stayed to answer it, and it can be delivered
        self.assertEqual(waiting["r"][1]["status"], "queued")
        leased = [self.get("/q?op=lease")["item"] for _ in range(2)]
        self.assertEqual(sorted(i["webhook_id"] for i in leased),
                         ["r0", "r1"])

    def test_a_second_nginx_leaves_a_live_generations_segments_alone(self):
        # as during a binary upgrade: another nginx on the same journal,
        # while this one still has its webhooks (some in rotated files)
        self.reconfigure("fsync=batch max_size=64k")
        n = 0
        while n < 40 and self.post(n % 7, "g%d" % n)[0] == 200:
            n += 1
        self.assertGreaterEqual(self.journal()["segments"], 2)

        other = NginxServer("", workers=1)
        self.addCleanup(other.stop)
        other.write_conf(HTTP.replace("__DIR__", self.dir)
                         .replace("fsync=batch", "fsync=batch max_size=64k"))
        other.start()

        status, _, raw = other.request("GET", "/q?op=depth")
        self.assertEqual(json.loads(raw)["depth"], 0)
        self.assertEqual(other.status()["journal"]["adopted_segments"], 0)
        self.assertEqual(self.depth(), n)

        # once this nginx is gone for good, the other one takes them all
        self.ngx.kill_all()
        other.kill_all()
        other.restart()
        status, _, raw = other.request("GET", "/q?op=depth")
        self.assertEqual(json.loads(raw)["depth"], n)

    def recycle(self):
        """Small segments (32k) delivered and acknowledged: their files
        are kept, and written again from the start over the records of
        their last use.  Returns the webhooks journaled after, the reused
        file, and each spare file's bytes as it was before its reuse."""
        # spares only from segments used before: no zero-filled ones
        self.fresh("fsync=batch max_size=64k recycle=2 preallocate=off")

        old = ["a%d" % n for n in range(40)]
        for wid in old:
            self.assertEqual(self.post(len(wid) % 7, wid)[0], 200)
        self.assertGreaterEqual(self.journal()["segments"], 2)
        self.deliver(len(old))
        j = self.journal()
        self.assertEqual(j["pending"], 0)
        self.assertGreaterEqual(j["spare_files"], 1, j)
        self.assertEqual(glob.glob(os.path.join(self.dir, "*.jnl.free.ack")),
                         [])
        spares = []
        for path in glob.glob(os.path.join(self.dir, "*.jnl.free")):
            with open(path, "rb") as f:
                spares.append(f.read())

        # new webhooks until one lands in a reused file, then two more
        new = []
        while self.journal()["recycled_segments"] == 0:
            new.append("b%d" % len(new))
            self.assertEqual(self.post(1, new[-1])[0], 200)
            self.assertLess(len(new), 100)
        for _ in range(2):
            new.append("b%d" % len(new))
            self.assertEqual(self.post(1, new[-1])[0], 200)

        # the reused file still holds its last use's records past the new
        seg = sorted(glob.glob(os.path.join(self.dir, "edits-*.jnl")))[-1]
        with open(seg, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 3 * 2048, seg)
        self.assertGreater(data.count(b"OEJ2"), 4, seg)
        return new, seg, spares

    def test_a_recycled_segment_replays_none_of_its_last_use(self):
        new, _, _ = self.recycle()

        self.ngx.kill_all()
        self.ngx.restart()

        self.assertEqual(self.depth(), len(new))
        j = self.journal()
        self.assertEqual((j["replayed"], j["torn"], j["corrupt"]),
                         (len(new), 0, 0), j)
        leased = [self.get("/q?op=lease")["item"]["webhook_id"]
                  for _ in new]
        self.assertEqual(sorted(leased), sorted(new))
        # and Shopify's retry of an old one is a duplicate, as before
        self.assertEqual(self.post(0, "b0")[1]["status"], "duplicate")

    def test_a_recycled_file_whose_new_header_was_lost_replays_nothing(self):
        # a power cut before the reused file's first fdatasync: its first
        # record is its last use's again, and so are the records after
        new, seg, spares = self.recycle()
        with open(seg, "rb") as f:
            data = f.read()
        was = [sp for sp in spares if sp[-4096:] == data[-4096:]]
        self.assertEqual(len(was), 1)
        head = struct.unpack_from("<I", was[0], 8)[0] + 16
        head = (head + 7) & ~7

        def lose_header():
            with open(seg, "r+b") as f:
                f.write(was[0][:head])

        self.crash_and_restart_after(lose_header)

        # what went to the reused file is gone (in a real power cut none
        # of it was answered), and none of its last use came back
        depth = self.depth()
        self.assertEqual(depth, len(new) - 3)
        self.assertEqual(self.journal()["replayed"], depth)
        self.assertIn("whose new one was lost): none of its records "
                      "replayed", self.ngx.error_log())
        leased = {self.get("/q?op=lease")["item"]["webhook_id"]
                  for _ in range(depth)}
        self.assertEqual(leased, set(new[:-3]))

    def test_a_reload_asking_for_more_spares_keeps_those_kept(self):
        """The spares' list is in the zone, as long as recycle= asks (a
        zone without a journal has none): a reload that asks for more
        makes it larger, with the files already kept in it."""
        self.fresh("fsync=batch max_size=256k recycle=1 preallocate=off")
        n = 0
        for _ in range(3):
            for _ in range(50):
                self.assertEqual(self.post(n % 7, "a%d" % n)[0], 200)
                n += 1
            self.deliver(50)
        self.wait_for(lambda: self.journal()["spare_files"] == 1)
        first = glob.glob(os.path.join(self.dir, "*.jnl.free"))
        self.assertEqual(len(first), 1)

        self.reconfigure("fsync=batch max_size=256k recycle=4 "
                         "preallocate=off")
        self.assertEqual(self.journal()["spare_files"], 1)
        # five or six 32k segments at once, then all settled
        for _ in range(150):
            self.assertEqual(self.post(n % 7, "a%d" % n)[0], 200)
            n += 1
        self.assertGreaterEqual(self.journal()["segments"], 5)
        self.deliver(150)
        self.wait_for(lambda: self.journal()["spare_files"] == 4)
        self.assertEqual(
            len(glob.glob(os.path.join(self.dir, "*.jnl.free"))), 4)
        self.assertGreaterEqual(self.journal()["recycled_segments"], 1)
        self.assertNotIn("[alert]", self.ngx.error_log())

    def fresh(self, opts):
        """This test's own nginx, started with these journal options."""
        self.ngx.stop()
        self.ngx = NginxServer("", workers=1)
        self.addCleanup(self.ngx.stop)
        self.dir = os.path.join(self.ngx.dir, "journal")
        self.ngx.write_conf(HTTP.replace("__DIR__", self.dir)
                            .replace("fsync=batch", opts))
        self.ngx.start()

    def reconfigure(self, opts):
        conf = HTTP.replace("__DIR__", self.dir).replace("fsync=batch", opts)
        self.assertTrue(self.ngx.reload(conf))
        return conf

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        self.fail("timed out")

    def crash_and_restart_after(self, damage):
        self.ngx.kill_all()
        damage()
        self.ngx.restart()


if __name__ == "__main__":
    unittest.main()
