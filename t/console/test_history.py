"""The console's per-minute history lives in the zone: every worker shows
the same, and a reload keeps it (no browser needed)."""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(TOP, "t", "integration"))

from ngxctl import NginxServer  # noqa: E402

HTTP = """
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location /console { order_edit_console edits; }
    }
"""

BODY = json.dumps({"id": 450789469, "order_number": 1001}).encode()


class History(unittest.TestCase):

    def setUp(self):
        self.ngx = NginxServer(HTTP, workers=2)
        self.addCleanup(self.ngx.stop)
        self.ngx.start()

    def history(self):
        s, _, b = self.ngx.request("GET", "/console/api/history")
        self.assertEqual(s, 200, b)
        h = json.loads(b)
        self.assertEqual(len(h["stores"]["acme.myshopify.com"]["depth"]),
                         1440)
        return h

    def test_a_reload_keeps_the_history(self):
        for i in range(3):
            s, _, b = self.ngx.post_webhook("acme", BODY, "h%d" % i)
            self.assertEqual(s, 200, b)

        before = self.history()
        depth = before["stores"]["acme.myshopify.com"]["depth"]
        self.assertEqual([d for d in depth if d is not None][-1], 3)

        self.ngx.reload(HTTP)

        after = self.history()
        kept = after["stores"]["acme.myshopify.com"]["depth"]
        # the minute sampled before the reload is still there, where the
        # minutes since moved it
        shift = after["minute"] - before["minute"]
        self.assertEqual(kept[1439 - shift], 3)
        self.assertEqual(kept[:1439 - shift], depth[shift:1439])


if __name__ == "__main__":
    unittest.main()
