"""The journal's replay as the error log tells it (Test::Nginx only sees
what a request logs, and replay happens in the master before any), and
what a worker crash or a reload does to the journal."""

import glob
import json
import os
import signal
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
                second = data.index(b"OEJ1", data.index(b"OEJ1", 8) + 8)
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

    def crash_and_restart_after(self, damage):
        self.ngx.kill_all()
        damage()
        self.ngx.restart()


if __name__ == "__main__":
    unittest.main()
