"""The daily mismatch report end to end, asked on demand: orders and
refunds made in Shopify (tools/shopify-sim) reach NetSuite
(tools/netsuite-sim) by their webhooks; then differences are seeded into
NetSuite through its REST record API and admin API (a drifted total, a
missing Credit Memo, an order missing, a line's quantity and a line's
amount drifted, a line gone, an order only NetSuite has; a Credit Memo's
line drifted, gone or extra), and the report lists exactly those, and
nothing else, at the order_edit_report location
(JSON and CSV), in the status and in Prometheus."""

import csv
import io
import json
import os
import subprocess
import sys
import time
import unittest

import shopmodel
import test_reconcile
from test_reconcile import SHOP

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# reconciliation's catch-up runs once at start (every hour after): the
# report is asked for by POST, not waited for until 02:00; Shopify's tax
# booked as NetSuite's (tax_details), so that both totals agree
STORE = """
        reconcile token_file=__DIR__/shopify.token
                  url=http://127.0.0.1:__SHOPIFY__ api_version=2024-10
                  interval=1h window=1h overlap=2s page_size=3
                  queue_max=40;
        report dir=__DIR__/reports at=02:00 keep=31d;
        tax_details 13 91;
"""


class ReportBase(test_reconcile.Base):

    def conf(self):
        # the workers write there (they run as nginx's user)
        reports = os.path.join(self.ngx.dir, "reports")
        os.makedirs(reports, exist_ok=True)
        os.chmod(reports, 0o777)
        saved = test_reconcile.STORE
        test_reconcile.STORE = STORE
        try:
            http = super().conf()
        finally:
            test_reconcile.STORE = saved
        return http.replace(
            "location /exc { order_edit_exceptions edits; }",
            "location /exc { order_edit_exceptions edits; }\n"
            "        location = /report { order_edit_report edits; }")

    def records(self, kind):
        return self.ns.admin("GET", "records/" + kind)

    def record_list(self, kind):
        r = self.records(kind)
        return r if isinstance(r, list) else r.get("records", r.get(kind))

    def written(self, want_qty):
        """Every Sales Order written by the module (the test seeded them
        as another connector would, without Shopify's fields)."""
        have = {so.get("custbody_shopify_order_id")
                for so in self.record_list("salesOrder")}
        return all(str(oid) in have for oid in want_qty)

    def report(self, query=""):
        s, h, b = self.ngx.request("GET", "/report" + query)
        self.assertEqual(s, 200, b)
        return b

    def ask(self):
        # 404 until the dispatcher's first tick has made the shop's node
        s, _, b = self.wait(lambda: (lambda a: a[0] != 404 and a)(
            self.ngx.request("POST", "/report?shop=" + SHOP)),
            "the store's report to be running", 10)
        self.assertEqual(s, 202, b)
        self.assertEqual(json.loads(b)["asked"], [SHOP])

    def runs_done(self):
        return self.ngx.error_log().count('report of "%s" done' % SHOP)

    def exceptions(self):
        st, _, b = self.ngx.request("GET", "/exc")
        self.assertEqual(st, 200, b)
        return [e for e in json.loads(b)["exceptions"]
                if e["reason"] == "report_mismatch"]

    def second_run_rows(self):
        """Ask for a second run; the day's document and its rows, sorted
        (order, kind, what, shopify, netsuite, actionable)."""
        self.ask()
        self.wait(lambda: self.runs_done() == 2, "the second run", 30)
        doc = json.loads(self.report("?shop=" + SHOP))
        return doc, sorted((r["order"], r["kind"], r["what"], r["shopify"],
                            r["netsuite"], r["actionable"])
                           for r in doc["rows"])

    def quiet_order(self, o, hours=2):
        """An order into Shopify firing no webhook, last changed hours
        ago: past reconciliation's window (1h), inside the report's day."""
        self.shopify.ctl("POST", "shops/%s/orders" % SHOP,
                         {"order": o, "fire": False,
                          "at": time.time() - hours * 3600})



class Report(ReportBase):

    def test_the_report_lists_exactly_the_seeded_differences(self):
        self.start_nginx()

        # five orders, two with a refund; every webhook delivered.  The
        # refunded ones untaxed: the module books Shopify's tax on Sales
        # Orders only (tax_details), a Credit Memo's tax is NetSuite's
        # tax engine's, and the simulator has none (it would report each
        # memo 1.00 short, rightly)
        want_qty, want_refunds = {}, []
        taxed = shopmodel.TAX
        self.addCleanup(setattr, shopmodel, "TAX", taxed)
        for oid, qty in ((7001, 3), (7002, 4), (7003, 2), (7004, 5),
                         (7005, 2), (7006, 2), (7007, 2)):
            shopmodel.TAX = 0 if oid in (7002, 7003) else taxed
            self.create(oid, qty)
            want_qty[oid] = qty
        # an edit each (orders/create is not a topic the module takes)
        self.next_second()
        for oid, qty in want_qty.items():
            shopmodel.TAX = 0 if oid in (7002, 7003) else taxed
            self.edit(oid, qty)
        self.next_second()
        shopmodel.TAX = 0
        for oid in (7002, 7003):
            want_refunds.append(self.refund(oid, want_qty[oid], 1)["id"])
            want_qty[oid] -= 1
        shopmodel.TAX = taxed
        self.shopify.drain()
        self.wait(lambda: self.converged(want_qty, want_refunds)[0]
                  and self.written(want_qty),
                  "NetSuite to hold every order and refund", 20)

        # 7007 has not changed in Shopify for two days: not in Shopify's
        # listing of the window, found by NetSuite's side (its Sales Order
        # changed today), asked of Shopify and compared
        self.shopify.ctl("POST", "shops/%s/orders/7007/age" % SHOP,
                         {"seconds": 2 * 86400})

        # a first run: Shopify and NetSuite agree, nothing to report
        self.ask()
        self.wait(lambda: self.runs_done() == 1, "the first run", 20)
        first = json.loads(self.report())
        self.assertEqual(first["rows"], [], first)
        self.assertEqual(first["stores"][0]["run"]["orders"], 7, first)

        # the differences, as people or scripts make them in NetSuite
        sos = {so["externalId"]: so for so in self.record_list("salesOrder")}
        memos = {cm["externalId"]: cm
                 for cm in self.record_list("creditMemo")}

        # 7001: its total drifts (a shipping cost added by hand, through
        # the REST record API as a user's script would)
        so = sos["shopify-acme-7001"]
        r = self.ns.request("PATCH", "/services/rest/record/v1/salesOrder/"
                            + so["id"], {"shippingCost": 5})
        self.assertEqual(r.status, 204, r)
        ns_total = self.ns.admin("GET", "records/salesOrder/"
                                 + so["id"])["total"]
        self.assertEqual("%.2f" % ns_total, "38.00")

        # 7002: its refund's Credit Memo is gone
        gone_refund = want_refunds[0]
        memo = memos["shopify-acme-refund-%d" % gone_refund]
        self.ns.admin("DELETE", "records/creditMemo/%s" % memo["id"])

        # 7004: no Sales Order at all
        self.ns.admin("DELETE", "records/salesOrder/%s"
                      % sos["shopify-acme-7004"]["id"])

        # 7003: a line's quantity (refunded down to 1) drifts to 2, its
        # amount kept, as a person would key it
        def patch(so, body, query=""):
            r = self.ns.request("PATCH", "/services/rest/record/v1/"
                                "salesOrder/" + so["id"] + query, body)
            self.assertEqual(r.status, 204, r)

        def line_of(so):
            lines = self.ns.admin("GET", "records/salesOrder/"
                                  + so["id"])["item"]["items"]
            self.assertEqual(len(lines), 1, lines)
            return lines[0]

        line = line_of(sos["shopify-acme-7003"])
        self.assertEqual(line["quantity"], 1)
        patch(sos["shopify-acme-7003"], {"item": {"items": [
            {"line": line["line"], "quantity": 2,
             "amount": float(line["amount"])}]}})

        # 7005: a line's amount drifts by 1.00, shipping takes the 1.00: the
        # total is still Shopify's
        line = line_of(sos["shopify-acme-7005"])
        self.assertEqual("%.2f" % line["amount"], "20.00")
        patch(sos["shopify-acme-7005"], {"shippingCost": 1, "item": {
            "items": [{"line": line["line"], "amount": 19}]}})

        # 7006: our line replaced by one keyed by hand without our line
        # key (same item, quantity, amount and tax): Shopify's line is
        # missing
        line = line_of(sos["shopify-acme-7006"])
        self.assertEqual(line["custcol_shopify_line_id"], "70061")
        patch(sos["shopify-acme-7006"], {"item": {"items": [
            {"item": {"id": line["item"]["id"]},
             "quantity": int(line["quantity"]),
             "amount": float(line["amount"]),
             "taxDetailsReference": line["taxDetailsReference"]}]}},
            "?replace=item")

        # 7007: its total drifts in NetSuite alone
        patch(sos["shopify-acme-7007"], {"shippingCost": 2})

        # 7999: a Sales Order of the store's that Shopify never had
        self.ns.admin("POST", "records/salesOrder", {
            "externalId": "shopify-acme-7999", "entity": {"id": "42"},
            "custbody_shopify_order_id": "7999",
            "item": {"items": [{"item": {"id": "1002"}, "quantity": 1,
                                "rate": 10}]}})

        doc, rows = self.second_run_rows()
        self.assertEqual(rows, [
            ("7001", "mismatch", "total", "33.00", "%.2f" % ns_total, True),
            ("7002", "missing_in_netsuite", "refund:%d" % gone_refund,
             "10.00", None, False),
            ("7003", "mismatch", "line:IPOD2008RED", 1, 2, True),
            ("7004", "missing_in_netsuite", "order", None, None, False),
            ("7005", "mismatch", "line_amount:IPOD2008RED", "20.00",
             "19.00", True),
            ("7006", "missing_in_netsuite", "line:IPOD2008RED", 2, None,
             True),
            ("7007", "mismatch", "total", "22.00", "24.00", True),
            ("7999", "missing_in_shopify", "order", None, None, False),
        ], doc)
        for r in doc["rows"]:
            self.assertEqual(r["shop"], SHOP)
            self.assertTrue(r["since"], r)
        self.assertEqual(doc["summary"], {
            "mismatch": 4, "missing_in_netsuite": 3,
            "missing_in_shopify": 1, "actionable": 5})

        # the same rows as CSV
        text = self.report("?format=csv&shop=" + SHOP).decode()
        table = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(sorted((r["order"], r["kind"], r["what"])
                                for r in table),
                         [(o, k, w) for o, k, w, _, _, _ in rows])

        # summarised in the status and in Prometheus; one line per run
        rep = self.status()["reconcile"][SHOP]["report"]
        self.assertEqual((rep["runs"], rep["mismatch"],
                          rep["missing_in_netsuite"],
                          rep["missing_in_shopify"], rep["errors"]),
                         (2, 4, 3, 1, 0), rep)
        self.assertIsNotNone(rep["last_run"])
        s, _, prom = self.ngx.request("GET", "/status?format=prometheus")
        prom = prom.decode()
        self.assertIn('order_edit_report_rows{zone="edits",shop="%s",'
                      'kind="missing_in_netsuite"} 3' % SHOP, prom)
        self.assertIn('order_edit_report_rows{zone="edits",shop="%s",'
                      'kind="missing_in_shopify"} 1' % SHOP, prom)
        log = self.ngx.error_log()
        self.assertIn('report of "%s" done: 7 orders and 2 refunds' % SHOP,
                      log)
        sys.stderr.write(log[log.rindex("report of"):].split("\n")[0]
                         + " ... ")

        # the day's file beside the others, and NetSuite read in bulk
        files = os.listdir(os.path.join(self.ngx.dir, "reports"))
        self.assertEqual(len(files), 1, files)
        self.assertTrue(files[0].startswith("report-")
                        and files[0].endswith("-%s.jsonl" % SHOP), files)


class Raised(ReportBase):
    """Actionable rows become report_mismatch exceptions carrying
    Shopify's order (or refund); a person's Retry rewrites NetSuite even
    though it holds that snapshot already, and the next run is clean."""

    def test_actionable_rows_are_raised_and_retry_rewrites(self):
        self.start_nginx()
        taxed = shopmodel.TAX
        self.addCleanup(setattr, shopmodel, "TAX", taxed)
        want_qty = {7101: 3, 7102: 2, 7104: 2}
        for oid, qty in want_qty.items():
            shopmodel.TAX = 0 if oid == 7102 else taxed
            self.create(oid, qty)
        self.next_second()
        for oid, qty in want_qty.items():
            shopmodel.TAX = 0 if oid == 7102 else taxed
            self.edit(oid, qty)
        self.next_second()
        shopmodel.TAX = 0
        refund = self.refund(7102, 2, 1)["id"]
        want_qty[7102] = 1
        shopmodel.TAX = taxed
        self.shopify.drain()
        self.wait(lambda: self.converged(want_qty, [refund])[0]
                  and self.written(want_qty),
                  "NetSuite to hold every order and refund", 20)

        # drift: a total changed by hand, a Credit Memo and a Sales Order
        # deleted
        sos = {so["externalId"]: so for so in self.record_list("salesOrder")}
        so = sos["shopify-acme-7101"]
        r = self.ns.request("PATCH", "/services/rest/record/v1/salesOrder/"
                            + so["id"], {"shippingCost": 5})
        self.assertEqual(r.status, 204, r)
        memo = [cm for cm in self.record_list("creditMemo")
                if cm["externalId"] == "shopify-acme-refund-%d" % refund]
        self.ns.admin("DELETE", "records/creditMemo/%s" % memo[0]["id"])
        self.ns.admin("DELETE", "records/salesOrder/%s"
                      % sos["shopify-acme-7104"]["id"])

        self.ask()
        self.wait(lambda: self.runs_done() == 1, "the run", 20)
        exc = self.wait(lambda: len(self.exceptions()) == 3
                        and self.exceptions(), "three exceptions", 5)
        got = sorted((e["order_id"], e["topic"],
                      e["webhook_id"].rsplit(":", 1)[0]) for e in exc)
        self.assertEqual(got, [
            ("7101", "orders/updated", "report:o:7101"),
            ("7102", "refunds/create", "report:r:%d" % refund),
            ("7104", "orders/updated", "report:o:7104"),
        ], exc)
        total = [e for e in exc if e["order_id"] == "7101"][0]
        self.assertIn("total Shopify 33.00, NetSuite 38.00",
                      total["netsuite_error"], total)

        # the next run, the exceptions still open: none raised again
        self.ask()
        self.wait(lambda: self.runs_done() == 2, "the second run", 20)
        self.assertEqual(len(self.exceptions()), 3)

        # Retry: Shopify's order written again over the drift, though
        # NetSuite holds its updated_at already; the memo made again; the
        # missing order, once someone imported it again (with a wrong
        # quantity), written over
        self.ns.seed_order("shopify-acme-7104", lines=[
            {"item": {"id": "1002"}, "quantity": 1, "rate": 10}],
            custbody_shopify_taxes_included=False)
        for e in exc:
            s, _, b = self.ngx.request(
                "POST", "/exc/%s/retry" % e["id"], b"{}",
                {"Content-Type": "application/json"})
            self.assertEqual(s, 200, b)
        self.wait(lambda: self.converged(want_qty, [refund])[0]
                  and not self.exceptions(), "NetSuite corrected", 20)
        total = [so for so in self.record_list("salesOrder")
                 if so["externalId"] == "shopify-acme-7101"][0]
        self.assertEqual("%.2f" % self.ns.admin(
            "GET", "records/salesOrder/" + total["id"])["total"], "33.00")

        self.ask()
        self.wait(lambda: self.runs_done() == 3, "the third run", 20)
        doc = json.loads(self.report("?shop=" + SHOP))
        self.assertEqual(doc["rows"], [], doc)
        self.assertEqual(self.exceptions(), [])


class Capped(ReportBase):
    """max_exceptions=: a run raises at most that many exceptions; the
    rest are still rows of the report, one line says how many were not
    raised, and the next runs raise them (the open ones are not raised
    again): a store whose history NetSuite lacks does not flood the
    exception queue in one run."""

    def conf(self):
        return super().conf().replace("keep=31d;",
                                      "keep=31d max_exceptions=2;")

    def test_a_run_raises_at_most_max_exceptions(self):
        self.start_nginx()
        oids = [7201, 7202, 7203, 7204, 7205]
        for oid in oids:
            self.quiet_order(shopmodel.order(oid, 2))

        self.ask()
        self.wait(lambda: self.runs_done() == 1, "the run", 20)
        doc = json.loads(self.report("?shop=" + SHOP))
        self.assertEqual(sorted((r["order"], r["kind"], r["what"])
                                for r in doc["rows"]),
                         [(str(o), "missing_in_netsuite", "order")
                          for o in oids], doc)
        self.assertEqual(len(self.exceptions()), 2)
        log = self.ngx.error_log()
        self.assertEqual(log.count("3 exceptions not raised, "
                                   "max_exceptions=2 reached"), 1, log)
        self.assertEqual(doc["stores"][0]["run"]["exceptions"], 2, doc)
        self.assertEqual(doc["stores"][0]["run"]["exceptions_not_raised"],
                         3, doc)

        # the next run: two more, the two open ones not raised again
        self.ask()
        self.wait(lambda: self.runs_done() == 2, "the second run", 20)
        self.assertEqual(len(self.exceptions()), 4)
        self.ask()
        self.wait(lambda: self.runs_done() == 3, "the third run", 20)
        exc = self.exceptions()
        self.assertEqual(sorted(int(e["order_id"]) for e in exc), oids, exc)
        self.assertEqual(self.ngx.error_log().count("not raised, "
                                                    "max_exceptions"), 2)


class Sliced(ReportBase):
    """A SuiteQL answer of 600 item lines (two pages of up to 500 rows,
    each taken a slice at a time) gives exactly the seeded differences:
    no row lost or taken twice at a page's or a slice's edge.  A guard
    of the slicing: the rows were right before it too."""

    LINES = 10
    ORDERS = 60

    def conf(self):
        # the 60 orders in one Shopify page: their lines in one query
        return super().conf().replace("page_size=3", "page_size=250")

    def order(self, oid, qty):
        o = shopmodel.order(oid, qty)
        line = o["line_items"][0]
        del line["tax_lines"][:]
        o["line_items"] = [dict(line, id=oid * 100 + k)
                           for k in range(self.LINES)]
        total = shopmodel.money(shopmodel.PRICE * qty * self.LINES)
        for k in ("total_line_items_price", "subtotal_price", "total_price",
                  "current_subtotal_price", "current_total_price"):
            o[k] = total
        o["total_tax"] = o["current_total_tax"] = "0.00"
        return o

    def test_600_line_rows_give_exactly_the_seeded_differences(self):
        self.start_nginx()
        # rows 0-599 in order: order i's line k is row 10 i + k; drifts
        # at the edges of slices (100) and of the SuiteQL page (500), two
        # lines an order (one up, one down: its total stays equal)
        drift = {0: (0, 1), 9: (8, 9), 10: (0, 1), 49: (8, 9),
                 50: (0, 1), 59: (8, 9)}
        want = []
        for i in range(self.ORDERS):
            oid = 7300 + i
            up, down = drift.get(i, (None, None))
            lines = []
            for k in range(self.LINES):
                q = 3 + (k == up) - (k == down)
                lines.append({"item": {"id": "1002"}, "quantity": q,
                              "rate": 10,
                              "custcol_shopify_line_id": str(oid * 100 + k)})
                if q != 3:
                    want.append((str(oid), "mismatch", "line:IPOD2008RED",
                                 3, q))
            self.ns.seed_order("shopify-acme-%d" % oid, lines=lines,
                               custbody_shopify_order_id=str(oid),
                               custbody_shopify_taxes_included=False)
            self.quiet_order(self.order(oid, 3))

        self.ask()
        self.wait(lambda: self.runs_done() == 1, "the run", 40)
        doc = json.loads(self.report("?shop=" + SHOP))
        got = sorted((r["order"], r["kind"], r["what"], r["shopify"],
                      r["netsuite"]) for r in doc["rows"]
                     if r["what"].startswith("line:"))
        self.assertEqual(got, sorted(want), doc["rows"])
        self.assertEqual(sorted({r["order"] for r in doc["rows"]}),
                         sorted({w[0] for w in want}), doc["rows"])
        self.assertEqual(doc["stores"][0]["run"]["orders"], self.ORDERS)


class MemoLines(ReportBase):
    """Each refund's lines against its Credit Memo's item lines (by our
    line key, the refund line item id): a line's quantity drifted, its
    amount drifted by 0.01, a line gone and a keyed line Shopify never
    refunded are exactly the rows, each memo's total kept equal so that
    only the lines differ; a memo that matches gives none; none of them
    is an exception (the module does not rewrite a Credit Memo)."""

    def memo_line(self, memo):
        rec = self.ns.admin("GET", "records/creditMemo/" + memo["id"])
        lines = rec["item"]["items"]
        self.assertEqual(len(lines), 1, lines)
        return lines[0]

    def patch_memo(self, memo, body, query=""):
        r = self.ns.request("PATCH", "/services/rest/record/v1/creditMemo/"
                            + memo["id"] + query, body)
        self.assertEqual(r.status, 204, r)

    def test_memo_lines_drifted_missing_and_extra_are_the_rows(self):
        self.start_nginx()

        # untaxed: a memo's tax is NetSuite's tax engine's (test above)
        taxed = shopmodel.TAX
        self.addCleanup(setattr, shopmodel, "TAX", taxed)
        shopmodel.TAX = 0
        want_qty, refunds = {}, {}
        oids = (7101, 7102, 7103, 7104, 7105)
        for oid in oids:
            self.create(oid, 3)
            want_qty[oid] = 3
        self.next_second()
        for oid in oids:
            self.edit(oid, 3)
        self.next_second()
        for oid in oids:
            refunds[oid] = self.refund(oid, 3, 1)["id"]
            want_qty[oid] -= 1
        self.shopify.drain()
        self.wait(lambda: self.converged(want_qty, list(refunds.values()))[0]
                  and self.written(want_qty),
                  "NetSuite to hold every order and refund", 20)

        # as booked, every memo's lines are the refund's: no row
        self.ask()
        self.wait(lambda: self.runs_done() == 1, "the first run", 20)
        first = json.loads(self.report())
        self.assertEqual(first["rows"], [], first)

        memos = {cm["externalId"]: cm
                 for cm in self.record_list("creditMemo")}

        def memo_of(oid):
            return memos["shopify-acme-refund-%d" % refunds[oid]]

        # 7101: the memo line's quantity keyed to 2, its amount kept
        line = self.memo_line(memo_of(7101))
        self.assertEqual(line["custcol_shopify_line_id"], "710101")
        self.assertEqual((line["quantity"], "%.2f" % line["amount"]),
                         (1, "10.00"))
        self.patch_memo(memo_of(7101), {"item": {"items": [
            {"line": line["line"], "quantity": 2,
             "amount": float(line["amount"])}]}})

        # 7102: the line's amount 0.01 short, the cent on a line keyed by
        # hand (no line key of ours): the memo's total is still 10.00
        line = self.memo_line(memo_of(7102))
        self.patch_memo(memo_of(7102), {"item": {"items": [
            {"line": line["line"], "amount": 9.99},
            {"item": {"id": line["item"]["id"]}, "quantity": 1,
             "amount": 0.01}]}})

        # 7103: our line replaced by the same one keyed by hand
        line = self.memo_line(memo_of(7103))
        self.patch_memo(memo_of(7103), {"item": {"items": [
            {"item": {"id": line["item"]["id"]},
             "quantity": int(line["quantity"]),
             "amount": float(line["amount"])}]}}, "?replace=item")

        # 7105: a line with a refund line id Shopify's refund lacks
        line = self.memo_line(memo_of(7105))
        self.patch_memo(memo_of(7105), {"item": {"items": [
            {"item": {"id": line["item"]["id"]}, "quantity": 1,
             "amount": 0, "custcol_shopify_line_id": "999999"}]}})

        doc, rows = self.second_run_rows()
        self.assertEqual(rows, [
            ("7101", "mismatch",
             "credit_memo_line:%d:710101" % refunds[7101], 1, 2, False),
            ("7102", "mismatch",
             "credit_memo_line_amount:%d:710201" % refunds[7102], "10.00",
             "9.99", False),
            ("7103", "missing_in_netsuite",
             "credit_memo_line:%d:710301" % refunds[7103], 1, None, False),
            ("7105", "missing_in_shopify",
             "credit_memo_line:%d:999999" % refunds[7105], None, 1, False),
        ], doc)
        self.assertEqual(doc["summary"], {
            "mismatch": 2, "missing_in_netsuite": 1,
            "missing_in_shopify": 1, "actionable": 0})
        self.assertEqual(self.exceptions(), [])


class StaleTemporaryFile(ReportBase):
    """A worker that died while it wrote the day's file left its
    temporary name (report-<day>-<store>.jsonl.<pid>.tmp) behind: the
    next run's file task removes it once that process is gone and the
    file is an hour old; a live process's, a newer one, and a file that
    is not a report's, stay."""

    def test_a_dead_workers_temporary_file_is_removed(self):
        self.start_nginx()
        reports = os.path.join(self.ngx.dir, "reports")
        gone = subprocess.Popen(["true"])
        gone.wait()
        name = "report-2026-12-01-%s.jsonl.%d.tmp"
        stale = os.path.join(reports, name % (SHOP, gone.pid))
        live = os.path.join(reports, name % (SHOP, os.getpid()))
        other = os.path.join(reports, "notes.jsonl.%d.tmp" % gone.pid)
        # a dead pid's file under an hour old: maybe another nginx's, in
        # a pid namespace kill() cannot see
        recent = os.path.join(reports, name % ("b.myshopify.com", gone.pid))
        two_hours_ago = time.time() - 2 * 3600
        for p in (stale, live, other, recent):
            with open(p, "w") as fh:
                fh.write('{"run":')
            if p != recent:
                os.utime(p, (two_hours_ago, two_hours_ago))
        self.ask()
        self.wait(lambda: self.runs_done() == 1, "the run", 30)
        self.wait(lambda: not os.path.exists(stale),
                  "the dead worker's file removed", 10)
        self.assertTrue(os.path.exists(live))
        self.assertTrue(os.path.exists(other))
        self.assertTrue(os.path.exists(recent))
        self.assertIn("removed 1 temporary report file(s) of exited "
                      "workers", self.ngx.error_log())


class Schedule(ReportBase):

    def test_the_run_starts_at_its_time_of_day(self):
        # at= the next whole minute at least 20 s away, local time
        t = time.localtime(time.time() + 80)
        self.at = "%02d:%02d" % (t.tm_hour, t.tm_min)
        self.start_nginx()
        due = time.mktime(t[:5] + (0,) + t[6:])
        self.assertEqual(self.runs_done(), 0)

        self.wait(lambda: self.runs_done() == 1, "the run at " + self.at,
                  due - time.time() + 15)
        self.assertGreaterEqual(time.time(), due - 1)
        doc = json.loads(self.report("?shop=" + SHOP))
        run = doc["stores"][0]["run"]
        self.assertEqual((doc["stores"][0]["ran"], run["asked"],
                          run["orders"], doc["rows"]),
                         (True, False, 0, []), doc)

    def conf(self):
        return super().conf().replace("at=02:00", "at=" + self.at)


if __name__ == "__main__":
    unittest.main()
