"""Integration tests that Test::Nginx cannot express: several workers
racing on one zone, and reloads that must be refused."""

import concurrent.futures
import json
import os
import signal
import time
import unittest

from ngxctl import NginxServer

BODY = json.dumps({"id": 820982911946154508, "line_items": [
    {"id": i, "sku": f"SKU-{i}", "quantity": 1, "price": "19.99"}
    for i in range(40)]}).encode()

HTTP = """
    order_edit_zone edits:4m;
    order_edit_zone spare:1m;
    order_edit_store acme.myshopify.com { secret acme; __RATE__ }
    server {
        listen 127.0.0.1:__PORT__ reuseport;
        add_header X-Worker $pid always;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location = /q { order_edit_queue_debug edits; }
    }
"""

# bounded: every request has a timeout, and the pools are finite
CLIENTS = 16


def http_block(rate="", zone="edits:4m"):
    return HTTP.replace("__RATE__", rate).replace("edits:4m", zone)


class WorkersShareOneZone(unittest.TestCase):

    def setUp(self):
        self.ngx = NginxServer(http_block(), workers=4)
        self.addCleanup(self.ngx.stop)
        self.ngx.start()

    def race(self, ids):
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            return list(pool.map(
                lambda wid: self.ngx.post_webhook("acme", BODY, wid), ids))

    def test_one_webhook_raced_from_many_workers_is_queued_once(self):
        answers = self.race(["same-id"] * 64)

        statuses = [json.loads(b)["status"] for s, _, b in answers]
        workers = {h["X-Worker"] for _, h, _ in answers}

        self.assertGreaterEqual(len(workers), 2, "the race used one worker")
        self.assertEqual(statuses.count("queued"), 1)
        self.assertEqual(statuses.count("duplicate"), 63)
        # every duplicate points at the one queued id
        self.assertEqual({json.loads(b)["id"] for _, _, b in answers}, {"1"})

        st = self.ngx.status()
        self.assertEqual(st["zone"]["queued_items"], 1)
        self.assertEqual(st["stores"]["acme.myshopify.com"]["duplicate"], 63)

    def test_distinct_webhooks_from_many_workers_get_distinct_ids(self):
        answers = self.race([f"id-{i}" for i in range(200)])

        ids = [json.loads(b)["id"] for s, _, b in answers]
        self.assertTrue(all(s == 200 for s, _, _ in answers))
        self.assertEqual(len(set(ids)), 200)
        self.assertEqual(sorted(int(i) for i in ids), list(range(1, 201)))

        st = self.ngx.status()
        shop = st["stores"]["acme.myshopify.com"]
        self.assertEqual(st["zone"]["queued_items"], 200)
        self.assertEqual(shop["queued"], 200)
        self.assertEqual(shop["received"], 200)
        self.assertEqual(shop["queue_depth"], 200)


class OneLimiterForAllWorkers(unittest.TestCase):

    def test_burst_is_shared_not_per_worker(self):
        ngx = NginxServer(http_block("rate 1r/m burst=5;"), workers=4)
        self.addCleanup(ngx.stop)
        ngx.start()

        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(
                lambda i: ngx.post_webhook("acme", BODY, f"b-{i}"),
                range(60)))

        codes = [s for s, _, _ in answers]
        workers = {h["X-Worker"] for _, h, _ in answers}

        self.assertGreaterEqual(len(workers), 2)
        # 1r/m drains nothing in a few seconds: the first plus the burst
        self.assertEqual(codes.count(200), 6)
        self.assertEqual(codes.count(429), 54)
        self.assertTrue(all(h.get("Retry-After", "").isdigit()
                            for s, h, _ in answers if s == 429))


class Reloads(unittest.TestCase):

    def setUp(self):
        self.ngx = NginxServer(http_block(), workers=2)
        self.addCleanup(self.ngx.stop)
        self.ngx.start()

    def test_resizing_a_zone_that_holds_webhooks_is_refused(self):
        s, _, _ = self.ngx.post_webhook("acme", BODY, "keep-me")
        self.assertEqual(s, 200)

        ok = self.ngx.reload(http_block(zone="edits:8m"))

        self.assertFalse(ok, "a resize that drops a webhook was accepted")
        self.assertIn('order_edit_zone "edits" cannot change its size from '
                      '4194304 to 8388608 while it holds 1 queued webhooks',
                      self.ngx.error_log())

        # the old configuration goes on, with its queue
        st = self.ngx.status()
        self.assertEqual(st["zone"]["total_bytes"], 4194304)
        self.assertEqual(st["zone"]["queued_items"], 1)
        s, _, b = self.ngx.post_webhook("acme", BODY, "keep-me")
        self.assertEqual(json.loads(b), {"status": "duplicate", "id": "1"})

    def test_same_size_reload_keeps_everything(self):
        for i in range(5):
            self.ngx.post_webhook("acme", BODY, f"r-{i}")

        self.assertTrue(self.ngx.reload(http_block()))
        self.assertTrue(self.ngx.reload(http_block()))

        st = self.ngx.status()
        self.assertEqual(st["zone"]["reloads"], 2)
        self.assertEqual(st["zone"]["queued_items"], 5)
        self.assertEqual(st["stores"]["acme.myshopify.com"]["queued"], 5)


class Leases(unittest.TestCase):

    def test_a_killed_workers_leases_return_to_the_queue(self):
        ngx = NginxServer(http_block(), workers=1)
        self.addCleanup(ngx.stop)
        ngx.start()

        ngx.post_webhook("acme", BODY, "lease-me")
        s, h, b = ngx.request("GET", "/q?op=lease&ms=3600000")
        item = json.loads(b)["item"]
        holder = int(h["X-Worker"])
        self.assertEqual((item["id"], item["attempts"]), (1, 1))
        self.assertEqual(ngx.status()["stores"]["acme.myshopify.com"]
                         ["in_flight"], 1)

        # the lease is an hour long: only the holder's death can free it
        os.kill(holder, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = ngx.worker_pids()
            if pids and holder not in pids:
                break
            time.sleep(0.05)
        ngx.wait_ready()

        shop = ngx.status()["stores"]["acme.myshopify.com"]
        self.assertEqual(shop["in_flight"], 0)
        self.assertEqual(shop["lease_reclaimed"], 1)
        self.assertIn("1 webhooks leased by exited workers returned to zone "
                      '"edits"', ngx.error_log())

        s, h, b = ngx.request("GET", "/q?op=lease")
        item = json.loads(b)["item"]
        self.assertEqual((item["id"], item["attempts"]), (1, 2))
        self.assertNotEqual(int(h["X-Worker"]), holder)


if __name__ == "__main__":
    unittest.main()
