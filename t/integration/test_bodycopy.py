"""A webhook's body is copied into the zone after the zone's lock (issue
17): while its writer copies it, the webhook is in the zone and its id is
taken, but its body is not there yet.  A copy of it that arrives then is
"in progress" (503), never a 200; no reader (lease, peek, find, the
coalescer's walk) sees the half-written body; and a writer killed before
its copy is done leaves nothing behind: the webhook is rolled back when
the master's new worker starts, and Shopify's next delivery of it is
taken afresh, whole.

The writer is stopped at that copy by build/cfault.so (t/lib/cfault.c,
LD_PRELOAD): a memcpy() into shared memory of a body that starts with a
marker raises SIGSTOP while the control file says "stop".  Before the
change the copy was made under the zone's lock, so the stopped worker
held the lock and every request of the other worker waited on it.
"""

import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

from ngxctl import NginxServer

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CFAULT = os.path.abspath(os.path.join(TOP, "build", "cfault.so"))
MARK = '{"oe_cfault":"stop"'
SHOP = "acme.myshopify.com"

HTTP = """
    order_edit_zone edits:4m;
    __JOURNAL__
    order_edit_store acme.myshopify.com { secret acme; }
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location = /q { order_edit_queue_debug edits; }
    }
"""


def body(n, marked=False):
    doc = json.dumps({"id": 7000 + n, "note": "x" * 20000, "line_items": [
        {"id": i, "sku": f"SKU-{i}", "quantity": 1, "price": "9.99"}
        for i in range(4)]})
    if marked:
        doc = MARK + "," + doc[1:]
    return doc.encode()


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class BodyCopyBase:

    journal = None      # or the fsync mode of a journal

    def setUp(self):
        self.assertTrue(os.path.exists(CFAULT),
                        "build/cfault.so is missing: run make")
        self.root = tempfile.mkdtemp(prefix="oe-cfault-")
        os.chmod(self.root, 0o755)
        self.addCleanup(shutil.rmtree, self.root, True)
        self.ctl = os.path.join(self.root, "ctl")

        saved = {k: os.environ.get(k)
                 for k in ("LD_PRELOAD", "OE_CFAULT_MARK", "OE_CFAULT_CTL")}

        def restore():
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

        self.addCleanup(restore)
        os.environ["LD_PRELOAD"] = " ".join(
            p for p in (saved["LD_PRELOAD"], CFAULT) if p)
        os.environ["OE_CFAULT_MARK"] = MARK
        os.environ["OE_CFAULT_CTL"] = self.ctl

        jline = ""
        if self.journal:
            jdir = os.path.join(self.root, "journal")
            os.mkdir(jdir)
            os.chmod(jdir, 0o1777)
            jline = (f"order_edit_journal {jdir} fsync={self.journal} "
                     "batch_window=1ms;")
        self.ngx = NginxServer(HTTP.replace("__JOURNAL__", jline), workers=2)
        self.addCleanup(self.ngx.stop)
        self.addCleanup(self.kill_stopped)
        self.ngx.start()

    def kill_stopped(self):
        # a worker left stopped (a failed test) would outlive the master
        for pid in self.ngx.worker_pids():
            if state(pid) == "T":
                os.kill(pid, signal.SIGKILL)

    def arm(self, on):
        with open(self.ctl + ".tmp", "w") as f:
            f.write("stop" if on else "")
        os.chmod(self.ctl + ".tmp", 0o644)
        os.rename(self.ctl + ".tmp", self.ctl)

    def post(self, n, wid, marked=False):
        status, _, raw = self.ngx.post_webhook("acme", body(n, marked), wid)
        return status, json.loads(raw)

    def get(self, path):
        status, _, raw = self.ngx.request("GET", path)
        self.assertEqual(status, 200, raw)
        return json.loads(raw)

    def stopped_worker(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in self.ngx.worker_pids():
                if state(pid) == "T":
                    return pid
            time.sleep(0.02)
        self.fail("no worker stopped at the body's copy")

    def test_uncopied_webhook_is_in_progress_unread_and_rolled_back(self):
        # a worker stops in the middle of a webhook's copy
        self.arm(True)
        hung = threading.Thread(target=self.post_quietly,
                                args=(2, "half"), daemon=True)
        hung.start()
        pid = self.stopped_worker()

        # a copy of it now: not a 200 (it may never be whole), so Shopify
        # retries; the other worker answers at once, no lock is held
        status, answer = self.post(2, "half", marked=True)
        self.assertEqual((status, answer.get("error")), (503, "in_progress"),
                         answer)

        # a webhook after it is whole in the zone
        status, answer = self.post(1, "later")
        self.assertEqual(status, 200, answer)
        later = int(answer["id"])
        half = later - 1

        # the half one's id is taken but no reader sees it: peek shows the
        # later one although it is older, it is not found by its id, and a
        # lease takes the whole one only
        peek = self.get(f"/q?op=peek&shop={SHOP}")["item"]
        self.assertEqual(peek["id"], later, peek)
        self.assertEqual(self.get(f"/q?op=normalise&shop={SHOP}&id={half}"),
                         {"item": None})
        lease = self.get("/q?op=lease&ms=60000")["item"]
        self.assertEqual(lease["id"], later, lease)
        self.assertEqual(self.get("/q?op=lease")["item"], None)
        self.assertEqual(self.get("/q?op=depth")["depth"], 2)

        # the writer dies before its copy is done: its webhook goes as if
        # it had not come when the master's new worker starts
        self.arm(False)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (pid not in self.ngx.worker_pids()
                    and len(self.ngx.worker_pids()) == 2
                    and "rolled back" in self.ngx.error_log()):
                break
            time.sleep(0.05)
        self.assertIn(f"1 webhooks from #{half} rolled back in zone "
                      "\"edits\": their worker exited before they were "
                      "answered", self.ngx.error_log())
        self.assertEqual(self.get("/q?op=depth")["depth"], 1)
        self.assertEqual(self.get(f"/q?op=normalise&shop={SHOP}&id={half}"),
                         {"item": None})

        # Shopify's next delivery is taken afresh, and comes back whole
        status, answer = self.post(2, "half", marked=True)
        self.assertEqual((status, answer.get("status")), (200, "queued"),
                         answer)
        again = int(answer["id"])
        self.assertGreater(again, half)
        lease = self.get("/q?op=lease")["item"]
        self.assertEqual(lease["id"], again, lease)
        self.assertEqual(lease["body_sha256"],
                         hashlib.sha256(body(2, True)).hexdigest())
        self.assertEqual(self.get("/q?op=lease")["item"], None)

        counters = self.get("/status")
        self.after_rollback(counters)

    def after_rollback(self, status):
        pass

    def post_quietly(self, n, wid):
        try:
            self.post(n, wid, marked=True)
        except Exception:
            pass


class NoJournalTest(BodyCopyBase, unittest.TestCase):
    pass


class JournalTest(BodyCopyBase, unittest.TestCase):
    """With a journal the record is written from the request's copy after
    the body's copy into the zone: a writer that dies before leaves a
    place taken in its segment and nothing written there; the rollback
    releases it, and a restart replays only what was answered 200."""

    journal = "batch"

    def after_rollback(self, status):
        # later and the new half pending; the dead writer's record was
        # released as one that failed
        j = status["journal"]
        self.assertEqual((j["pending"], j["errors"]), (2, 1), j)

        # a restart replays the two webhooks answered 200, once each
        self.ngx.kill_all()
        self.ngx.restart()
        ids = []
        while True:
            item = self.get("/q?op=lease")["item"]
            if item is None:
                break
            ids.append(item["webhook_id"])
        self.assertEqual(sorted(ids), ["half", "later"])


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    unittest.main()
