"""Issue 10, the shared-memory queue: ids must not starve the bodies, a
full zone must still park, and a queue that stops draining is loud.

Thousands of requests, so one keep-alive connection (Test::Nginx opens a
connection per request)."""

import http.client
import json
import os
import sys
import time
import unittest

from ngxctl import NginxServer, sign

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import simhelper  # noqa: E402

FIX = os.path.join(TOP, "t", "fixtures", "shopify")

HTTP = """
    order_edit_zone edits:__ZONE__;
    order_edit_store acme.myshopify.com {
        secret acme;
        rate 10000r/s burst=100000;
    }
    server {
        listen 127.0.0.1:__PORT__;
        keepalive_requests 1000000;
        location = /wh { order_edit_webhook edits; }
        location = /q { order_edit_queue_debug edits; }
        location = /status { order_edit_status edits; }
        location /exc { order_edit_exceptions edits; }
    }
"""

SHOP = "acme.myshopify.com"


def order_body(order_id, size):
    """An order of about size bytes, as t/lib/OrderEditTest.pm makes it."""
    body = f'{{"id":{order_id},"name":"#{order_id}","currency":"USD",' \
           f'"line_items":['
    i = 0
    while len(body) < size - 64:
        body += ("," if i else "") + \
            f'{{"id":{i},"sku":"SKU-{i}","quantity":1,"price":"9.99"}}'
        i += 1
    return (body + '],"updated_at":"2026-11-26T10:00:00Z"}').encode()


class Client:
    """One keep-alive connection to the server under test."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def close(self):
        self.c.close()

    def request(self, method, path, body=None, headers=None):
        self.c.request(method, path, body=body, headers=headers or {})
        r = self.c.getresponse()
        return r.status, r.read()

    def webhook(self, body, wid, topic="orders/updated"):
        return self.request("POST", "/wh", body, {
            "X-Shopify-Hmac-Sha256": sign("acme", body),
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": wid,
            "X-Shopify-API-Version": "2024-10",
        })

    def q(self, query):
        s, b = self.request("GET", "/q?" + query)
        return s, json.loads(b)

    def status(self):
        s, b = self.request("GET", "/status")
        assert s == 200, (s, b)
        return json.loads(b)

    def prometheus(self):
        s, b = self.request("GET", "/status?format=prometheus")
        assert s == 200, (s, b)
        return b.decode()


class QueueHardening(unittest.TestCase):

    def server(self, zone="1m", params=""):
        http = HTTP.replace("__ZONE__", zone + params)
        ngx = NginxServer(http.replace("__PORT__", "__PORT__"))
        ngx.write_conf(http.replace("__PORT__", str(ngx.port)))
        self.addCleanup(ngx.stop)
        ngx.start()
        c = Client(ngx.port)
        self.addCleanup(c.close)
        return ngx, c

    def deliver(self, c):
        """Lease the next webhook and ack it, as a dispatcher would."""
        s, item = c.q("op=lease")
        self.assertEqual(s, 200)
        it = item["item"]
        s, _ = c.q(f"op=ack&shop={SHOP}&id={it['id']}&token={it['token']}")
        self.assertEqual(s, 200)

    def test_unique_ids_do_not_starve_the_bodies(self):
        # the reproduction: a 1m zone refused every webhook at
        # 7,382 unique ids with nothing queued
        ngx, c = self.server("1m")
        small = order_body(9001, 200)
        big = order_body(9002, 16384)

        # every so often a 16 KB order: each must fit, whenever it comes
        for i in range(9000):
            s, b = c.webhook(small, f"{i:08d}-0000-4000-8000-000000000000")
            self.assertEqual(s, 200, f"webhook {i}: {b!r}")
            self.deliver(c)

            if i % 37 == 36:
                s, b = c.webhook(big, f"{i:08d}-0000-4000-8000-0000000000ff")
                self.assertEqual(s, 200, f"16 KB after {i + 1} ids: {b!r}")
                self.deliver(c)

        s, b = c.webhook(big, "the-big-one")
        self.assertEqual(s, 200, b)
        self.assertEqual(json.loads(b)["status"], "queued")

        z = c.status()["zone"]
        self.assertEqual(z["queued_items"], 1)
        self.assertGreater(z["dedup_evicted"], 0)
        self.assertEqual(z["dedup_max_bytes"], 1048576 // 100 * 25)
        self.assertLessEqual(z["dedup_bytes"], z["dedup_max_bytes"])
        self.assertGreater(z["dedup_bytes"], z["dedup_max_bytes"] // 2)
        self.assertEqual(z["dedup_bytes"] % 128, 0)
        self.assertEqual(z["queued_zone_bytes"], 5 * 4096)

        prom = c.prometheus()
        self.assertIn('order_edit_zone_bytes{zone="edits",kind="dedup"} '
                      f'{z["dedup_bytes"]}\n', prom)
        self.assertIn('order_edit_zone_bytes{zone="edits",kind="webhooks"} '
                      f'{5 * 4096}\n', prom)
        self.assertIn('order_edit_dedup_evicted_total{zone="edits"} '
                      f'{z["dedup_evicted"]}\n', prom)

        # a share set by the operator holds too, and so does a size
        for param, limit in ((" dedup_max=10%", 1048576 // 100 * 10),
                             (" dedup_max=64k", 65536)):
            ngx, c = self.server("1m", param)
            for i in range(1500):
                s, b = c.webhook(small, f"{param}-{i:08d}")
                self.assertEqual(s, 200, b)
                self.deliver(c)
            z = c.status()["zone"]
            self.assertEqual(z["dedup_max_bytes"], limit)
            self.assertLessEqual(z["dedup_bytes"], limit)
            self.assertGreater(z["dedup_evicted"], 0)

    def test_a_full_zone_still_parks_and_a_stall_is_loud(self):
        ngx, c = self.server("256k", " stall_after=1s")

        # one webhook out for delivery, then the zone filled to the brim
        # with bodies of one page each: not a page is left
        s, b = c.webhook(order_body(1, 1000), "first")
        self.assertEqual(s, 200, b)
        s, first = c.q("op=lease")
        it = first["item"]

        page = order_body(2, 3500)
        n = 0
        while True:
            s, b = c.webhook(page, f"fill-{n}")
            if s != 200:
                break
            n += 1
            self.assertLess(n, 1000)
        self.assertEqual(s, 503)
        self.assertEqual(json.loads(b)["error"], "queue_full")

        # NetSuite's answer would need a page of its own: the webhook is
        # parked all the same, with its reason
        detail = "x" * 2048
        s, b = c.q(f"op=park&shop={SHOP}&id={it['id']}&token={it['token']}"
                   f"&reason=netsuite_rejected&detail={detail}")
        self.assertEqual((s, b), (200, {"ok": True}))

        s, b = c.request("GET", "/exc")
        self.assertEqual(s, 200)
        exc = json.loads(b)["exceptions"]
        self.assertEqual(len(exc), 1)
        self.assertEqual(exc[0]["reason"], "netsuite_rejected")
        self.assertIn(exc[0]["netsuite_error"],
                      (detail, "(NetSuite's answer was not kept: the zone "
                               "was full when the webhook was parked)"))

        z = c.status()["zone"]
        self.assertEqual(z["exceptions"], 1)
        self.assertEqual(z["queued_items"], n)

        # nothing has left the queue since the park: after stall_after the
        # status says so, and the next lease logs it
        time.sleep(1.2)
        z = c.status()["zone"]
        self.assertGreaterEqual(z["stalled_ms"], 1000)
        self.assertIn('order_edit_queue_stalled_seconds{zone="edits"} 1.',
                      c.prometheus())
        self.assertNotIn("has not drained", ngx.error_log())

        self.deliver(c)
        self.assertRegex(ngx.error_log(),
                         r'\[error\].*order_edit: zone "edits" has not '
                         r'drained for 1 s: %d webhooks ready or out for '
                         r'delivery, 0 delayed, 1 parked' % n)

        # a delivery resets it
        z = c.status()["zone"]
        self.assertLess(z["stalled_ms"], 1000)


DISPATCH = """
    order_edit_zone edits:256k;
    order_edit_netsuite main {
        account 1234567_SB1;
        endpoint http://127.0.0.1:__SIM__;
        consumer_key_file __DIR__/ck;
        consumer_secret_file __DIR__/cs;
        token_id_file __DIR__/ti;
        token_secret_file __DIR__/ts;
        concurrency 4;
        timeout 10s;
        retry_backoff 100ms 300ms;
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        rate 10000r/s burst=100000;
        netsuite main;
        sku_map __DIR__/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
    server {
        listen 127.0.0.1:__PORT__;
        keepalive_requests 1000000;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location /exc { order_edit_exceptions edits; }
    }
"""


class FullZoneParks(unittest.TestCase):
    """The dispatcher parks on a full zone: nothing stalls."""

    def test_a_full_zone_of_webhooks_to_park_drains(self):
        sim = simhelper.Sim()
        self.addCleanup(sim.stop)

        ngx = NginxServer("", workers=2)
        self.addCleanup(ngx.stop)
        simhelper.write_key_files(ngx.dir)
        with open(os.path.join(FIX, "skus.map"), "rb") as f:
            skus = f.read()
        with open(os.path.join(ngx.dir, "skus.map"), "wb") as out:
            out.write(skus)
        ngx.write_conf(DISPATCH.replace("__SIM__", str(sim.port))
                       .replace("__DIR__", ngx.dir)
                       .replace("__PORT__", str(ngx.port)))
        ngx.start()

        c = Client(ngx.port)
        self.addCleanup(c.close)

        with open(os.path.join(FIX, "01-us-tax-exclusive.json"), "rb") as f:
            edit = f.read().rstrip()

        # orders past the fulfilment lock: each webhook must be parked
        orders = [450789469 + 1000 * k for k in range(120)]
        for o in orders:
            sim.seed_order(f"shopify-acme-{o}", orderStatus="F", lines=[
                {"item": {"id": "1001"}, "quantity": 3, "rate": 199}])

        # NetSuite holds the first four while the zone fills to the brim
        sim.admin("POST", "faults", {"gate": True})

        accepted = 0
        for o in orders:
            body = edit.replace(b"450789469", str(o).encode())
            s, b = c.webhook(body, f"p-{o}")
            if s == 503:
                break
            self.assertEqual(s, 200, b)
            accepted += 1
        self.assertEqual(s, 503, "the zone never filled")
        self.assertGreater(accepted, 20)

        sim.admin("POST", "faults", {"gate": False})

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            z = c.status()["zone"]
            if z["queued_items"] == 0:
                break
            time.sleep(0.1)

        z = c.status()["zone"]
        self.assertEqual((z["queued_items"], z["exceptions"]), (0, accepted),
                         ngx.error_log()[-2000:])

        s, b = c.request("GET", "/exc")
        exc = json.loads(b)["exceptions"]
        self.assertEqual(len(exc), accepted)
        self.assertEqual({e["reason"] for e in exc}, {"fulfilment_lock"})


if __name__ == "__main__":
    unittest.main()
