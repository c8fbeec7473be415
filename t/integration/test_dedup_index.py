"""Issue 17, the de-duplication ids' hash index: every id remembered is
found again, in buckets shared by several ids, and the oldest give way
first without losing the newer ids that share their buckets.

dedup_max=64k gives the index 256 buckets (one per 128 bytes of the
bound, rounded down to a power of two), so 512 ids share them two to a
bucket on average and, whatever the zone's secret seed, hundreds of them
share a bucket with another."""

import json
import unittest

from test_queue_hardening import HTTP, Client, order_body
from ngxctl import NginxServer

# "acme.myshopify.com \n <36 characters>": a 128-byte slab slot each
IDS = 512
BOUND = 65536


def wid(i):
    return f"{i:08d}-0000-4000-8000-00000000d00d"


class DedupIndex(unittest.TestCase):

    def server(self):
        http = HTTP.replace("__ZONE__", "4m dedup_max=64k")
        ngx = NginxServer(http)
        ngx.write_conf(http.replace("__PORT__", str(ngx.port)))
        self.addCleanup(ngx.stop)
        ngx.start()
        c = Client(ngx.port)
        self.addCleanup(c.close)
        return c

    def post(self, c, body, i):
        s, b = c.webhook(body, wid(i))
        self.assertEqual(s, 200, f"id {i}: {b!r}")
        return json.loads(b)["status"]

    def test_every_id_is_found_in_shared_buckets(self):
        c = self.server()
        body = order_body(17, 200)

        for i in range(IDS):
            self.assertEqual(self.post(c, body, i), "queued", i)

        # an id is one 128-byte slot: the bound holds all of them
        z = c.status()["zone"]
        self.assertEqual(z["dedup_ids"], IDS)
        self.assertEqual(z["dedup_bytes"], IDS * 128)
        self.assertEqual(z["dedup_evicted"], 0)

        for i in range(IDS):
            self.assertEqual(self.post(c, body, i), "duplicate", i)

        # past the bound the oldest go; the newer ids in their buckets stay
        for i in range(IDS, IDS + 300):
            self.assertEqual(self.post(c, body, i), "queued", i)

        z = c.status()["zone"]
        self.assertEqual(z["dedup_ids"], BOUND // 128)
        self.assertEqual(z["dedup_evicted"], IDS + 300 - BOUND // 128)

        for i in range(IDS + 300 - BOUND // 128, IDS + 300):
            self.assertEqual(self.post(c, body, i), "duplicate", i)

        self.assertEqual(self.post(c, body, 0), "queued")
        self.assertEqual(c.status()["zone"]["queued_items"], IDS + 300 + 1)


if __name__ == "__main__":
    unittest.main()
