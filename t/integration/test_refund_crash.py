"""Refunds under kill -9, in every refund flow (issue 12: refund_flow
standalone and invoice, each with and without refund_payout, and
cash_sale, whose record is a Cash Refund): nginx with the
journal and the dispatcher books Shopify refunds into the NetSuite
simulator while the whole of nginx (master and workers) is killed with
SIGKILL at chosen moments and started again in the same prefix:

- NetSuite held: the write (the memo's PUT or transform) is slow; nginx
  dies while it is out, and the write lands at NetSuite after the crash;
- the answer lost: the write is applied and its answer never comes (the
  connection held); nginx dies waiting;
- refund_payout: nginx dies with the memo made and the Customer Refund
  not yet sent, and again with the Customer Refund applied and its
  answer lost;
- mid-queue: NetSuite slow, several refunds of the order queued, nginx
  dies with some booked, one on the way and the rest waiting;
- and, at the end, Shopify delivers one refund a second time.

After the journal's replay and the redeliveries, NetSuite must hold for
every Shopify refund exactly one Credit Memo (and, with refund_payout,
exactly one Customer Refund paying it out), linked to its source (the
Sales Order, or the invoice with refund_flow invoice), with the order's
currency, subsidiary, location, department and class (the customer's own
defaults differ in every one), the returned line restocked at the
order's location once and the line Shopify did not restock on the
no_restock item (never back in stock); and nginx no exception and
nothing left queued."""

import json
import os
import sys
import unittest

import test_dispatch as dispatch

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import simhelper  # noqa: E402

SHOP = "acme.myshopify.com"
SO_EID = dispatch.SO_EID
REFUND_ID = 929361464          # the fixture's; variants count up from it
ORDER_FIELDS = {"currency": {"id": "2"}, "subsidiary": {"id": "3"},
                "location": {"id": "4"}, "department": {"id": "5"},
                "class": {"id": "6"}}

# test_dispatch's nginx, with the journal (imported as a module, so that
# its test cases are not collected here a second time)
HTTP = dispatch.HTTP.replace(
    "order_edit_zone edits:4m;",
    "order_edit_zone edits:4m;\n    order_edit_journal __DIR__/journal "
    "fsync=batch;")


fixture = dispatch.fixture

# The green iPod returned (restock_type "return"), the red one refunded
# and kept (no_restock): 236.91 paid back.
MIXED = fixture("71-refund-mixed-restock.json").rstrip()


def refund(k):
    """Shopify's k-th refund of the order: the fixture under another
    refund id (its external id in NetSuite is shopify-acme-refund-<id>)."""
    rid = REFUND_ID + k
    return rid, MIXED.replace(str(REFUND_ID).encode(), str(rid).encode())


class RefundCrash(unittest.TestCase):
    """refund_flow standalone: PUT creditMemo/eid:<refund>, an upsert."""

    flow = "refund_flow standalone;"
    payout = False
    # the memo's write, as the simulator's faults match it
    write = ("PUT", "creditMemo")
    # the record a refund becomes
    rtype = "creditMemo"

    def setUp(self):
        self.sim = simhelper.Sim()
        self.addCleanup(self.sim.stop)
        self.sim.admin("POST", "faults", {"lost_response_mode": "timeout",
                                          "timeout_s": 3})
        self.sim.admin("PUT", "items", [
            {"id": "1001", "itemType": "inventoryItem"},
            {"id": "1002", "itemType": "inventoryItem"},
            {"id": "7001", "externalId": "shopify-refund_no_restock",
             "itemType": "otherChargeSaleItem"}])
        self.sim.admin("POST", "currencies",
                       {"2": {"symbol": "EUR", "precision": 2}})
        # what a standalone memo would take: none of the order's
        self.sim.admin("POST", "customers", dict(
            {k: {"id": "1"} for k in ORDER_FIELDS}, id="42"))
        self.so = self.sim.seed_order(
            SO_EID, lines=[
                {"item": {"id": "1001"}, "quantity": 1, "rate": 199},
                {"item": {"id": "1002"}, "quantity": 2, "rate": 24.5}],
            custbody_shopify_taxes_included=False, **ORDER_FIELDS)
        self.source = self.so["id"]
        self.seed_billing()

        # two workers, the TBA keys and the SKU map, as test_dispatch's
        self.ngx = dispatch.Dispatch.nginx_with_keys(self)
        flow = "concurrency 2; " + self.flow + (
            " refund_payout 55 7;" if self.payout else "")
        self.ngx.write_conf(HTTP.replace("__SIM__", str(self.sim.port))
                            .replace("__DIR__", self.ngx.dir)
                            .replace("__EXTRA__", flow)
                            .replace("__STORE__", ""))
        self.ngx.start()
        self.refunds = []          # Shopify refund ids sent
        self.wids = 0

    def seed_billing(self):
        """The order as billed before the refunds (nothing here)."""

    # ------------------------------------------------------------------
    # driving

    def post(self, k):
        rid, body = refund(k)
        self.wids += 1
        s, _, b = self.ngx.post_webhook("acme", body, "w%d" % self.wids,
                                        topic="refunds/create")
        self.assertEqual(s, 200, b)
        self.assertEqual(json.loads(b)["status"], "queued", b)
        if rid not in self.refunds:
            self.refunds.append(rid)

    # predicate() true within the time, or fail with the error log
    wait = dispatch.Dispatch.wait

    def records(self, rtype):
        return self.sim.admin("GET", "records/" + rtype)

    def memo(self, rid):
        return [m for m in self.records(self.rtype)
                if m.get("externalId") == "shopify-acme-refund-%d" % rid]

    def once(self, fault, method, path, **kw):
        self.sim.admin("POST", "faults", {"once": [
            dict(kw, fault=fault, method=method, path=path)]})

    def taken(self):
        """The one-shot faults have all hit their request."""
        return not self.sim.admin("GET", "faults")["once"]

    def crash_and_restart(self, landed):
        """kill -9 of the master and every worker; ``landed`` says when
        NetSuite has done what it was doing; then nginx starts again in
        the same prefix and replays its journal."""
        self.ngx.kill_all()
        self.wait(landed, "NetSuite to finish what nginx left")
        self.ngx.restart()
        # what was not acknowledged came back from the journal
        self.assertGreaterEqual(self.ngx.status()["journal"]["replayed"], 1)

    def drained(self):
        st = self.ngx.status()
        shop = st["stores"][SHOP]
        if shop["exceptions"]:
            self.fail("a refund was parked: %s"
                      % self.ngx.request("GET", "/exc")[2].decode())
        return shop["queue_depth"] == 0 and st["journal"]["pending"] == 0 \
            and self.sim.counters()["in_flight"] == 0 and self.done()

    def done(self):
        """Every refund sent has its memo (and its payout)."""
        for rid in self.refunds:
            if not self.memo(rid):
                return False
            if self.payout and not [
                    r for r in self.records("customerRefund")
                    if r["externalId"] == "shopify-acme-refund-%d-cr" % rid]:
                return False
        return True

    # ------------------------------------------------------------------
    # the crashes

    def test_kill_9_at_every_point_leaves_one_record_per_refund(self):
        # 1. NetSuite slow: nginx dies while the memo's write is out, the
        #    write lands at NetSuite afterwards
        self.once("latency", *self.write, ms=1500)
        self.post(0)
        self.wait(self.taken, "the write to be out at NetSuite")
        self.crash_and_restart(lambda: self.memo(self.refunds[0]))
        self.wait(self.drained, "refund 0 after the crash")
        self.verify("NetSuite held")

        # 2. the write applied, its answer lost: nginx dies waiting
        self.once("lost_response", *self.write)
        self.post(1)
        self.wait(lambda: self.taken() and self.memo(self.refunds[1]),
                  "the write applied")
        self.crash_and_restart(lambda: True)
        self.wait(self.drained, "refund 1 after the crash")
        self.verify("lost answer")

        if self.payout:
            # 3. the memo made, the payout not yet: nginx dies while it
            #    reads what the memo leaves unapplied
            self.once("latency", "GET", "unapplied", ms=1500)
            self.post(2)
            self.wait(lambda: self.taken() and self.memo(self.refunds[2]),
                      "the payout's read to be out")
            self.crash_and_restart(lambda: self.sim.counters()
                                   ["in_flight"] == 0)
            self.wait(self.drained, "refund 2 after the crash")
            self.verify("before the payout")

            # 4. the Customer Refund applied, its answer lost
            self.once("lost_response", "PUT", "customerRefund")
            self.post(3)
            self.wait(lambda: self.taken() and self.done(),
                      "the Customer Refund applied")
            self.crash_and_restart(lambda: True)
            self.wait(self.drained, "refund 3 after the crash")
            self.verify("payout answer lost")

        # 5. mid-queue: NetSuite slow, four refunds queued, nginx dies
        #    with some booked and the rest on the way or waiting
        self.sim.admin("POST", "faults", {"latency_ms": 150})
        first = len(self.refunds)
        for k in range(10, 14):
            self.post(k)
        batch = self.refunds[first:]
        self.wait(lambda: self.memo(batch[0]), "the first of the batch")
        self.assertFalse(all(self.memo(r) for r in batch),
                         "the batch was booked before the crash")
        self.crash_and_restart(lambda: self.sim.counters()["in_flight"] == 0)
        self.sim.admin("POST", "faults", {"latency_ms": 0})
        self.wait(self.drained, "the batch after the crash", 40)
        self.verify("mid-queue")

        # 6. Shopify delivers a refund a second time
        self.post(0)
        self.wait(lambda: self.ngx.status()["stores"][SHOP]["acked"] >= 1
                  and self.drained(), "the second delivery")
        self.verify("second delivery")

    # ------------------------------------------------------------------
    # what NetSuite must hold

    def verify(self, when):
        memos = self.records(self.rtype)
        by_eid = {}
        for m in memos:
            by_eid.setdefault(m.get("externalId"), []).append(m)
        want = {"shopify-acme-refund-%d" % r for r in self.refunds}
        self.assertEqual(set(by_eid), want, when)
        for eid, ms in by_eid.items():
            self.assertEqual(len(ms), 1, "%s: %d memos for %s"
                             % (when, len(ms), eid))
            m = ms[0]
            self.assertEqual(m["createdFrom"]["id"], self.source,
                             (when, eid))
            for f, ref in ORDER_FIELDS.items():
                self.assertEqual(m[f]["id"], ref["id"], (when, eid, f))
            self.assertEqual(m["entity"]["id"], "42")
            self.assertEqual(str(m["custbody_shopify_total"]), "236.91",
                             (when, eid))
            self.assertEqual(sorted((l["item"]["id"], l["quantity"])
                                    for l in m["item"]["items"]),
                             [("1001", 1), ("7001", 1)], (when, eid))
            self.check_money(when, m)
        # the returned iPod once per refund, at the order's location; the
        # kept one never
        self.assertEqual(self.sim.admin("GET", "inventory/locations"),
                         {"stock": {"4": {"1001": len(self.refunds)}}},
                         when)
        refunds = self.records("customerRefund")
        if not self.payout:
            self.assertEqual(refunds, [], when)
        else:
            by_eid = {}
            for r in refunds:
                # the memo's external id and "-cr"
                self.assertTrue(r["externalId"].endswith("-cr"), r)
                by_eid.setdefault(r["externalId"][:-3], []).append(r)
            self.assertEqual(set(by_eid), want, when)
            memo_ids = {m["externalId"]: m["id"] for m in memos}
            for eid, rs in by_eid.items():
                self.assertEqual(len(rs), 1, "%s: %d Customer Refunds for "
                                 "%s" % (when, len(rs), eid))
                r = rs[0]
                self.assertEqual(r["account"]["id"], "55")
                self.assertEqual(r["currency"]["id"], "2", (when, eid))
                self.assertEqual([a["doc"]["id"] for a in
                                  r["apply"]["items"]], [memo_ids[eid]])
        self.check_requests(when)
        shop = self.ngx.status()["stores"][SHOP]
        self.assertEqual(shop["exceptions"], 0,
                         (when, self.ngx.request("GET", "/exc")[2]))
        self.assertEqual(self.sim.counters().get("5xx", 0), 0, when)

    def check_requests(self, when):
        """An upsert may be sent again: nothing to count."""

    def check_money(self, when, m):
        """A standalone memo is an open credit (nothing applies it)."""
        self.assertEqual(m["unapplied"], m["total"], when)


class RefundCrashPayout(RefundCrash):
    """refund_flow standalone with refund_payout: each memo, an open
    credit, is paid out by one Customer Refund; a replay writes the memo
    again (an upsert) and finds nothing left to pay out."""

    payout = True

    def check_requests(self, when):
        c = self.sim.counters()["by_method_endpoint"]
        self.assertEqual(c.get("PUT customerRefund"), len(self.refunds),
                         when)

    def check_money(self, when, m):
        self.assertEqual(m["unapplied"], 0, when)
        self.assertEqual(m["status"]["refName"], "Fully Applied", when)


class RefundCrashPayoutScope(RefundCrashPayout):
    """refund_payout in an account whose external ids are unique across
    every transaction: the Customer Refund cannot share its memo's."""

    def seed_billing(self):
        self.sim.admin("POST", "preferences",
                       {"external_id_scope": "transaction"})


class RefundCrashInvoice(RefundCrash):
    """refund_flow invoice: the memo is the order's invoice transformed
    (looked for by external id first); the invoice still due, so the memo
    is applied to it."""

    flow = "refund_flow invoice;"
    write = ("POST", "!transform")
    # transforms NetSuite refused as duplicates (the memo was there)
    refused = 0

    def seed_billing(self):
        self.sim.admin("POST", "records/salesOrder/%s/status" % self.so["id"],
                       {"orderStatus": "G"})
        self.invoice = self.sim.admin("POST", "records/invoice", dict(
            ORDER_FIELDS, entity={"id": "42"},
            createdFrom={"id": self.so["id"]},
            item={"items": [
                {"item": {"id": "1001"}, "quantity": 1, "rate": 199},
                {"item": {"id": "1002"}, "quantity": 2, "rate": 24.5}]},
            **self.paid()))
        self.source = self.invoice["id"]

    def paid(self):
        return {}

    def check_requests(self, when):
        # a transform creates: one per refund, whatever happened; the
        # look-up by external id found the memo of every redelivery
        c = self.sim.counters()["by_method_endpoint"]
        self.assertEqual(c.get("POST invoice"),
                         len(self.refunds) + self.refused, when)
        if self.payout:
            self.assertEqual(c.get("PUT customerRefund"),
                             len(self.refunds), when)

    def test_a_transform_that_outlives_a_restart_is_found_again(self):
        # The transform is held 1.5 s and nginx restarts at once: the
        # memo is not there yet, so the transform goes again (held 4 s);
        # the first lands meanwhile, and NetSuite refuses the second:
        # "This record already exists".  The memo is looked up again and
        # the refund carries on (to its payout).
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "latency", "method": "POST", "path": "!transform",
             "ms": 1500},
            {"fault": "latency", "method": "POST", "path": "!transform",
             "ms": 4000}]})
        self.post(0)
        self.wait(lambda: len(self.sim.admin("GET", "faults")["once"]) == 1,
                  "the transform to be out at NetSuite")
        self.ngx.kill_all()
        self.ngx.restart()
        self.wait(self.taken, "the transform sent again")
        self.wait(self.drained, "the refund after the refused transform",
                  20)
        self.refused = 1
        self.verify("a transform refused as a duplicate")

    def check_money(self, when, m):
        # applied to the invoice while it was due, never beyond it
        self.assertEqual(m["applied"] + m["unapplied"], m["total"], when)
        applied = sum(a["amount"] for a in m["apply"]["items"]
                      if a["doc"]["id"] == self.invoice["id"])
        self.assertEqual(applied, m["applied"], when)


class RefundCrashInvoicePayout(RefundCrashInvoice):
    """refund_flow invoice with refund_payout: Shopify captured the
    payment, the invoice is paid, so each memo is an open credit paid out
    by one Customer Refund."""

    payout = True

    def paid(self):
        return {"amountPaid": 248}

    def check_money(self, when, m):
        self.assertEqual(m["unapplied"], 0, when)
        self.assertEqual(m["status"]["refName"], "Fully Applied", when)


class RefundCrashCashSale(RefundCrash):
    """refund_flow cash_sale: the order was paid by a cash sale, which is
    transformed into a cash refund (looked for by external id first), the
    money back from the cash sale's bank account; no Credit Memo, no
    Customer Refund."""

    flow = "refund_flow cash_sale;"
    write = ("POST", "!transform")
    rtype = "cashRefund"
    refused = 0

    def seed_billing(self):
        self.sim.admin("POST", "records/salesOrder/%s/status" % self.so["id"],
                       {"orderStatus": "G"})
        self.cash_sale = self.sim.admin("POST", "records/cashSale", dict(
            ORDER_FIELDS, entity={"id": "42"}, account={"id": "50"},
            createdFrom={"id": self.so["id"]},
            item={"items": [
                {"item": {"id": "1001"}, "quantity": 1, "rate": 199},
                {"item": {"id": "1002"}, "quantity": 2, "rate": 24.5}]}))
        self.source = self.cash_sale["id"]

    test_a_transform_that_outlives_a_restart_is_found_again = \
        RefundCrashInvoice.test_a_transform_that_outlives_a_restart_is_found_again

    def check_requests(self, when):
        c = self.sim.counters()["by_method_endpoint"]
        self.assertEqual(c.get("POST cashSale"),
                         len(self.refunds) + self.refused, when)
        self.assertEqual(self.records("creditMemo"), [], when)

    def check_money(self, when, m):
        # the money went back from the cash sale's bank account
        self.assertEqual(m["account"]["id"], "50", when)
        # Shopify's lines (tax as this store books it: none here, as on
        # the memos of the other flows)
        self.assertEqual(str(m["total"]), "223.50", when)


if __name__ == "__main__":
    unittest.main()
