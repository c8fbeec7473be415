"""SuiteQL lookups and the RESTlet."""

import unittest
from decimal import Decimal

from simhelper import SimTestCase, REC

SUITEQL = "/services/rest/query/v1/suiteql"
RESTLET = "/app/site/hosting/restlet.nl?script=1&deploy=1"
PREFER = {"Prefer": "transient"}


class SuiteQL(SimTestCase):
    def setUp(self):
        super().setUp()
        self.so = self.sim.seed_order("ext-1", custbody_shopify_order_id="123")
        self.sim.seed_order("ext-2", custbody_shopify_order_id="456")
        self.sim.seed_order("ext-3")

    def query(self, q, path=SUITEQL, headers=PREFER):
        return self.sim.request("POST", path, {"q": q}, headers=headers)

    def test_lookup_by_custom_field(self):
        r = self.query("SELECT id, externalid FROM transaction WHERE "
                       "custbody_shopify_order_id = '123'")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"),
                         "application/vnd.oracle.resource+json; "
                         "type=collection")
        self.assertEqual(r.json["count"], 1)
        self.assertFalse(r.json["hasMore"])
        self.assertEqual(r.json["items"], [{"links": [], "id": self.so["id"],
                                            "externalid": "ext-1"}])

    def test_no_match_and_type_filter(self):
        r = self.query("select id from transaction where "
                       "custbody_shopify_order_id = '999'")
        self.assertEqual((r.status, r.json["count"], r.json["items"]),
                         (200, 0, []))
        r = self.query("SELECT id, status FROM transaction WHERE type = "
                       "'SalesOrd' AND externalid = 'ext-2'")
        self.assertEqual(r.json["items"][0]["status"], "B")

    def test_null_columns_left_out(self):
        r = self.query("SELECT id, custbody_shopify_order_id FROM "
                       "transaction WHERE externalid = 'ext-3'")
        self.assertEqual(list(r.json["items"][0]), ["links", "id"])

    def test_paging_params_are_signed_and_honoured(self):
        r = self.query("SELECT id FROM transaction ORDER BY id",
                       path=SUITEQL + "?limit=2&offset=0")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["count"], r.json["hasMore"],
                          r.json["totalResults"]), (2, True, 3))
        self.assertEqual(r.json["links"][0]["rel"], "next")

    def test_in_list_and_tax_total(self):
        # the report's bulk read: one query for a page of orders
        r = self.query("SELECT id, foreigntotal, taxtotal, "
                       "custbody_shopify_order_id FROM transaction WHERE "
                       "type = 'SalesOrd' AND custbody_shopify_order_id "
                       "IN ('123', '456', '789') ORDER BY id")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([i["custbody_shopify_order_id"]
                          for i in r.json["items"]], ["123", "456"])
        self.assertIn("taxtotal", r.json["items"][0])
        self.assertError(self.query("SELECT id FROM transaction WHERE id "
                                    "IN ()"), 400, "INVALID_PARAMETER")

    def test_item_lines_joined_to_item(self):
        # the report's read of Sales Order lines: the main line and tax
        # lines filtered out, the item's itemid beside the line, quantity
        # and amount stored negative on a sales transaction
        self.sim.admin("POST", "items", [{"id": "100", "itemId": "SKU-A"},
                                         {"id": "200", "itemId": "SKU-B"}])
        self.sim.seed_order("ext-4", custbody_shopify_order_id="777",
                            lines=[{"item": {"id": "100"}, "quantity": 3,
                                    "rate": 10},
                                   {"item": {"id": "200"}, "quantity": 1,
                                    "amount": 4.5}])
        q = ("SELECT t.custbody_shopify_order_id AS oid, tl.quantity, "
             "tl.foreignamount, i.itemid FROM transaction t INNER JOIN "
             "transactionline tl ON tl.transaction = t.id LEFT OUTER JOIN "
             "item i ON i.id = tl.item WHERE t.type = 'SalesOrd' AND "
             "tl.mainline = 'F' AND tl.taxline = 'F' AND "
             "t.custbody_shopify_order_id IN ('777')")
        r = self.query(q)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([{k: v for k, v in i.items() if k != "links"}
                          for i in r.json["items"]],
                         [{"oid": "777", "quantity": "-3",
                           "foreignamount": "-30.00", "itemid": "SKU-A"},
                          {"oid": "777", "quantity": "-1",
                           "foreignamount": "-4.50", "itemid": "SKU-B"}])
        # without the filters: the main line too, one per transaction
        r = self.query("SELECT tl.mainline, tl.item FROM transaction t "
                       "JOIN transactionline tl ON tl.transaction = t.id "
                       "WHERE t.externalid = 'ext-4'")
        self.assertEqual([i["mainline"] for i in r.json["items"]],
                         ["T", "F", "F"])
        self.assertNotIn("item", r.json["items"][0])

    def test_credit_memo_lines_beside_the_order_lines_paged(self):
        # the report's lines query with our line key: a Sales Order's item
        # lines negative, its Credit Memo's as entered (positive: a memo
        # puts stock back and debits income, the reverse of a sale;
        # UNCONFIRMED by an Oracle page, docs/netsuite-simulator.md), the
        # memo's refund id beside each, and paged like any SuiteQL
        self.sim.admin("POST", "items", [{"id": "100", "itemId": "SKU-A"},
                                         {"id": "300", "itemId": "SHIP"}])
        self.sim.seed_order("ext-5", custbody_shopify_order_id="888",
                            lines=[{"item": {"id": "100"}, "quantity": 2,
                                    "rate": 10,
                                    "custcol_shopify_line_id": "11"}])
        r = self.sim.admin("POST", "records/creditMemo", {
            "externalId": "ext-5-refund-9001", "entity": {"id": "42"},
            "custbody_shopify_order_id": "888",
            "custbody_shopify_refund_id": "9001",
            "item": {"items": [
                {"item": {"id": "100"}, "quantity": 1, "amount": 9.99,
                 "custcol_shopify_line_id": "501"},
                {"item": {"id": "300"}, "quantity": 1, "amount": 5,
                 "custcol_shopify_line_id": "shipping_refund"}]}})
        self.assertIn("id", r, r)
        q = ("SELECT t.custbody_shopify_order_id AS oid, tl.quantity AS q, "
             "tl.foreignamount AS a, i.itemid AS sku, "
             "tl.custcol_shopify_line_id AS k, t.type AS type, "
             "t.custbody_shopify_refund_id AS rid FROM transaction t "
             "INNER JOIN transactionline tl ON tl.transaction = t.id "
             "LEFT OUTER JOIN item i ON i.id = tl.item WHERE t.type IN "
             "('SalesOrd', 'CustCred') AND tl.mainline = 'F' AND "
             "tl.taxline = 'F' AND t.custbody_shopify_order_id IN ('888')")
        rows = []
        for offset in (0, 2):
            r = self.query(q, path=SUITEQL + "?limit=2&offset=%d" % offset)
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json["hasMore"], r.json["totalResults"]),
                             (offset == 0, 3))
            rows += [{k: v for k, v in i.items() if k != "links"}
                     for i in r.json["items"]]
        self.assertEqual(rows, [
            {"oid": "888", "q": "-2", "a": "-20.00", "sku": "SKU-A",
             "k": "11", "type": "SalesOrd"},
            {"oid": "888", "q": "1", "a": "9.99", "sku": "SKU-A",
             "k": "501", "type": "CustCred", "rid": "9001"},
            {"oid": "888", "q": "1", "a": "5.00", "sku": "SHIP",
             "k": "shipping_refund", "type": "CustCred", "rid": "9001"}])

    def test_window_by_prefix_and_day(self):
        r = self.query("SELECT id, externalid FROM transaction WHERE type = "
                       "'SalesOrd' AND externalid LIKE 'ext-%' AND "
                       "lastmodifieddate >= TO_DATE('2000-01-01', "
                       "'YYYY-MM-DD') ORDER BY id")
        self.assertEqual([i["externalid"] for i in r.json["items"]],
                         ["ext-1", "ext-2", "ext-3"])
        r = self.query("SELECT id FROM transaction WHERE lastmodifieddate "
                       ">= TO_DATE('2999-01-01', 'YYYY-MM-DD')")
        self.assertEqual(r.json["items"], [])
        r = self.query("SELECT id FROM transaction WHERE externalid LIKE "
                       "'ext-_'")
        self.assertEqual(r.json["count"], 3)

    def test_prefer_transient_required(self):
        r = self.query("SELECT id FROM transaction", headers={})
        self.assertError(r, 400, "INVALID_HEADER")

    def test_customers_by_email(self):
        self.sim.admin("POST", "customers", [
            {"id": "7", "externalId": "c-7", "email": "a@example.com"},
            {"id": "8", "email": "a@example.com"},
            {"id": "9", "email": "b@example.com"}])
        r = self.query("SELECT id FROM customer WHERE email = "
                       "'a@example.com' ORDER BY id")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([row["id"] for row in r.json["items"]], ["7", "8"])

    def test_customers_by_lower_email(self):
        # Oracle's LOWER, in SuiteQL's supported functions; '' is a quote
        self.sim.admin("POST", "customers", [
            {"id": "7", "email": "O'Brien@Example.COM"},
            {"id": "8", "email": "obrien@example.com"}])
        r = self.query("SELECT id FROM customer WHERE LOWER(email) = "
                       "'o''brien@example.com' ORDER BY id")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([row["id"] for row in r.json["items"]], ["7"])

    def test_currency_by_symbol(self):
        self.sim.admin("POST", "currencies", {
            "2": {"symbol": "EUR", "precision": 2}})
        r = self.query("SELECT id FROM currency WHERE symbol = 'EUR'")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([row["id"] for row in r.json["items"]], ["2"])

    def test_unsupported_or_wrong_query(self):
        for q in ("SELECT id FROM vendor",
                  "SELECT nosuchcolumn FROM customer",
                  "SELECT nosuchcolumn FROM transaction",
                  "SELECT id FROM transaction WHERE id <> 3",
                  "SELECT t.id FROM transaction t JOIN transactionline tl "
                  "ON tl.nosuch = t.id",
                  "SELECT * FROM transaction t JOIN transactionline tl "
                  "ON tl.transaction = t.id",
                  "DELETE FROM transaction"):
            self.assertError(self.query(q), 400, "INVALID_PARAMETER")


class RestletTests(SimTestCase):
    def doc(self, **kw):
        so = {"external_id": "shopify-acme-1", "currency": "USD",
              "customer": "42",
              "lines": [{"key": "111", "sku": "SKU-A", "item": "100",
                         "quantity": 3, "rate": "19.99", "amount": "59.97",
                         "discount": "0.00", "tax": "4.80"}],
              "shipping": {"method": "Standard", "cost": "5.00",
                           "tax": "0.40",
                           "address": {"name": "Ann Lee",
                                       "address1": "1 Main St",
                                       "city": "Springfield",
                                       "province_code": "IL", "zip": "62701",
                                       "country_code": "US"}},
              "totals": {"subtotal": "59.97", "discount": "0.00",
                         "tax": "5.20", "shipping": "5.00",
                         "total": "70.17"}}
        so.update(kw)
        return so

    def post(self, body, path=RESTLET):
        return self.sim.request("POST", path, body)

    def test_create_then_edit(self):
        r = self.post({"sales_order": self.doc(),
                       "options": {"on_missing": "create"}})
        self.assertEqual(r.status, 200, r)
        res = r.json["results"]["sales_order"]
        self.assertEqual(res["action"], "created")
        self.assertEqual(res["totals"]["total"], "70.17")
        self.assertEqual(res["discrepancies"], [])
        # The same order through the record API.
        j = self.sim.request("GET", REC + "/salesOrder/eid:shopify-acme-1"
                             "?expandSubResources=true").json
        self.assertEqual(j["total"], Decimal("70.17"))
        self.assertEqual(j["taxTotal"], Decimal("5.20"))
        self.assertEqual(j["item"]["items"][0]["custcol_shopify_line_id"],
                         "111")
        self.assertIn("Springfield IL 62701", j["shipAddress"])
        # An edit replaces the lines whole.
        edit = self.doc(lines=[{"key": "222", "item": "101", "quantity": 1,
                                "rate": "10.00", "amount": "10.00",
                                "tax": "0.80"}],
                        totals={"tax": "1.20", "total": "16.20"})
        r = self.post({"sales_order": edit})
        res = r.json["results"]["sales_order"]
        self.assertEqual(res["action"], "updated")
        self.assertEqual([l["key"] for l in res["lines"]], ["222"])
        self.assertEqual(res["discrepancies"], [])

    def test_kept_lines_keep_their_line_and_discounts_stay(self):
        self.post({"sales_order": self.doc(), "options": {"on_missing":
                                                          "create"}})
        edit = self.doc(lines=[
            {"key": "222", "item": "101", "quantity": 1, "rate": "10.00",
             "amount": "10.00", "tax": "0.80"},
            {"key": "111", "item": "100", "quantity": 2, "rate": "19.99",
             "amount": "39.98", "discount": "4.00", "net": "35.98",
             "tax": "2.88"}],
            totals={"tax": "4.08", "total": "55.06"})
        res = self.post({"sales_order": edit}).json["results"]["sales_order"]
        self.assertEqual([(l["line"], l["key"], l["amount"], l["rate"])
                          for l in res["lines"]],
                         [(1, "111", "35.98", "17.99"),
                          (2, "222", "10.00", "10.00")])
        self.assertEqual(res["discrepancies"], [])

    def test_prices_with_tax_are_booked_before_tax(self):
        doc = self.doc(taxes_included=True,
                       totals={"tax": "5.20", "total": "64.97"})
        r = self.post({"sales_order": doc, "options": {"on_missing":
                                                       "create"}})
        res = r.json["results"]["sales_order"]
        self.assertEqual(res["lines"][0]["amount"], "55.17")
        self.assertEqual(res["totals"]["shippingCost"], "4.60")
        self.assertEqual((res["totals"]["taxTotal"], res["totals"]["total"]),
                         ("5.20", "64.97"))
        self.assertEqual(res["discrepancies"], [])

    def test_discrepancy_reported(self):
        self.post({"sales_order": self.doc(), "options": {"on_missing":
                                                          "create"}})
        r = self.post({"sales_order": self.doc(
            totals={"total": "70.18"})})
        self.assertEqual(r.json["results"]["sales_order"]["discrepancies"],
                         [{"field": "total", "document": "70.18",
                           "netsuite": "70.17"}])

    def test_missing_order_and_lock(self):
        r = self.post({"sales_order": self.doc()})
        self.assertEqual((r.status, r.error_code()), (400, "RCRD_DSNT_EXIST"))
        self.post({"sales_order": self.doc(), "options": {"on_missing":
                                                          "create"}})
        self.sim.admin("POST", "orders/eid:shopify-acme-1/status",
                       {"orderStatus": "D"})
        r = self.post({"sales_order": self.doc(lines=[])})
        self.assertEqual((r.status, r.error_code()), (400, "ORDER_LOCKED"))

    def test_credit_memo_idempotent_and_atomic(self):
        self.post({"sales_order": self.doc(), "options": {"on_missing":
                                                          "create"}})
        memo = {"external_id": "shopify-acme-refund-9",
                "sales_order_external_id": "shopify-acme-1",
                "lines": [{"sku": "SKU-A", "item": "100", "quantity": 1,
                           "amount": "19.99", "tax": "1.60",
                           "restock": True},
                          {"kind": "shipping", "amount": "5.00",
                           "tax": "0.40"}],
                "total": "26.99"}
        for _ in range(2):
            r = self.post({"credit_memo": memo})
            self.assertEqual(r.status, 200, r)
        memos = self.sim.admin("GET", "records/creditMemo")
        self.assertEqual(len(memos), 1)
        self.assertEqual(memos[0]["total"], Decimal("26.99"))
        self.assertEqual(memos[0]["entity"]["id"], "42")
        # A body whose second part fails changes nothing.
        before = self.sim.admin("GET", "records/salesOrder")
        r = self.post({"sales_order": self.doc(memo="changed"),
                       "credit_memo": dict(memo, lines="bad")})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.sim.admin("GET", "records/salesOrder"), before)

    def test_cancellation(self):
        self.post({"sales_order": self.doc(), "options": {"on_missing":
                                                          "create"}})
        r = self.post({"cancellation": {"external_id": "shopify-acme-1",
                                        "reason": "customer"}})
        self.assertEqual(r.json["results"]["cancellation"]["action"],
                         "cancelled")
        # every line closed (Oracle: the way to close an approved order),
        # which leaves the order Closed, not Cancelled
        j = self.sim.request("GET", REC + "/salesOrder/eid:shopify-acme-1"
                             "?expandSubResources=true").json
        self.assertEqual(j["orderStatus"]["id"], "H")
        self.assertEqual([l["isClosed"] for l in j["item"]["items"]],
                         [True])
        r = self.post({"cancellation": {"external_id": "shopify-acme-1"}})
        self.assertEqual(r.json["results"]["cancellation"]["action"],
                         "unchanged")

    def test_wrong_script_and_bad_body(self):
        r = self.post({"sales_order": self.doc()},
                      path="/app/site/hosting/restlet.nl?script=9&deploy=1")
        self.assertEqual((r.status, r.error_code()),
                         (400, "SSS_INVALID_SCRIPTLET_ID"))
        r = self.post({"nothing": 1})
        self.assertEqual((r.status, r.error_code()), (400, "INVALID_DOCUMENT"))
        r = self.post({"sales_order": self.doc(lines=[{"item": "1",
                                                       "quantity": 1,
                                                       "amount": 1.5e0}])})
        # a JSON number is accepted (parsed exactly); a float-ish string
        # with an exponent is not
        self.assertNotEqual(r.error_code(), "INVALID_DOCUMENT")
        r = self.post({"sales_order": self.doc(totals={"total": "1e2"})})
        self.assertEqual((r.status, r.error_code()), (400, "INVALID_DOCUMENT"))


if __name__ == "__main__":
    unittest.main()
