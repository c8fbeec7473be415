"""The dispatcher end to end: nginx with the module delivers queued
webhooks to the NetSuite simulator (tools/netsuite-sim), OAuth-signed,
through the fulfilment lock, with retries and the exception queue."""

import json
import os
import re
import signal
import sys
import time
import unittest

from ngxctl import NginxServer, free_port, sign  # noqa: F401

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import simhelper  # noqa: E402

FIX = os.path.join(TOP, "t", "fixtures", "shopify")

SO_EID = "shopify-acme-450789469"
CM_EID = "shopify-acme-refund-929361464"


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


HTTP = """
    order_edit_zone edits:4m;
    order_edit_netsuite main {
        account 1234567_SB1;
        endpoint http://127.0.0.1:__SIM__;
        consumer_key_file __DIR__/ck;
        consumer_secret_file __DIR__/cs;
        token_id_file __DIR__/ti;
        token_secret_file __DIR__/ts;
        timeout 5s;
        retry_backoff 100ms 300ms;
        __EXTRA__
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map __DIR__/skus.map;
        __STORE__
    }
    order_edit_dispatch edits interval=50ms;
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location /exc { order_edit_exceptions edits; }
    }
"""


class Dispatch(unittest.TestCase):

    extra = "concurrency 4;"
    store = ""
    zone = "4m"

    def setUp(self):
        self.sim = simhelper.Sim()
        self.addCleanup(self.sim.stop)

        self.seed_as_written()

        self.ngx = self.nginx_with_keys()

        self.ngx.write_conf(HTTP.replace("__SIM__", str(self.sim.port))
                            .replace("__DIR__", self.ngx.dir)
                            .replace("__EXTRA__", self.extra)
                            .replace("__STORE__", self.store)
                            .replace("edits:4m", "edits:" + self.zone))
        self.ngx.start()

    def seed_as_written(self):
        """Orders seeded as the module writes them: with Shopify's tax
        kind, which a refund reads from its Sales Order."""
        seed = self.sim.seed_order
        self.sim.seed_order = lambda *a, **kw: seed(
            *a, **dict({"custbody_shopify_taxes_included": False}, **kw))

    def nginx_with_keys(self):
        """An nginx prefix holding the simulator's TBA keys and the SKU
        map, stopped at the end of the test."""
        ngx = NginxServer("", workers=2)
        self.addCleanup(ngx.stop)

        simhelper.write_key_files(ngx.dir)
        with open(os.path.join(ngx.dir, "skus.map"), "wb") as out:
            out.write(fixture("skus.map"))

        return ngx

    def post(self, name, wid, topic="orders/updated"):
        body = fixture(name).rstrip()
        s, _, b = self.ngx.post_webhook("acme", body, wid, topic=topic)
        self.assertEqual(s, 200, b)
        return json.loads(b)

    def order(self, eid=SO_EID):
        return self.sim.admin("GET", "records/salesOrder/eid:" + eid)

    def wait(self, predicate, what, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(0.05)
        self.fail("timed out waiting for " + what + "\n"
                  + self.ngx.error_log()[-3000:])

    def shop(self):
        return self.ngx.status()["stores"]["acme.myshopify.com"]

    def seed_orders(self, first, n):
        """n Sales Orders of Shopify orders first, first + 1, ..."""
        self.sim.admin("POST", "records/salesOrder", {"records": [
            {"externalId": "shopify-acme-%d" % (first + i),
             "entity": {"id": "42"},
             "item": {"items": [{"item": {"id": "1001"}, "quantity": 3,
                                 "rate": 199}]}}
            for i in range(n)]})

    def lines(self, rec):
        return sorted((l["item"]["id"], l["quantity"])
                      for l in rec["item"]["items"])

    def test_an_edit_reaches_the_sales_order(self):
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199},
            {"item": {"id": "9999"}, "quantity": 1, "rate": 5}])

        self.post("01-us-tax-exclusive.json", "d1")

        # replace=item: 1001 now 1, 9999 removed, 1002 added
        self.wait(lambda: self.lines(self.order()) == [("1001", 1),
                                                      ("1002", 2)],
                  "the sales order lines")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        shop = self.shop()
        self.assertEqual(shop["queue_depth"], 0)
        self.assertEqual(shop["exceptions"], 0)
        # every request was signed well enough for the simulator
        self.assertEqual(self.sim.counters().get("401", 0), 0)

    def test_an_edit_after_fulfilment_is_an_exception(self):
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199}])
        self.sim.admin("POST", "records/salesOrder/eid:%s/status" % SO_EID,
                       {"orderStatus": "F"})
        before = self.lines(self.order())

        self.post("01-us-tax-exclusive.json", "d2")

        exc = self.wait(lambda: json.loads(
            self.ngx.request("GET", "/exc")[2])["exceptions"],
            "the exception")
        self.assertEqual(exc[0]["reason"], "fulfilment_lock")
        self.assertIn("orderStatus F", exc[0]["netsuite_error"])
        self.assertIn("is past lock_after B", exc[0]["netsuite_error"])
        # the warehouse's order was not touched
        self.assertEqual(self.lines(self.order()), before)
        self.assertEqual(self.shop()["parked"], 1)

    # A kept-alive connection NetSuite drops after reading a request, with
    # no answer: libcurl would send the same signed request again by itself
    # on a new connection, and NetSuite refuses a spent nonce (401, a failed
    # login in its audit trail).  Every attempt must be signed afresh.
    def test_a_dropped_kept_alive_connection_never_replays_a_nonce(self):
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199}])
        # a write (a PATCH, whose body libcurl cannot rewind), then the
        # read-back GET, each on a reused connection (the first request
        # on a new connection is never hit), then the refund's PUT
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "close", "method": "PATCH", "count": 1},
            {"fault": "close", "method": "GET", "count": 1},
            {"fault": "close", "method": "PUT", "count": 1}]})

        self.post("01-us-tax-exclusive.json", "n1")
        self.wait(lambda: self.lines(self.order()) == [("1001", 1),
                                                      ("1002", 2)],
                  "the sales order lines")
        self.wait(lambda: self.shop()["acked"] == 1, "the edit's ack")

        self.post("28-refund-restock.json", "n2", topic="refunds/create")
        self.wait(lambda: self._credit_memo(), "the credit memo")
        self.wait(lambda: self.shop()["acked"] == 2, "the refund's ack")

        c = self.sim.counters()
        self.assertEqual(c["faults"]["close"], 3, c)
        self.assertEqual(c["nonce_replays"], 0, c)
        self.assertEqual(c["401"], 0, c)
        self.assertEqual(self.shop()["exceptions"], 0)
        # the read-back was sent again, signed afresh, and checked
        self.assertNotIn("could not be read back", self.ngx.error_log())

    def test_a_refund_becomes_a_credit_memo_with_shopifys_values(self):
        # fulfilled and billed: a refund goes through all the same
        self.sim.seed_order(SO_EID)
        self.sim.admin("POST", "records/salesOrder/eid:%s/status" % SO_EID,
                       {"orderStatus": "G"})

        self.post("28-refund-restock.json", "r1", topic="refunds/create")

        cm = self.wait(lambda: self._credit_memo(), "the credit memo")
        self.assertEqual(cm["entity"]["id"], "42")
        self.assertEqual([(l["item"]["id"], l["quantity"], str(l["amount"]))
                          for l in cm["item"]["items"]],
                         [("1001", 1, "199.00")])
        # Shopify's figures travel exactly; NetSuite's own total leaves the
        # tax to its tax engine (199.00 here): the read-back check, still
        # to come, is what will compare the two
        self.assertEqual(str(cm["custbody_shopify_total"]), "210.94")
        self.assertEqual(str(cm["custbody_shopify_tax"]), "11.94")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")

    def _credit_memo(self):
        r = self.sim.request("GET", "/_admin/records/creditMemo/eid:"
                             + CM_EID, sign=False)
        return r.json if r.status == 200 else None

    def test_a_5xx_is_retried_and_then_applied(self):
        self.sim.seed_order(SO_EID)
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "error", "status": 503, "method": "PATCH",
             "count": 2}]})

        self.post("01-us-tax-exclusive.json", "d4")

        self.wait(lambda: self.lines(self.order()) == [("1001", 1),
                                                      ("1002", 2)],
                  "the sales order lines")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertGreaterEqual(self.shop()["requeued"], 2)
        self.assertIn("will be retried", self.ngx.error_log())


    def test_an_older_snapshot_never_winds_the_order_back(self):
        self.sim.seed_order(SO_EID)
        new = fixture("01-us-tax-exclusive.json").rstrip()
        # the same order as it stood earlier (the normaliser checks a
        # snapshot's own totals, so only its time differs here)
        old = new.replace(b"2024-03-05T10:15:30-05:00",
                          b"2024-03-05T09:00:00-05:00")
        self.assertNotEqual(new, old)

        self.assertEqual(self.ngx.post_webhook("acme", new, "s1")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 1, "the first write")
        writes = self.order()["_sim"]["writes"] if "_sim" in self.order() \
            else None

        # Shopify's late retry of an earlier state, then the same state
        # again under another webhook id: neither is sent
        self.assertEqual(self.ngx.post_webhook("acme", old, "s0")[0], 200)
        self.assertEqual(self.ngx.post_webhook("acme", new, "s2")[0], 200)
        self.wait(lambda: self.shop()["stale"] == 2, "two stale snapshots")

        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        if writes is not None:
            self.assertEqual(self.order()["_sim"]["writes"], writes)
        self.assertEqual(self.shop()["acked"], 3)


    def test_silent_drift_after_the_write_is_a_discrepancy(self):
        self.sim.seed_order(SO_EID)
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "drift", "method": "PATCH", "path": "salesOrder"}]})

        self.post("01-us-tax-exclusive.json", "rb1")

        exc = self.wait(lambda: json.loads(
            self.ngx.request("GET", "/exc")[2])["exceptions"],
            "the discrepancy")
        self.assertEqual(exc[0]["reason"], "discrepancy")
        self.assertEqual(exc[0]["netsuite_error"],
                         "read back after the write: line 1 (item 1001) "
                         "has another quantity than was sent")
        # the write stands; people decide what to do about the drift
        self.assertEqual(self.lines(self.order()), [("1001", 2),
                                                    ("1002", 2)])


    def test_a_cancellation_is_applied_after_its_own_update(self):
        # Shopify fires orders/updated and orders/cancelled for a cancel,
        # with one updated_at: the update must not make the cancel stale
        self.sim.seed_order(SO_EID)
        cancelled = fixture("27-orders-cancelled.json").rstrip()
        update = fixture("01-us-tax-exclusive.json").rstrip().replace(
            b"2024-03-05T10:15:30-05:00", b"2024-03-06T09:00:05-05:00")

        self.assertEqual(self.ngx.post_webhook("acme", update, "c1")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 1, "the update")
        self.assertEqual(self.ngx.post_webhook(
            "acme", cancelled, "c2", topic="orders/cancelled")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 2, "the cancellation")

        self.assertEqual(self.shop()["stale"], 0)
        self.assertTrue(self.order().get("custbody_shopify_cancelled"))

    def burst(self):
        """Five snapshots of one order, 10:20 held at NetSuite while
        10:21, 10:22, 10:24 and 10:23 queue up; the shop once drained."""
        self.sim.seed_order(SO_EID)
        base = fixture("01-us-tax-exclusive.json").rstrip()

        def at(minute):
            return base.replace(b"2024-03-05T10:15:30-05:00",
                                b"2024-03-05T10:%02d:00-05:00" % minute)

        # hold NetSuite while the first edit is out and four more queue up
        self.sim.admin("POST", "faults", {"gate": True})
        self.assertEqual(self.ngx.post_webhook("acme", at(20), "b0")[0], 200)
        self.wait(lambda: self.shop()["in_flight"] == 1, "the first lease")
        for i, minute in enumerate((21, 22, 24, 23)):
            self.assertEqual(
                self.ngx.post_webhook("acme", at(minute), "b%d" % (i + 1))[0],
                200)
        self.sim.admin("POST", "faults", {"gate": False})

        self.wait(lambda: self.shop()["queue_depth"] == 0, "the burst")
        return self.shop()

    def test_a_burst_of_edits_is_one_write_of_the_newest(self):
        shop = self.burst()
        # the first, then the newest (10:24); 10:21 and 10:22 coalesced
        # into it, and 10:23, arriving after it, is stale
        self.assertEqual(shop["coalesced"], 2)
        self.assertEqual(shop["stale"], 1)
        self.assertEqual(shop["acked"], 5)
        # NetSuite saw two writes of the order, the newest last
        self.assertEqual(self.sim.counters()["writes"]["salesOrder"], 2)


class CoalesceBehindABacklog(Dispatch):
    """Three snapshots of each of many orders queued behind a held
    NetSuite: more than the coalescing walk looks at (1024).  Webhooks
    handed back untried (no room) are ready again behind that backlog,
    and an older snapshot leased meanwhile must still see the newest."""

    extra = "concurrency 1;"
    zone = "32m"
    orders = 800

    def test_a_backlog_of_bursts_is_one_write_per_order(self):
        first = 5100000000
        self.seed_orders(first, self.orders)
        self.sim.seed_order(SO_EID)
        seeded = self.sim.counters()["writes"].get("salesOrder", 0)
        base = fixture("01-us-tax-exclusive.json").rstrip()

        # one order holds the only slot: the rest queue up behind it
        self.sim.admin("POST", "faults", {"gate": True})
        self.assertEqual(self.ngx.post_webhook("acme", base, "z")[0], 200)
        self.wait(lambda: self.shop()["in_flight"] == 1, "the first lease")
        for i in range(self.orders):
            for k in range(3):
                body = base.replace(b"450789469", b"%d" % (first + i)) \
                    .replace(b"2024-03-05T10:15:30-05:00",
                             b"2024-03-05T10:%02d:30-05:00" % (15 + k))
                self.assertEqual(self.ngx.post_webhook(
                    "acme", body, "o%d-%d" % (i, k))[0], 200)
        self.sim.admin("POST", "faults", {"gate": False})

        self.wait(lambda: self.shop()["queue_depth"] == 0, "the backlog",
                  timeout=300.0)
        shop = self.shop()
        self.assertEqual(shop["acked"], 3 * self.orders + 1, shop)
        # one write per order (and the first one's): each of the newest
        writes = self.sim.counters()["writes"]["salesOrder"] - seeded
        self.assertEqual(writes, self.orders + 1, shop)
        self.assertEqual(shop["coalesced"] + shop["stale"], 2 * self.orders,
                         shop)


# the suite above assumes concurrency 4: it runs once, in Dispatch
for _name in unittest.TestLoader().getTestCaseNames(Dispatch):
    setattr(CoalesceBehindABacklog, _name, None)


class SlotsOfADeadWorker(Dispatch):
    """A dispatching worker killed with a request out never gives its
    slot of the account back itself.  With a concurrency of one, the
    account would take no request again until nginx restarts: the worker
    that replaces it returns the slot."""

    extra = "concurrency 1;"

    def account(self):
        return self.ngx.status()["netsuite"]["main"]

    def test_a_slot_held_by_a_killed_worker_comes_back(self):
        self.sim.seed_order(SO_EID)
        # the edit's lock read out, held at NetSuite: the only slot taken
        self.sim.admin("POST", "faults", {"gate": True})
        self.post("01-us-tax-exclusive.json", "k0")
        self.wait(lambda: self.sim.counters()["in_flight"] == 1,
                  "the lock read")
        self.assertEqual(self.account()["in_flight"], 1)

        pid = int(re.findall(r"\] (\d+)#\d+: order_edit: dispatching zone",
                             self.ngx.error_log())[-1])
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone([pid]))
        self.sim.admin("POST", "faults", {"gate": False})

        # the replay is sent on the returned slot, and gives it back
        self.wait(lambda: self.shop()["acked"] == 1, "the edit",
                  timeout=30)
        self.assertIn("1 NetSuite request slots of account \"main\" held "
                      "by exited workers returned", self.ngx.error_log())
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        self.wait(lambda: self.account()["in_flight"] == 0,
                  "the slot given back")


# the suite above assumes concurrency 4: it runs once, in Dispatch
for _name in unittest.TestLoader().getTestCaseNames(Dispatch):
    setattr(SlotsOfADeadWorker, _name, None)


class Governance(Dispatch):
    """NetSuite's pool is smaller than the configured concurrency (other
    integrations share it): the dispatcher backs off instead of storming
    it with 429s."""

    extra = "concurrency 8;"

    def setUp(self):
        super().setUp()
        self.sim.admin("POST", "concurrency", {"limit": 2})
        self.sim.admin("POST", "faults", {"latency_ms": 150})

    def test_over_the_accounts_limit_it_adapts(self):
        base = fixture("01-us-tax-exclusive.json").rstrip()
        n = 16
        for i in range(n):
            oid = str(450789469 + 1000 * (i + 1)).encode()
            self.sim.seed_order("shopify-acme-" + oid.decode())
            body = base.replace(b"450789469", oid)
            self.assertEqual(self.ngx.post_webhook("acme", body, "g%d" % i)[0],
                             200)

        self.wait(lambda: self.shop()["acked"] == n, "every order", 60)

        over = self.sim.counters()["over_limit"]
        # a fixed 8 at once against a pool of 2 answers most requests 429,
        # round after round; halving on the first ones keeps it to a few
        self.assertLess(over, n)
        self.assertIn('NetSuite "main" at 4 requests at once (was 8): the '
                      "account is over its limit", self.ngx.error_log())

        # the account as the status shows it, from any worker
        acct = self.ngx.status()["netsuite"]["main"]
        self.assertEqual(acct["concurrency"], 8)
        self.assertLessEqual(acct["limit"], 4)
        self.assertEqual(acct["in_flight"], 0)
        self.assertEqual(acct["over_limit"], over)
        self.assertGreaterEqual(acct["requests"], 3 * n)
        # 150 ms of simulated latency: the median bucket is 256 ms
        self.assertEqual(acct["latency_ms"]["p50"], 256)
        prom = self.ngx.request("GET", "/status?format=prometheus")[2]
        self.assertIn(b'order_edit_netsuite_limit{zone="edits",'
                      b'account="main"}', prom)

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


class MissingOrder(Dispatch):

    extra = "concurrency 4; on_missing exception;"

    def test_a_missing_sales_order_is_an_exception(self):
        self.post("01-us-tax-exclusive.json", "m1")

        exc = self.wait(lambda: json.loads(
            self.ngx.request("GET", "/exc")[2])["exceptions"],
            "the exception")
        self.assertEqual(exc[0]["reason"], "order_missing")

    # the inherited tests run with on_missing exception too
    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


class LookupBySuiteQL(Dispatch):
    """Another connector created the Sales Order under its own external
    id and put the Shopify order id in a custom body field: SuiteQL finds
    it, once, and every request then uses its internal id."""

    extra = "concurrency 4; lookup suiteql custbody_shopify_order_id;"

    OTHER_EID = "CONNECTOR-SO-77"

    def seed(self):
        return self.sim.seed_order(
            self.OTHER_EID, custbody_shopify_order_id="450789469",
            lines=[{"item": {"id": "1001"}, "quantity": 3, "rate": 199}])

    def other(self):
        return self.order(self.OTHER_EID)

    def test_the_order_is_found_by_its_shopify_id_and_edited(self):
        self.seed()
        new = fixture("01-us-tax-exclusive.json").rstrip()
        older = new.replace(b"2024-03-05T10:15:30-05:00",
                            b"2024-03-05T09:00:00-05:00")

        self.assertEqual(self.ngx.post_webhook("acme", older, "q1")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 1, "the first edit")
        self.assertEqual(self.ngx.post_webhook("acme", new, "q2")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 2, "the second edit")

        self.assertEqual(self.lines(self.other()), [("1001", 1),
                                                    ("1002", 2)])
        # its external id is the other connector's, untouched
        self.assertEqual(self.other()["externalId"], self.OTHER_EID)
        c = self.sim.counters()
        # found once, then remembered
        self.assertEqual(c["reads"]["suiteql"], 1)
        self.assertEqual(c["writes"]["salesOrder"], 2)
        self.assertEqual(c.get("401", 0), 0)
        self.assertEqual(self.shop()["exceptions"], 0)

    def test_a_refund_reads_the_customer_of_the_order_found(self):
        self.seed()
        self.post("28-refund-restock.json", "q3", topic="refunds/create")
        cm = self.wait(lambda: self._credit_memo(), "the credit memo")
        self.assertEqual(cm["entity"]["id"], "42")
        self.assertEqual(self.sim.counters()["reads"]["suiteql"], 1)

    def test_no_order_with_that_shopify_id_is_missing(self):
        self.sim.seed_order(self.OTHER_EID,
                            custbody_shopify_order_id="1")
        self.post("01-us-tax-exclusive.json", "q4")
        self.wait(lambda: self.sim.counters()["reads"].get("suiteql"),
                  "the lookup")
        # on_missing retry (the default): it waits for the connector
        self.wait(lambda: self.shop()["requeued"] >= 1, "a retry")
        self.assertEqual(self.shop()["acked"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)
        self.assertEqual(self.sim.counters()["writes"].get("salesOrder", 0),
                         0)

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


class Restarted(Dispatch):
    """What the zone knew is gone after a restart (no journal here): what
    NetSuite holds still says which snapshot was applied."""

    def test_a_late_retry_after_a_restart_never_winds_the_order_back(self):
        self.sim.seed_order(SO_EID)
        new = fixture("01-us-tax-exclusive.json").rstrip()
        old = new.replace(b"2024-03-05T10:15:30-05:00",
                          b"2024-03-05T09:00:00-05:00")

        self.assertEqual(self.ngx.post_webhook("acme", new, "w2")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 1, "the newest snapshot")
        writes = self.sim.counters()["writes"]["salesOrder"]

        self.ngx.kill_all()
        self.ngx.restart()

        # Shopify's late retry of the earlier state, and a replay of the
        # same state (an ack lost with the crash): neither is written
        self.assertEqual(self.ngx.post_webhook("acme", old, "w1")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 1, "the late retry")
        self.assertEqual(self.ngx.post_webhook("acme", new, "w2")[0], 200)
        self.wait(lambda: self.shop()["acked"] == 2, "the replay")
        self.assertEqual(self.shop()["stale"], 2)

        self.assertEqual(self.sim.counters()["writes"]["salesOrder"], writes)
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        self.assertIn("NetSuite holds order 450789469", self.ngx.error_log())

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


class RestletMode(Dispatch):
    """mode restlet: the whole normalised document goes to the shop's
    RESTlet, which applies it on NetSuite's side (the simulator plays the
    script)."""

    # the module does not read the order itself: the store says it
    store = "taxes_included off;"

    @property
    def extra(self):
        return ("concurrency 4; mode restlet; restlet_url "
                "http://127.0.0.1:%d/app/site/hosting/restlet.nl"
                "?script=1&deploy=1;" % self.sim.port)

    def test_an_edit_reaches_the_sales_order_through_the_restlet(self):
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199},
            {"item": {"id": "9999"}, "quantity": 1, "rate": 5}])

        self.post("01-us-tax-exclusive.json", "t1")

        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        c = self.sim.counters()
        self.assertEqual(c["writes"].get("restlet"), 1)
        self.assertEqual(c.get("401", 0), 0)
        self.assertEqual(self.shop()["exceptions"], 0)

    def test_a_refund_becomes_a_credit_memo_through_the_restlet(self):
        self.sim.seed_order(SO_EID)
        self.post("28-refund-restock.json", "t2", topic="refunds/create")
        cm = self.wait(lambda: self._credit_memo(), "the credit memo")
        self.assertEqual([(l["item"]["id"], l["quantity"], str(l["amount"]))
                          for l in cm["item"]["items"]],
                         [("1001", 1, "199.00")])
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")

    def exceptions(self):
        return json.loads(self.ngx.request("GET", "/exc")[2])["exceptions"]

    def test_the_restlets_discrepancies_are_an_exception(self):
        # a script on save adds to the first line: the RESTlet reports
        # NetSuite's total against the document's
        self.sim.seed_order(SO_EID)
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "drift", "method": "POST", "path": "restlet"}]})
        self.post("01-us-tax-exclusive.json", "t3")

        exc = self.wait(self.exceptions, "the discrepancy")
        self.assertEqual(exc[0]["reason"], "discrepancy")
        self.assertEqual(exc[0]["netsuite_error"],
                         "sales_order total: document 272.87, "
                         "NetSuite 471.87")
        # the write stands; people decide what to do about the drift
        self.assertEqual(self.lines(self.order()), [("1001", 2),
                                                    ("1002", 2)])
        self.assertEqual(self.shop()["acked"], 0)

    def test_an_order_past_lock_after_is_a_fulfilment_lock(self):
        self.sim.seed_order(SO_EID)
        self.sim.admin("POST", "orders/eid:%s/status" % SO_EID,
                       {"orderStatus": "D"})

        self.post("01-us-tax-exclusive.json", "t4")

        exc = self.wait(self.exceptions, "the fulfilment lock")
        self.assertEqual(exc[0]["reason"], "fulfilment_lock")
        self.assertIn("ORDER_LOCKED", exc[0]["netsuite_error"])
        self.assertEqual(self.lines(self.order()), [("100", 2)])

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


class RestletOptions(RestletMode):
    """The NetSuite block's lock_after, on_missing and refund_flow reach
    the script as the body's "options"."""

    @property
    def extra(self):
        return RestletMode.extra.fget(self) + (
            " lock_after A; on_missing create; refund_flow invoice;")

    def test_lock_after_and_on_missing_are_the_blocks(self):
        # Pending Fulfillment: the script's default (B) would apply it, the
        # block's lock_after (A) locks it
        self.sim.seed_order(SO_EID)
        self.post("01-us-tax-exclusive.json", "o1")
        exc = self.wait(self.exceptions, "the fulfilment lock")
        self.assertEqual(exc[0]["reason"], "fulfilment_lock")
        self.assertIn("past A", exc[0]["netsuite_error"])
        self.assertEqual(self.lines(self.order()), [("100", 2)])

        # no such order: the script creates it (on_missing create)
        other = fixture("01-us-tax-exclusive.json").rstrip().replace(
            b"450789469", b"450789470")
        s, _, b = self.ngx.post_webhook("acme", other, "o2")
        self.assertEqual(s, 200, b)
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.lines(self.order("shopify-acme-450789470")),
                         [("1001", 1), ("1002", 2)])
        self.assertEqual(len(self.exceptions()), 1)

    def test_refund_flow_is_the_blocks(self):
        # the script's parameter says standalone, the block invoice: the
        # memo is made from the order's invoice
        so = self.sim.seed_order(SO_EID)
        inv = self.sim.admin("POST", "records/invoice", {
            "entity": {"id": "42"}, "createdFrom": {"id": so["id"]},
            "item": {"items": [{"item": {"id": "1001"}, "quantity": 1,
                                "rate": 199}]}})
        self.post("28-refund-restock.json", "o3", topic="refunds/create")
        cm = self.wait(lambda: self._credit_memo(), "the credit memo")
        self.assertEqual(cm["createdFrom"]["id"], inv["id"])
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")

    test_the_restlets_discrepancies_are_an_exception = None
    test_an_order_past_lock_after_is_a_fulfilment_lock = None
    test_an_edit_reaches_the_sales_order_through_the_restlet = None
    test_a_refund_becomes_a_credit_memo_through_the_restlet = None


class RestletMissing(RestletMode):
    """RCRD_DSNT_EXIST from the script follows on_missing as REST's 404
    does."""

    @property
    def extra(self):
        return RestletMode.extra.fget(self) + " on_missing exception;"

    def test_a_missing_order_follows_on_missing(self):
        self.post("01-us-tax-exclusive.json", "m1")
        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "order_missing")

    test_the_restlets_discrepancies_are_an_exception = None
    test_an_order_past_lock_after_is_a_fulfilment_lock = None
    test_an_edit_reaches_the_sales_order_through_the_restlet = None
    test_a_refund_becomes_a_credit_memo_through_the_restlet = None


class Resilience(Dispatch):
    """The dispatching worker dies, or nginx reloads, while a request is
    out at NetSuite: the webhook is delivered, and once in effect."""

    extra = "concurrency 4;"

    def dispatcher_pid(self):
        import re
        pids = re.findall(r"\[notice\] (\d+)#\d+: order_edit: dispatching "
                          r'zone "edits" in this worker', self.ngx.error_log())
        live = set(self.ngx.worker_pids())
        pids = [int(p) for p in pids if int(p) in live]
        self.assertEqual(len(pids), 1, pids)
        return pids[0]

    def hold_netsuite(self):
        self.sim.admin("POST", "faults", {"gate": True})

    def wait_in_flight(self):
        self.wait(lambda: self.sim.counters()["in_flight"] >= 1,
                  "a request held at NetSuite")

    def credit_memos(self):
        r = self.sim.request("GET", "/_admin/records/creditMemo", sign=False)
        self.assertEqual(r.status, 200)
        return r.json

    def test_a_worker_killed_mid_request_makes_no_second_credit_memo(self):
        self.sim.seed_order(SO_EID)
        self.hold_netsuite()
        self.post("28-refund-restock.json", "k1", topic="refunds/create")
        self.wait_in_flight()

        victim = self.dispatcher_pid()
        os.kill(victim, 9)
        self.assertTrue(self.ngx.wait_gone([victim]))

        # the held request goes on at NetSuite without anyone to answer;
        # the new worker takes the lease back and sends it again
        self.sim.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.shop()["acked"] == 1, "the ack", 30)

        cm = self._credit_memo()
        self.assertEqual(str(cm["custbody_shopify_total"]), "210.94")
        self.assertEqual(len(self.credit_memos()), 1)
        self.assertGreaterEqual(self.shop()["lease_reclaimed"], 1)
        self.assertEqual(self.shop()["exceptions"], 0)

    def test_a_reload_mid_request_delivers_the_edit(self):
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199}])
        self.hold_netsuite()
        self.post("01-us-tax-exclusive.json", "h1")
        self.wait_in_flight()

        old = self.dispatcher_pid()
        self.assertTrue(self._hup())

        self.sim.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.shop()["acked"] == 1, "the ack", 30)
        self.assertTrue(self.ngx.wait_gone([old], 30))

        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        self.assertEqual(self.shop()["queue_depth"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)

    def _hup(self):
        before = set(self.ngx.worker_pids())
        os.kill(self.ngx.master_pid(), 1)
        self.wait(lambda: set(self.ngx.worker_pids()) - before,
                  "new workers")
        return True

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


class GracefulStop(Resilience):
    """A reload (or nginx -s quit) while a request is out at NetSuite: the
    old worker waits at most shutdown_timeout, not the request's own
    timeout, and hands the webhook back; the new worker delivers it,
    once in effect."""

    shutdown = "1s"
    ns_timeout = "5s"

    def setUp(self):
        self.sim = simhelper.Sim()
        self.addCleanup(self.sim.stop)
        self.seed_as_written()

        self.ngx = self.nginx_with_keys()
        self.ngx.write_conf(
            HTTP.replace("__SIM__", str(self.sim.port))
                .replace("__DIR__", self.ngx.dir)
                .replace("__EXTRA__", self.extra)
                .replace("__STORE__", self.store)
                .replace("interval=50ms;",
                         "interval=50ms shutdown_timeout=%s;"
                         % self.shutdown)
                .replace("timeout 5s;", "timeout %s;" % self.ns_timeout))
        self.ngx.start()

    def post_other_orders(self, ns):
        """Webhooks w<n> of other orders, each seeded in NetSuite."""
        base = fixture("01-us-tax-exclusive.json").rstrip()
        for i in ns:
            oid = str(450789469 + 1000 * i)
            self.sim.seed_order("shopify-acme-" + oid)
            body = base.replace(b"450789469", oid.encode())
            self.assertEqual(self.ngx.post_webhook("acme", body,
                                                   "w%d" % i)[0], 200)

    def test_a_reload_waits_at_most_shutdown_timeout(self):
        self.sim.seed_order(SO_EID)
        self.hold_netsuite()
        self.post("28-refund-restock.json", "q1", topic="refunds/create")
        self.wait_in_flight()

        old = self.dispatcher_pid()
        t0 = time.monotonic()
        self.assertTrue(self._hup())
        self.assertTrue(self.ngx.wait_gone([old], 10))
        gone = time.monotonic() - t0

        # 1 s, not the 5 s of "timeout 5s" (the request is still held)
        self.assertLess(gone, 3.5, "the old worker took %.1f s" % gone)
        self.assertIn("shutdown_timeout: 1 NetSuite requests of zone "
                      "\"edits\" cancelled", self.ngx.error_log())

        # the new worker sends it again (held too), then NetSuite answers
        self.wait(lambda: self.sim.counters()["in_flight"] >= 1,
                  "the new worker's request")
        self.sim.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.shop()["acked"] == 1, "the ack", 30)

        self.assertEqual(len(self.credit_memos()), 1)
        self.assertEqual(self.shop()["queue_depth"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)

    test_a_worker_killed_mid_request_makes_no_second_credit_memo = None
    test_a_reload_mid_request_delivers_the_edit = None


class GracefulStopSpares(GracefulStop):
    """A reload while webhooks wait for the account's one slot, parsed:
    they have sent nothing, so the old worker hands them back at once,
    and shutdown_timeout cancels only the request out at NetSuite."""

    extra = "concurrency 1;"

    def test_webhooks_waiting_for_a_slot_go_back_at_once(self):
        self.sim.seed_order(SO_EID)
        self.hold_netsuite()
        self.post("01-us-tax-exclusive.json", "w0")
        self.wait_in_flight()

        # two more orders: leased again once 100 ms old, parsed, waiting
        self.post_other_orders((1, 2))
        self.wait(lambda: self.shop()["leased"] >= 5
                  and self.shop()["in_flight"] == 3,
                  "the two waiting for the slot")
        time.sleep(0.5)

        old = self.dispatcher_pid()
        self.assertTrue(self._hup())
        self.assertTrue(self.ngx.wait_gone([old], 10))

        log = self.ngx.error_log()
        self.assertIn('order_edit: 2 webhooks of zone "edits" waiting for '
                      "a NetSuite slot handed back", log)
        self.assertIn("shutdown_timeout: 1 NetSuite requests of zone "
                      "\"edits\" cancelled", log)

        self.sim.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.shop()["acked"] == 3, "the three acks", 30)
        self.assertEqual(self.shop()["queue_depth"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)

    test_a_reload_waits_at_most_shutdown_timeout = None


class GracefulStopLineOnly(GracefulStop):
    """A worker that goes away with webhooks parsed and waiting in line for
    the account's slot, which another process holds (the worker before
    it, still finishing its request after a reload): it has nothing out
    and no timer but the dispatcher's tick, which must not be cancelable
    then, or nginx would let it exit without handing them back, and they
    would wait out their lease (5 min)."""

    extra = "concurrency 1;"
    # the first worker's request outlives both reloads, however slow
    shutdown = "60s"
    ns_timeout = "60s"

    def newest_dispatcher(self):
        return int(re.findall(r"\[notice\] (\d+)#\d+: order_edit: "
                              r'dispatching zone "edits" in this worker',
                              self.ngx.error_log())[-1])

    def test_a_line_with_the_slot_elsewhere_goes_back(self):
        self.sim.seed_order(SO_EID)
        self.hold_netsuite()
        self.post("01-us-tax-exclusive.json", "w0")
        self.wait_in_flight()

        # the old worker keeps w0's request, and so the account's slot
        old = self.dispatcher_pid()
        self.assertTrue(self._hup())
        self.wait(lambda: self.newest_dispatcher() != old,
                  "the next dispatcher")
        mid = self.newest_dispatcher()

        # three more orders, leased by the next dispatcher once 100 ms
        # old, parsed, waiting for the slot the old worker holds
        self.post_other_orders((1, 2, 3))
        self.wait(lambda: self.shop()["in_flight"] == 4,
                  "the three waiting for the slot")
        time.sleep(0.5)

        # it goes away in turn, the slot still held by the first
        self.assertTrue(self._hup())
        self.assertTrue(self.ngx.wait_gone([mid], 10))
        self.assertIn(old, self.ngx.worker_pids())
        self.assertIn('order_edit: 3 webhooks of zone "edits" waiting for '
                      "a NetSuite slot handed back", self.ngx.error_log())

        # delivered as soon as NetSuite answers, not a lease later
        self.sim.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.shop()["acked"] == 4, "the four acks", 30)
        self.assertEqual(self.shop()["queue_depth"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)

    test_a_reload_waits_at_most_shutdown_timeout = None


class GracefulQuit(GracefulStop):
    """nginx -s quit with a request out at NetSuite: nginx is gone in
    shutdown_timeout, and the journal gives the webhook to the next start,
    which delivers it, once in effect."""

    def setUp(self):
        self.journal_dir = None
        super().setUp()

    def nginx_with_keys(self):
        ngx = super().nginx_with_keys()
        self.journal_dir = os.path.join(ngx.dir, "journal")
        write_conf = ngx.write_conf
        ngx.write_conf = lambda block: write_conf(block.replace(
            "order_edit_zone edits:4m;",
            "order_edit_zone edits:4m;\n    order_edit_journal %s "
            "fsync=batch;" % self.journal_dir))
        return ngx

    def test_a_quit_waits_at_most_shutdown_timeout(self):
        self.sim.seed_order(SO_EID)
        self.hold_netsuite()
        self.post("28-refund-restock.json", "q2", topic="refunds/create")
        self.wait_in_flight()

        master = self.ngx.master_pid()
        t0 = time.monotonic()
        os.kill(master, signal.SIGQUIT)
        self.assertTrue(self.ngx.wait_gone([master], 10))
        gone = time.monotonic() - t0
        self.assertLess(gone, 3.5, "nginx took %.1f s to quit" % gone)
        self.assertIn("shutdown_timeout: 1 NetSuite requests of zone "
                      "\"edits\" cancelled", self.ngx.error_log())

        # the next start replays it from the journal and delivers it
        self.ngx.restart()
        self.wait(lambda: self.sim.counters()["in_flight"] >= 2,
                  "the request sent again after the restart")
        self.sim.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.shop()["acked"] == 1, "the ack", 30)
        self.assertEqual(len(self.credit_memos()), 1)
        self.assertEqual(self.shop()["exceptions"], 0)

    test_a_reload_waits_at_most_shutdown_timeout = None


EGRESS = """
    order_edit_zone edits:4m;
    order_edit_netsuite main {
        account 1234567_SB1;
        endpoint http://127.0.0.1:__EGRESS__;
        sign_as https://1234567-sb1.suitetalk.api.netsuite.com;
        consumer_key_file __DIR__/ck;
        consumer_secret_file __DIR__/cs;
        token_id_file __DIR__/ti;
        token_secret_file __DIR__/ts;
        retry_backoff 100ms 300ms;
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map __DIR__/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
    }
    # the egress proxy: the team's own access log (and mTLS, limits...)
    server {
        listen 127.0.0.1:__EGRESS__;
        access_log __DIR__/logs/egress.log;
        location / {
            proxy_pass http://127.0.0.1:__SIM__;
        }
    }
"""


class EgressProxy(Dispatch):
    """NetSuite traffic through the team's own nginx location: the
    module connects to the local proxy but signs for NetSuite's URL (the
    simulator plays NetSuite's host with --base-url)."""

    def setUp(self):
        self.sim = simhelper.Sim(
            "--base-url", "https://1234567-sb1.suitetalk.api.netsuite.com")
        self.addCleanup(self.sim.stop)

        self.ngx = self.nginx_with_keys()

        egress = free_port()
        self.ngx.write_conf(EGRESS.replace("__SIM__", str(self.sim.port))
                            .replace("__EGRESS__", str(egress))
                            .replace("__DIR__", self.ngx.dir))
        self.ngx.start()

    def test_an_edit_goes_through_the_proxy_signed_for_netsuite(self):
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199}])

        self.post("01-us-tax-exclusive.json", "x1")

        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        self.assertEqual(self.sim.counters().get("401", 0), 0)
        with open(os.path.join(self.ngx.dir, "logs", "egress.log")) as f:
            log = f.read()
        self.assertIn("PATCH /services/rest/record/v1/salesOrder/eid:"
                      + SO_EID + "?replace=item", log)

    test_an_edit_reaches_the_sales_order = None
    test_an_edit_after_fulfilment_is_an_exception = None
    test_a_refund_becomes_a_credit_memo_with_shopifys_values = None
    test_a_5xx_is_retried_and_then_applied = None
    test_an_older_snapshot_never_winds_the_order_back = None
    test_silent_drift_after_the_write_is_a_discrepancy = None
    test_a_burst_of_edits_is_one_write_of_the_newest = None
    test_a_cancellation_is_applied_after_its_own_update = None
    test_a_dropped_kept_alive_connection_never_replays_a_nonce = None


if __name__ == "__main__":
    unittest.main()
