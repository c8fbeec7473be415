"""Reconciliation end to end: Shopify (tools/shopify-sim) drops some of
its webhooks, and every order and refund still reaches NetSuite
(tools/netsuite-sim) exactly once, within one reconciliation period,
through the module's catch-up from the Admin API; a 429 is honoured."""

import calendar
import json
import os
import random
import re
import sys
import time
import unittest

import shopmodel

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import shopifysimhelper  # noqa: E402
import simhelper  # noqa: E402
import test_dispatch  # noqa: E402

SHOP = "acme.myshopify.com"
TOKEN = "shpat_reconcile_test"
SECRET = "acme"
INTERVAL = 4          # seconds: the test's reconciliation period

# OE_RECONCILE_ORDERS: more orders (the "few hundred"), by hand;
# pages of a sixth of them, Shopify's 2 requests a second permitting
ORDERS = int(os.environ.get("OE_RECONCILE_ORDERS", 36))
PAGE = max(7, ORDERS // 6)

# test_dispatch's nginx (NetSuite block, store, dispatcher, locations),
# its store reconciled from the Shopify simulator
STORE = """
        reconcile token_file=__DIR__/shopify.token
                  url=http://127.0.0.1:__SHOPIFY__ api_version=2024-10
                  interval=__INTERVAL__s window=1h overlap=2s
                  page_size=__PAGE__ queue_max=__QMAX__;
"""


class Base(unittest.TestCase):

    journal = ""
    queue_max = 40

    def setUp(self):
        self.ns = simhelper.Sim()
        self.addCleanup(self.ns.stop)

        self.ngx = test_dispatch.Dispatch.nginx_with_keys(self)

        self.shopify = shopifysimhelper.ShopifySim()
        self.addCleanup(self.shopify.stop)
        self.shopify.ctl("POST", "shops", {
            "domain": SHOP, "access_token": TOKEN, "secret": SECRET,
            "webhook_url": "http://127.0.0.1:%d/wh" % self.ngx.port})

        with open(os.path.join(self.ngx.dir, "shopify.token"), "w") as f:
            f.write(TOKEN + "\n")

    def conf(self):
        http = (test_dispatch.HTTP
                .replace("__STORE__", STORE)
                .replace("__EXTRA__", "concurrency 4;")
                .replace("order_edit_dispatch edits interval=50ms;",
                         "order_edit_dispatch edits interval=50ms;\n"
                         + self.journal))
        return (http.replace("__SIM__", str(self.ns.port))
                    .replace("__SHOPIFY__", str(self.shopify.port))
                    .replace("__DIR__", self.ngx.dir)
                    .replace("__INTERVAL__", str(INTERVAL))
                    .replace("__PAGE__", str(PAGE))
                    .replace("__QMAX__", str(self.queue_max)))

    def start_nginx(self):
        self.ngx.write_conf(self.conf())
        self.ngx.start()

    def runs(self):
        """The first page of each run, in order."""
        return [r["path"] for r in self.shopify.ctl(
            "GET", "shops/%s/requests" % SHOP)["requests"]
            if "updated_at_min" in r["path"]]

    # ---- Shopify's side ---------------------------------------------

    def create(self, oid, qty, ns_qty=None):
        """The order in Shopify, and as another connector put it in
        NetSuite (ns_qty: different, so that only a write makes it so)."""
        self.ns.seed_order("shopify-acme-%d" % oid, lines=[
            {"item": {"id": "1002"}, "quantity": ns_qty or qty,
             "rate": 10}],
            custbody_shopify_taxes_included=False)
        o = shopmodel.order(oid, qty)
        self.shopify.ctl("POST", "shops/%s/orders" % SHOP, o)

    def edit(self, oid, qty):
        self.shopify.ctl("PUT", "shops/%s/orders/%d" % (SHOP, oid),
                         {"order": shopmodel.order_changes(oid, qty),
                          "topics": ["orders/updated"]})

    def refund(self, oid, qty, n):
        return self.shopify.ctl(
            "POST", "shops/%s/orders/%d/refunds" % (SHOP, oid),
            {"refund": shopmodel.refund(oid, n),
             "order": shopmodel.order_changes(oid, qty, n)})["refund"]

    # ---- NetSuite's side --------------------------------------------

    def netsuite(self):
        return self.ns.admin("GET", "state")

    def converged(self, want_qty, want_refunds):
        """(everything as wanted, the credit memos, what differs)"""
        st = self.netsuite()
        qty = {}
        for so in st["salesOrder"]:
            lines = so["item"]["items"]
            qty[so["externalId"]] = sorted(
                (str(l["item"]["id"]), l["quantity"]) for l in lines)
        memos = [cm["externalId"] for cm in st["creditMemo"]]
        diff = ["%d: %s, not %d" % (oid, qty.get("shopify-acme-%d" % oid),
                                    q)
                for oid, q in sorted(want_qty.items())
                if qty.get("shopify-acme-%d" % oid) != [("1002", q)]]
        want = sorted("shopify-acme-refund-%d" % r for r in want_refunds)
        if sorted(memos) != want:
            diff.append("memos: missing %s, extra %s" % (
                sorted(set(want) - set(memos)),
                sorted(set(memos) - set(want))))
        self.last_diff = diff
        return not diff, memos

    def status(self):
        return self.ngx.status()

    @staticmethod
    def next_second():
        time.sleep(1.02 - time.time() % 1)

    def wait(self, predicate, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(0.1)
        self.fail("timed out waiting for " + what + "\n"
                  + self.ngx.error_log()[-3000:] + "\n"
                  + "\n".join(getattr(self, "last_diff", [])))



class Reconcile(Base):

    def test_dropped_webhooks_reach_netsuite_once_by_reconciliation(self):
        self.start_nginx()
        rng = random.Random(15)
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP,
                         {"fraction": 0.10, "seed": 15})

        # each order: created, edited once or twice, refunded up to twice;
        # done in rounds a second apart, as people would (two changes of
        # an order within a second would share Shopify's updated_at)
        want_qty, want_refunds, plans = {}, [], []
        for i in range(ORDERS):
            oid = 7000 + i
            qty = rng.randint(2, 5)
            plan = [(self.create, oid, qty)]
            for _ in range(rng.randint(1, 2)):
                qty = rng.randint(2, 6)
                plan.append((self.edit, oid, qty))
            # a line refunded whole leaves the Sales Order: not here
            refunds = min(rng.choice((0, 0, 1, 2)), qty - 1)
            for n in range(1, refunds + 1):
                plan.append((self.refund, oid, qty, n))
            want_qty[oid] = qty - refunds
            plans.append(plan)

        for r in range(max(len(p) for p in plans)):
            self.next_second()
            for plan in plans:
                if r < len(plan):
                    out = plan[r][0](*plan[r][1:])
                    if plan[r][0] == self.refund:
                        want_refunds.append(out["id"])

        # one order each way at least: dropped edits and dropped refunds
        self.next_second()
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP,
                         {"fraction": 0, "next": 2})
        self.create(7999, 3)
        self.next_second()
        self.edit(7999, 4)
        self.next_second()
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP,
                         {"topics": ["refunds/create"]})
        want_refunds.append(self.refund(7999, 4, 1)["id"])
        want_qty[7999] = 3

        self.shopify.drain()
        done_at = time.monotonic()

        hooks = self.shopify.ctl("GET", "shops/%s/webhooks"
                                 % SHOP)["webhooks"]
        dropped = [w for w in hooks if w["state"] == "dropped"]
        self.assertGreaterEqual(len(dropped), len(hooks) // 20, hooks)
        self.assertTrue(any(w["topic"] == "refunds/create"
                            for w in dropped))
        self.assertFalse([w for w in hooks if w["state"] == "failed"])

        # everything in NetSuite within one period (and the time a run
        # and the deliveries take: the margin)
        memos = self.wait(lambda: self.converged(want_qty,
                                                 want_refunds)[0] or None,
                          "NetSuite to hold every order and refund",
                          INTERVAL + 10)
        took = time.monotonic() - done_at
        self.assertLess(took, INTERVAL + 10)
        sys.stderr.write("reconcile: %d orders, %d refunds, %d of %d "
                         "webhooks dropped; NetSuite complete %.1f s after "
                         "the last webhook ... " % (
                             len(want_qty), len(want_refunds), len(dropped),
                             len(hooks), took))
        self.assertTrue(memos)

        # exactly once: one memo per refund, and it stays so after
        # another run has seen everything again
        time.sleep(INTERVAL + 1)
        ok, memos = self.converged(want_qty, want_refunds)
        self.assertTrue(ok)
        self.assertEqual(len(memos), len(set(memos)))
        self.assertEqual(len(memos), len(want_refunds))

        rec = self.status()["reconcile"][SHOP]
        self.assertGreaterEqual(rec["polled"], 2, rec)
        self.assertGreater(rec["found_missing"], 0, rec)
        self.assertGreater(rec["enqueued"], 0, rec)
        self.assertGreater(rec["pages"], 1, rec)
        self.assertEqual(rec["errors"], 0, rec)
        self.assertIsNotNone(rec["last_success"])
        shop = self.status()["stores"][SHOP]
        self.assertEqual(shop["exceptions"], 0, self.ngx.request(
            "GET", "/exc")[2])
        log = self.ngx.error_log()
        self.assertIn('reconcile of "%s" done' % SHOP, log)
        self.assertIn("reconciled #", log)

        # refunds NetSuite already had are not sent again: the copies are
        # the dropped ones, and a few a run saw before their webhook's
        # Credit Memo was acked
        again = log.count("refunds/create of \"%s\" queued as" % SHOP)
        lost = len([w for w in dropped if w["topic"] == "refunds/create"])
        sys.stderr.write("%d refunds queued again for %d dropped ... "
                         % (again, lost))
        self.assertGreaterEqual(again, lost)
        self.assertLessEqual(again, lost + len(want_refunds) // 4)

        # the Link pages were followed with nothing but the cursor
        reqs = self.shopify.ctl("GET", "shops/%s/requests"
                                % SHOP)["requests"]
        self.assertTrue(any("page_info=" in r["path"] for r in reqs))
        for r in reqs:
            if "page_info=" in r["path"]:
                self.assertNotIn("updated_at_min", r["path"])

    # ---- found_missing during a backlog ------------------------------

    def gated(self):
        """nginx after its first run, NetSuite holding every request
        from now on: what is posted stays queued or in flight.  The
        found_missing count so far."""
        self.start_nginx()
        self.wait(lambda: self.status().get("reconcile", {}).get(
            SHOP, {}).get("last_success"), "a first run", INTERVAL + 5)
        self.ns.admin("POST", "faults", {"gate": True})
        self.addCleanup(self.ns.admin, "POST", "faults", {"gate": False})
        return self.status()["reconcile"][SHOP]["found_missing"]

    def second_edit_dropped(self, oid):
        """Created, edited (delivered), edited again (dropped)."""
        self.create(oid, 2, ns_qty=1)
        self.edit(oid, 3)
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP, {"next": 1})
        self.edit(oid, 4)

    def after_runs(self, n, what):
        """The reconcile status after n whole runs from now."""
        polled = self.status()["reconcile"][SHOP]["polled"]
        self.wait(lambda: self.status()["reconcile"][SHOP]["polled"]
                  >= polled + n and not self.status()["reconcile"][SHOP][
                      "running"], what, (n + 1) * INTERVAL + 5)
        return self.status()["reconcile"][SHOP]

    def test_found_missing_counts_only_the_dropped_update(self):
        """A backlog: NetSuite holds every request (its gate), so the
        webhooks of five orders' edits stay queued or in flight when a
        run lists them; they are not missing.  A sixth order's second
        edit is dropped while the webhook of its first is queued: that
        one is, and it is the only one counted."""
        before = self.gated()

        # the creation and the edit within one second: the simulator
        # dates the edit a second ahead of the clock, and its webhook
        # says it was triggered then, not before
        want = {}
        for oid in range(8201, 8206):
            self.create(oid, 2, ns_qty=1)
            self.edit(oid, 3)
            want[oid] = 3
        self.second_edit_dropped(8210)
        want[8210] = 4
        self.shopify.drain()

        hooks = self.shopify.ctl("GET", "shops/%s/webhooks"
                                 % SHOP)["webhooks"]
        self.assertEqual([(w["order_id"], w["topic"]) for w in hooks
                          if w["state"] == "dropped"],
                         [(8210, "orders/updated")])
        # the module ignores orders/create: six edits wait
        shop = self.status()["stores"][SHOP]
        self.assertEqual(shop["queue_depth"], 6, shop)

        # two whole runs that started after the last webhook, while
        # NetSuite still holds everything
        rec = self.after_runs(2, "two runs in the backlog")
        self.assertEqual(self.converged(want, [])[0], False)
        self.assertEqual(rec["found_missing"] - before, 1, rec)

        # the backlog drains, everything lands, and no later run finds
        # more missing
        self.ns.admin("POST", "faults", {"gate": False})
        self.wait(lambda: self.converged(want, [])[0] or None,
                  "NetSuite to hold every order", INTERVAL + 20)
        rec = self.after_runs(1, "a run after the backlog")
        self.assertEqual(rec["found_missing"] - before, 1, rec)

    def test_found_missing_past_a_deep_backlog(self):
        """Over a thousand webhooks queued after an order's own (NetSuite
        holds every request): its edit's webhook is far from the queue's
        newest, past any bounded look at what is queued, and still not
        counted missing; another order's dropped edit still is."""
        self.queue_max = 5000
        before = self.gated()

        def fillers(first, n):
            for oid in range(first, first + n):
                o = dict(shopmodel.order(oid, 2),
                         updated_at="2026-12-06T10:00:00-05:00",
                         created_at="2026-12-06T09:00:00-05:00")
                body = json.dumps(o).encode()
                st, _, b = self.ngx.post_webhook(SECRET, body,
                                                 "filler-%d" % oid)
                self.assertEqual(st, 200, b)

        # the first ones take every NetSuite slot; then the two orders
        fillers(60000, 10)
        self.create(8301, 2, ns_qty=1)
        self.edit(8301, 3)
        self.second_edit_dropped(8302)
        self.shopify.drain()
        fillers(61000, 1100)
        shop = self.status()["stores"][SHOP]
        self.assertGreater(shop["queue_depth"], 1100, shop)

        rec = self.after_runs(2, "two runs in the backlog")
        self.assertGreaterEqual(rec["orders"], 2, rec)
        self.assertEqual(rec["found_missing"] - before, 1, rec)

    def test_a_429_is_honoured(self):
        self.start_nginx()
        self.wait(lambda: self.status().get("reconcile", {}).get(
            SHOP, {}).get("last_success"), "a first run", INTERVAL + 5)
        # no webhook: only reconciliation, after the 429, brings it
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP, {"fraction": 1})
        self.shopify.ctl("POST", "shops/%s/throttle" % SHOP,
                         {"next": 1, "retry_after": 2.5})
        self.create(8001, 2)
        self.edit(8001, 3)

        self.wait(lambda: self.status()["reconcile"][SHOP]["throttled"],
                  "the 429", INTERVAL + 5)
        self.wait(lambda: self.converged({8001: 3}, [])[0] or None,
                  "the order after the 429", INTERVAL + 10)
        reqs = self.shopify.ctl("GET", "shops/%s/requests"
                                % SHOP)["requests"]
        i = [k for k, r in enumerate(reqs) if r["status"] == 429]
        self.assertEqual(len(i), 1, reqs)
        after = reqs[i[0] + 1]
        self.assertGreaterEqual(after["t"] - reqs[i[0]]["t"], 2.5)
        self.assertEqual(after["status"], 200)
        self.assertIn("Retry-After: 2.5", self.ngx.error_log())

    def test_the_call_limit_header_spaces_the_pages(self):
        # a small bucket: past half of it, pages wait for it to leak
        self.shopify.ctl("POST", "shops", {
            "domain": SHOP, "access_token": TOKEN, "secret": SECRET,
            "bucket_size": 4, "leak_rate": 2.0,
            "webhook_url": "http://127.0.0.1:%d/wh" % self.ngx.port})
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP, {"fraction": 1})
        for i in range(30):
            self.create(8100 + i, 2, ns_qty=1)
        self.start_nginx()
        self.wait(lambda: self.converged(
            {8100 + i: 2 for i in range(30)}, [])[0] or None,
            "every order", INTERVAL + 15)
        reqs = self.shopify.ctl("GET", "shops/%s/requests"
                                % SHOP)["requests"]
        self.assertEqual([r for r in reqs if r["status"] == 429], [])
        self.assertGreaterEqual(len(reqs), 5)


    def test_a_reload_keeps_the_watermark_and_counters(self):
        self.start_nginx()
        rec = self.wait(lambda: self.status().get("reconcile", {}).get(
            SHOP) if self.status().get("reconcile", {}).get(
                SHOP, {}).get("last_success") else None,
            "a first run", INTERVAL + 5)
        mark = self.status()["reconcile"][SHOP]["watermark_ms"]
        before = len(self.runs())

        self.assertTrue(self.ngx.reload(self.conf()))
        self.wait(lambda: len(self.runs()) > before,
                  "a run after the reload", INTERVAL + 5)

        # the zone kept it: the new worker starts at the watermark less
        # the overlap (or a later one), not a window back; counters go on
        after = self.status()["reconcile"][SHOP]
        self.assertGreaterEqual(after["polled"], rec["polled"] + 1)
        first = self.runs()[before]
        since = first.split("updated_at_min=")[1].split("%2B")[0]
        since = calendar.timegm(time.strptime(since, "%Y-%m-%dT%H:%M:%S"))
        self.assertGreaterEqual(since, mark // 1000 - 2, first)

        # and Prometheus has them
        st, _, body = self.ngx.request("GET", "/status?format=prometheus")
        self.assertEqual(st, 200)
        body = body.decode()
        polled = re.search(r'order_edit_reconcile_total\{zone="edits",'
                           r'shop="%s",what="polled"\} (\d+)\n'
                           % re.escape(SHOP), body)
        self.assertGreaterEqual(int(polled.group(1)), after["polled"])
        self.assertRegex(body, r'order_edit_reconcile_last_success_seconds'
                               r'\{zone="edits",shop="%s"\} [1-9]\d+\n'
                         % re.escape(SHOP))


class ReconcileWithJournal(Base):
    """The watermark survives a restart in a file beside the journal."""

    journal = "order_edit_journal __DIR__/journal fsync=batch;"

    def test_the_watermark_survives_a_restart(self):
        self.start_nginx()
        self.create(9001, 2)
        self.edit(9001, 3)
        self.shopify.drain()
        path = os.path.join(self.ngx.dir, "journal", "edits.reconcile")
        self.wait(lambda: os.path.exists(path), "the state file",
                  2 * INTERVAL + 5)

        self.ngx.nginx("-s", "stop")
        self.wait(lambda: not os.path.exists(os.path.join(
            self.ngx.dir, "logs", "nginx.pid")) or None, "the stop", 10)
        with open(path) as f:
            shop, mark = f.read().split()
        self.assertEqual(shop, SHOP)
        before = len(self.runs())

        self.ngx.start()
        self.wait(lambda: "resumes from its watermark %s ms" % mark
                  in self.ngx.error_log(), "the watermark read back",
                  INTERVAL + 5)
        self.wait(lambda: len(self.runs()) > before,
                  "a run after the restart", INTERVAL + 5)

        # it starts at the watermark less the overlap, not a window back
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
            int(mark) // 1000 - 2))
        self.assertIn("updated_at_min=" + since + "%2B00:00",
                      self.runs()[before])

    def exceptions(self):
        st, _, b = self.ngx.request("GET", "/exc")
        self.assertEqual(st, 200, b)
        return json.loads(b)["exceptions"]

    def test_reconciled_snapshots_survive_kill_9(self):
        """A reconciled snapshot parked as an exception, and one still
        queued (NetSuite answering 503), are in the journal: after kill -9
        and a restart in which reconciliation cannot reach Shopify (a
        wrong token), the first is parked again and the second reaches
        NetSuite, from the journal alone."""
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP, {"fraction": 1})
        self.ns.admin("POST", "faults", {"error_rate": 1.0})
        self.start_nginx()

        # 9201: a SKU the map does not know (parked, unmapped_sku);
        # 9202: NetSuite refuses every request (requeued, never done)
        self.ns.seed_order("shopify-acme-9201", lines=[
            {"item": {"id": "1002"}, "quantity": 1, "rate": 10}],
            custbody_shopify_taxes_included=False)
        o = shopmodel.order(9201, 2)
        o["line_items"][0]["sku"] = "NOT-IN-THE-MAP"
        self.shopify.ctl("POST", "shops/%s/orders" % SHOP, o)
        self.create(9202, 3, ns_qty=1)
        self.shopify.drain()

        self.wait(lambda: [e for e in self.exceptions()
                           if e["order_id"] == "9201"
                           and e["webhook_id"].startswith("reconcile:o:")],
                  "the reconciled exception", 2 * INTERVAL + 5)
        self.wait(lambda: self.status()["stores"][SHOP]["requeued"] > 0,
                  "the reconciled snapshot requeued", 10)

        # durable: the watermark moves on while one is parked and the
        # other queued
        path = os.path.join(self.ngx.dir, "journal", "edits.reconcile")
        self.wait(lambda: os.path.exists(path), "the state file",
                  2 * INTERVAL + 5)

        self.ngx.kill_all()
        listed = self.listed()
        with open(os.path.join(self.ngx.dir, "shopify.token"), "w") as f:
            f.write("shpat_not_the_token\n")
        self.ns.admin("POST", "faults", {"error_rate": 0})

        self.ngx.restart()
        self.wait(lambda: self.converged({9202: 3}, [])[0] or None,
                  "the queued snapshot in NetSuite after kill -9", 15)
        exc = self.wait(lambda: [e for e in self.exceptions()
                                 if e["order_id"] == "9201"],
                        "the exception parked again after kill -9", 15)
        self.assertTrue(exc[0]["webhook_id"].startswith("reconcile:o:9201:"),
                        exc)
        self.assertEqual(exc[0]["reason"], "unmapped_sku", exc)
        self.assertEqual(exc[0]["topic"], "orders/updated", exc)

        # Shopify listed nothing since (the token is refused): both came
        # from the journal
        self.wait(lambda: "orders.json" in self.ngx.error_log()
                  and " 401 " in self.ngx.error_log(),
                  "reconciliation refused by Shopify", INTERVAL + 5)
        self.assertEqual(self.listed(), listed)

    def listed(self):
        return len([r for r in self.shopify.ctl(
            "GET", "shops/%s/requests" % SHOP)["requests"]
            if r["status"] == 200])

    def test_a_replayed_newer_webhook_is_not_found_missing(self):
        """After a restart, the journal replays an order's queued webhook
        (NetSuite held it), then a late retry of an older webhook of the
        same order comes: the order is not missing, and the run after
        them counts only another order whose newer edit was dropped.
        Replay notes the trigger time as ingest does; without it the
        older one's note answered alone (issue 15's over-count)."""
        self.start_nginx()
        self.wait(lambda: self.status().get("reconcile", {}).get(
            SHOP, {}).get("last_success"), "a first run", INTERVAL + 5)
        self.ns.admin("POST", "faults", {"gate": True})
        self.addCleanup(self.ns.admin, "POST", "faults", {"gate": False})
        # no run lists anything until the restart's replay and the late
        # webhook are in: every Admin API call is a 429 meanwhile
        self.shopify.ctl("POST", "shops/%s/throttle" % SHOP,
                         {"next": 100000, "retry_after": 1})

        self.create(9301, 2, ns_qty=1)
        self.edit(9301, 3)
        self.create(9302, 2, ns_qty=1)
        self.edit(9302, 3)
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP, {"next": 1})
        self.edit(9302, 4)
        self.shopify.drain()
        self.assertEqual(self.status()["stores"][SHOP]["queue_depth"], 2)

        self.ngx.kill_all()
        self.ngx.restart()
        self.wait(lambda: self.status()["stores"][SHOP]["queue_depth"]
                  == 2 or None, "the two webhooks replayed", 10)
        before = self.status().get("reconcile", {}).get(SHOP, {}).get(
            "found_missing", 0)

        # Shopify retries an older webhook of 9301 (its creation's time)
        body = json.dumps(shopmodel.order(9301, 2)).encode()
        st, _, b = self.ngx.request("POST", "/wh", body, {
            "X-Shopify-Hmac-Sha256": test_dispatch.sign(SECRET, body),
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Topic": "orders/updated",
            "X-Shopify-Webhook-Id": "late-9301",
            "X-Shopify-API-Version": "2024-10",
            "X-Shopify-Triggered-At": "2026-01-01T00:00:00Z"})
        self.assertEqual(st, 200, b)

        # the first run that lists them comes after all of that
        self.shopify.ctl("POST", "shops/%s/throttle" % SHOP, {"next": 0})

        def listed():
            rs = self.status().get("reconcile", {}).get(SHOP, {})
            return rs if rs.get("orders", 0) >= 2 and not rs["running"] \
                else None

        rec = self.wait(listed, "a run listing both", 3 * INTERVAL + 10)
        self.assertEqual(rec["found_missing"] - before, 1, rec)


if __name__ == "__main__":
    unittest.main()
