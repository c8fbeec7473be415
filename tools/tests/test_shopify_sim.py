"""The Shopify Admin API simulator (tools/shopify-sim): pagination by
Link header, updated_at filters, the leaky bucket and 429, access tokens,
and webhooks that are signed, sent, or dropped."""

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import unittest
import urllib.parse

import shopifysimhelper

SHOP = "acme.myshopify.com"
TOKEN = "shpat_test"
SECRET = "hush"


class Sim(shopifysimhelper.ShopifySim):
    def api(self, path, token=TOKEN):
        return shopifysimhelper.ShopifySim.api(self, path, token)


def order(n, qty=1):
    return {"id": n, "name": "#%d" % n, "line_items": [
        {"id": n * 10, "sku": "X", "quantity": qty, "current_quantity": qty,
         "price": "10.00"}]}


class Receiver(http.server.ThreadingHTTPServer):
    """Collects the webhooks the simulator sends."""

    def __init__(self):
        got = self.got = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers["Content-Length"])
                got.append((dict(self.headers), self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        http.server.ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class ShopifySimTest(unittest.TestCase):

    def setUp(self):
        self.rx = Receiver()
        self.addCleanup(self.rx.server_close)
        self.addCleanup(self.rx.shutdown)
        self.sim = Sim()
        self.addCleanup(lambda: self.assertEqual(self.sim.stop(), 0))
        self.sim.ctl("POST", "shops", {
            "domain": SHOP, "access_token": TOKEN, "secret": SECRET,
            "webhook_url": "http://127.0.0.1:%d/wh" % self.rx.server_port})

    def drain(self):
        self.sim.drain(10)

    def test_link_pagination_walks_every_order_once(self):
        for n in range(1, 8):
            self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(n))
        seen = []
        path = "/admin/api/2024-10/orders.json?status=any&limit=3"
        pages = 0
        while path:
            s, h, b = self.sim.api(path)
            self.assertEqual(s, 200, b)
            pages += 1
            seen += [o["id"] for o in b["orders"]]
            m = re.search(r'<([^>]+)>; rel="next"', h.get("link", ""))
            if pages > 1:
                self.assertIn('rel="previous"', h["link"])
            path = None
            if m:
                u = urllib.parse.urlsplit(m.group(1))
                self.assertEqual(sorted(urllib.parse.parse_qs(u.query)),
                                 ["limit", "page_info"])
                path = u.path + "?" + u.query
        self.assertEqual(pages, 3)
        self.assertEqual(seen, list(range(1, 8)))

    def test_page_info_takes_no_other_filter(self):
        for n in range(1, 4):
            self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(n))
        s, h, b = self.sim.api("/admin/api/2024-10/orders.json?limit=1")
        cursor = re.search(r"page_info=([^&>]+)", h["link"]).group(1)
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json?page_info="
                               + cursor + "&status=any")
        self.assertEqual(s, 400)
        self.assertIn("page_info", b["errors"])

    def test_updated_at_min_selects_what_changed(self):
        for n in range(1, 4):
            self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(n))
        o = self.sim.ctl("PUT", "shops/%s/orders/2" % SHOP,
                         {"order": {"note": "edited"}})["order"]
        q = urllib.parse.urlencode({"updated_at_min": o["updated_at"],
                                    "status": "any"})
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json?" + q)
        self.assertEqual([x["id"] for x in b["orders"]], [2])
        # every change of an order has its own updated_at
        o2 = self.sim.ctl("PUT", "shops/%s/orders/2" % SHOP,
                          {"order": {"note": "again"}})["order"]
        self.assertGreater(o2["updated_at"], o["updated_at"])

    def test_an_order_dated_later_lists_only_from_then(self):
        later = int(time.time()) + 3600
        o = self.sim.ctl("POST", "shops/%s/orders" % SHOP,
                         {"order": order(1), "fire": False,
                          "at": later})["order"]
        self.assertEqual(o["updated_at"], o["created_at"])
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        q = "status=any&updated_at_max=" + now
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json?" + q)
        self.assertEqual(b["orders"], [])
        q = "status=any&updated_at_min=" + urllib.parse.quote(
            o["updated_at"])
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json?" + q)
        self.assertEqual([x["id"] for x in b["orders"]], [1])
        self.assertEqual(self.sim.ctl("GET", "shops/%s/webhooks"
                                      % SHOP)["webhooks"], [])

    def test_an_aged_order_leaves_the_window_quietly(self):
        for n in range(1, 3):
            self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(n))
        self.drain()
        fired = len(self.sim.ctl("GET", "shops/%s/webhooks"
                                 % SHOP)["webhooks"])
        o = self.sim.ctl("POST", "shops/%s/orders/2/age" % SHOP,
                         {"seconds": 2 * 86400})["order"]
        q = urllib.parse.urlencode({"updated_at_min": o["updated_at"],
                                    "status": "any"})
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json?" + q)
        self.assertEqual([x["id"] for x in b["orders"]], [1, 2])
        q = urllib.parse.urlencode({"updated_at_min": time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 86400)),
            "status": "any"})
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json?" + q)
        self.assertEqual([x["id"] for x in b["orders"]], [1])
        s, _, b = self.sim.api("/admin/api/2024-10/orders/2.json")
        self.assertEqual((s, b["order"]["updated_at"]),
                         (200, o["updated_at"]))
        self.assertEqual(len(self.sim.ctl("GET", "shops/%s/webhooks"
                                          % SHOP)["webhooks"]), fired)

    def test_the_bucket_answers_429_with_retry_after(self):
        self.sim.ctl("POST", "shops", {"domain": "b.myshopify.com",
                                       "access_token": "tb",
                                       "bucket_size": 3, "leak_rate": 0.5})
        limits = []
        for _ in range(3):
            s, h, _ = self.sim.api("/admin/api/2024-10/orders.json", "tb")
            self.assertEqual(s, 200)
            limits.append(h["x-shopify-shop-api-call-limit"])
        self.assertEqual(limits, ["1/3", "2/3", "3/3"])
        s, h, b = self.sim.api("/admin/api/2024-10/orders.json", "tb")
        self.assertEqual(s, 429)
        self.assertGreater(float(h["retry-after"]), 0)
        self.assertIn("Exceeded", b["errors"])
        # a forced throttle, for a test that wants one now
        self.sim.ctl("POST", "shops/%s/throttle" % SHOP,
                     {"next": 1, "retry_after": 3})
        s, h, _ = self.sim.api("/admin/api/2024-10/orders.json")
        self.assertEqual((s, h["retry-after"]), (429, "3.0"))

    def test_a_wrong_token_is_401(self):
        s, _, b = self.sim.api("/admin/api/2024-10/orders.json", "nope")
        self.assertEqual(s, 401)
        self.assertIn("Invalid API key or access token", b["errors"])

    def test_webhooks_are_signed_and_some_dropped(self):
        self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(1))
        self.sim.ctl("POST", "shops/%s/drop" % SHOP,
                     {"topics": ["refunds/create"]})
        self.sim.ctl("POST", "shops/%s/orders/1/refunds" % SHOP,
                     {"refund": {"note": "r"},
                      "order": {"note": "refunded"}})
        self.drain()
        topics = [h["X-Shopify-Topic"] for h, _ in self.rx.got]
        self.assertEqual(topics, ["orders/create", "orders/updated"])
        for h, body in self.rx.got:
            mac = base64.b64encode(hmac.new(SECRET.encode(), body,
                                            hashlib.sha256).digest())
            self.assertEqual(h["X-Shopify-Hmac-Sha256"], mac.decode())
            self.assertEqual(h["X-Shopify-Shop-Domain"], SHOP)
        w = self.sim.ctl("GET", "shops/%s/webhooks" % SHOP)["webhooks"]
        self.assertEqual([x["state"] for x in w],
                         ["sent", "dropped", "sent"])
        # the refund is in the order the API lists
        s, _, b = self.sim.api("/admin/api/2024-10/orders/1.json")
        self.assertEqual(len(b["order"]["refunds"]), 1)

    def test_triggered_at_is_never_before_the_change(self):
        """X-Shopify-Triggered-At is when the event happened: the change
        an order's updated_at dates.  Three changes within a second are
        dated a second apart, partly ahead of the clock; each webhook's
        header is not earlier than the updated_at its body carries."""
        self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(1))
        for n in range(2):
            self.sim.ctl("PUT", "shops/%s/orders/1" % SHOP,
                         {"order": {"note": "edit %d" % n}})
        self.drain()
        self.assertEqual(len(self.rx.got), 3)
        for h, body in self.rx.got:
            at = h["X-Shopify-Triggered-At"]
            self.assertRegex(at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
                                 r"\.\d+Z$")
            triggered = datetime.datetime.strptime(
                at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc)
            updated = datetime.datetime.fromisoformat(
                json.loads(body)["updated_at"])
            self.assertGreaterEqual(triggered, updated, (at, body))

    def test_a_fraction_is_dropped(self):
        self.sim.ctl("POST", "shops/%s/drop" % SHOP,
                     {"fraction": 0.5, "seed": 7})
        for n in range(1, 41):
            self.sim.ctl("POST", "shops/%s/orders" % SHOP, order(n))
        self.drain()
        c = self.sim.ctl("GET", "shops/%s" % SHOP)["webhooks"]
        self.assertEqual(c["sent"] + c["dropped"], 40)
        self.assertTrue(10 < c["dropped"] < 30, c)
        self.assertEqual(len(self.rx.got), c["sent"])


if __name__ == "__main__":
    unittest.main()
