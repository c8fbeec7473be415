"""Issue 17, the coalescer's look-up: the other queued snapshots of an
order come from the shop's order index, not from a bounded walk of the
ready tree (1024 nodes, under the zone's lock), so a backlog of other
orders hides none of them.  op=same asks the zone what the dispatcher's
same_order() finds; op=check that the index agrees with the lists."""

import json
import unittest

from ngxctl import NginxServer

import test_queue_hardening as qh

SHOP = qh.SHOP


def snapshot(order_id, minute):
    """An orders/updated payload of the order, updated at that minute."""
    return (f'{{"id":{order_id},"name":"#{order_id}","currency":"USD",'
            f'"line_items":[],"updated_at":"2026-11-26T10:{minute:02d}:00Z"'
            f'}}').encode()


class SameOrder(unittest.TestCase):

    def server(self, zone="8m"):
        http = qh.HTTP.replace("__ZONE__", zone)
        ngx = NginxServer(http)
        ngx.write_conf(http.replace("__PORT__", str(ngx.port)))
        self.addCleanup(ngx.stop)
        ngx.start()
        c = qh.Client(ngx.port)
        self.addCleanup(c.close)
        return c

    def queue(self, c, body, wid, topic="orders/updated"):
        s, b = c.webhook(body, wid, topic)
        self.assertEqual(s, 200, b)
        self.assertEqual(json.loads(b)["status"], "queued", b)
        return json.loads(b)

    def lease(self, c):
        s, b = c.q("op=lease")
        self.assertEqual(s, 200)
        self.assertIsNotNone(b["item"])
        return b["item"]

    def same(self, c, it, order=None, max_=16):
        s, b = c.q(f"op=same&shop={SHOP}&id={it['id']}&token={it['token']}"
                   f"&order={order or it['order_id']}&max={max_}")
        self.assertEqual(s, 200, b)
        return b["same"]

    def check(self, c):
        s, b = c.q("op=check")
        self.assertEqual(s, 200, b)
        self.assertTrue(b["ok"])
        return b["indexed"]

    def test_a_snapshot_behind_a_backlog_of_other_orders_is_found(self):
        # the old walk looked at the first 1024 ready webhooks of the
        # shop: the order's next snapshot behind 1100 others was missed,
        # and the burst was written twice instead of coalesced
        c = self.server()
        self.queue(c, snapshot(42, 1), "first")

        for i in range(1100):
            self.queue(c, snapshot(1000 + i, 1), f"other-{i:05d}")

        self.queue(c, snapshot(42, 2), "second")
        self.assertEqual(self.check(c), 1102)

        first = self.lease(c)
        self.assertEqual(first["order_id"], 42)
        self.assertEqual(first["webhook_id"], "first")

        # the second came last: 1102 by id
        self.assertEqual(self.same(c, first), [1102])
        self.assertEqual(self.check(c), 1102)

    def test_ready_then_delayed_never_leased_parked_nor_other_topics(self):
        c = self.server("1m")
        ids = {}

        for wid, topic in (("a1", "orders/updated"), ("a2", "orders/updated"),
                           ("a3", "orders/updated"), ("x", "orders/updated"),
                           ("a4", "orders/cancelled"), ("a5", "orders/updated")):
            order = 8 if wid == "x" else 7
            self.queue(c, snapshot(order, len(ids)), wid, topic)
            ids[wid] = len(ids) + 1

        self.assertEqual(self.check(c), 6)

        a1 = self.lease(c)
        a2 = self.lease(c)
        self.assertEqual((a1["id"], a2["id"]), (ids["a1"], ids["a2"]))

        # a2 waits out a retry delay; a3 is leased: the coalescer leaves
        # a leased one alone, and a4, a cancellation, is no snapshot
        # to coalesce into
        s, _ = c.q(f"op=requeue&shop={SHOP}&id={a2['id']}"
                   f"&token={a2['token']}&delay=600000")
        self.assertEqual(s, 200)
        a3 = self.lease(c)
        self.assertEqual(a3["id"], ids["a3"])
        self.check(c)

        self.assertEqual(self.same(c, a1), [ids["a5"], ids["a2"]])
        self.assertEqual(self.same(c, a1, max_=1), [ids["a5"]])
        self.assertEqual(self.same(c, a3), [ids["a5"], ids["a2"]])
        self.assertEqual(self.same(c, a1, order=8), [ids["x"]])
        self.assertEqual(self.same(c, a1, order=9), [])

        # parked is out of the coalescer's reach, still in the index
        s, _ = c.q(f"op=park&shop={SHOP}&id={a3['id']}&token={a3['token']}"
                   f"&reason=test")
        self.assertEqual(s, 200)
        self.assertEqual(self.check(c), 6)
        self.assertEqual(self.same(c, a1), [ids["a5"], ids["a2"]])

        # acked: out of the index, and of every answer
        s, _ = c.q(f"op=ack&shop={SHOP}&id={a1['id']}&token={a1['token']}")
        self.assertEqual(s, 200)
        self.assertEqual(self.check(c), 5)

        # a lease that expires comes back ready, in its place by id
        x = self.lease(c)
        self.assertEqual(x["id"], ids["x"])
        a4 = self.lease(c)
        s, _ = c.q(f"op=requeue&shop={SHOP}&id={a4['id']}"
                   f"&token={a4['token']}")
        self.assertEqual(s, 200)
        self.assertEqual(self.same(c, x, order=7), [ids["a5"], ids["a2"]])
        self.assertEqual(self.check(c), 5)


if __name__ == "__main__":
    unittest.main()
