"""Record API: eid:, PATCH/PUT/POST semantics, replace=item, fields=,
errors, statuses and money."""

import json
import os
import tempfile
import unittest
from decimal import Decimal

from simhelper import Sim, SimTestCase, REC

SO = REC + "/salesOrder"
CM = REC + "/creditMemo"


def lines_of(sim, ref):
    r = sim.request("GET", "%s/%s?expandSubResources=true" % (SO, ref))
    assert r.status == 200, r
    return r.json["item"]["items"]


class RecordAPI(SimTestCase):
    def test_get_by_eid_and_internal_id(self):
        seeded = self.sim.seed_order("shopify-10")
        rid = seeded["id"]
        a = self.sim.request("GET", SO + "/eid:shopify-10")
        b = self.sim.request("GET", SO + "/" + rid)
        self.assertEqual(a.status, 200, a)
        self.assertEqual(a.header("content-type"),
                         "application/vnd.oracle.resource+json; "
                         "type=singular")
        self.assertEqual(a.json["id"], rid)
        self.assertEqual(a.json, b.json)
        self.assertEqual(a.json["orderStatus"],
                         {"id": "B", "refName": "Pending Fulfillment"})
        self.assertEqual(a.json["entity"]["id"], "42")
        # Without expandSubResources the item sublist is only a link.
        self.assertEqual(list(a.json["item"]), ["links"])
        self.assertTrue(a.json["links"][0]["href"].endswith(
            "/salesOrder/" + rid))

    def test_expand_sub_resources(self):
        self.sim.seed_order("shopify-11")
        r = self.sim.request("GET", SO + "/eid:shopify-11"
                             "?expandSubResources=true")
        item = r.json["item"]
        self.assertEqual(item["totalResults"], 1)
        line = item["items"][0]
        self.assertEqual(line["item"]["id"], "100")
        self.assertEqual(line["quantity"], 2)
        self.assertEqual(line["amount"], Decimal("20.00"))
        self.assertIn("links", line)
        # The sublist and a line are addressable too.
        r = self.sim.request("GET", SO + "/eid:shopify-11/item")
        self.assertEqual(r.json["items"][0]["line"], 1)
        r = self.sim.request("GET", SO + "/eid:shopify-11/item/1")
        self.assertEqual(r.json["line"], 1)

    def test_fields_limits_the_answer(self):
        self.sim.seed_order("shopify-12")
        r = self.sim.request("GET", SO + "/eid:shopify-12"
                             "?fields=orderStatus,total")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), {"links", "id", "orderStatus", "total"})
        self.assertEqual(r.json["total"], Decimal("20.00"))
        r = self.sim.request("GET", SO + "/eid:shopify-12?fields=orderstatus")
        self.assertError(r, 400, "INVALID_PARAMETER")

    def test_404_shape(self):
        r = self.sim.request("GET", SO + "/eid:nope")
        self.assertError(r, 404, "NONEXISTENT_ID")
        self.assertEqual(r.json["title"], "Not Found")
        self.assertEqual(r.json["type"], "https://www.rfc-editor.org/rfc/"
                         "rfc9110.html#section-15.5.5")
        self.assertError(self.sim.request("PATCH", SO + "/eid:nope",
                                          {"memo": "x"}),
                         404, "NONEXISTENT_ID")
        self.assertError(self.sim.request("GET", SO + "/999999"),
                         404, "NONEXISTENT_ID")

    def test_patch_204_with_location(self):
        rid = self.sim.seed_order("shopify-13")["id"]
        r = self.sim.request("PATCH", SO + "/eid:shopify-13",
                             {"memo": "edited"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertEqual(r.header("location"), self.sim.url(SO + "/" + rid))
        r = self.sim.request("GET", SO + "/" + rid + "?fields=memo")
        self.assertEqual(r.json["memo"], "edited")

    def test_plain_patch_merges_lines(self):
        self.sim.seed_order("shopify-14", lines=[
            {"item": {"id": "100"}, "quantity": 1, "rate": 5},
            {"item": {"id": "101"}, "quantity": 1, "rate": 7}])
        # Line 1 updated, a line without "line" added, line 2 untouched:
        # without replace=item nothing can be removed.
        r = self.sim.request("PATCH", SO + "/eid:shopify-14", {"item": {
            "items": [{"line": 1, "quantity": 3},
                      {"item": {"id": "102"}, "quantity": 1, "rate": 1}]}})
        self.assertEqual(r.status, 204, r)
        lines = lines_of(self.sim, "eid:shopify-14")
        self.assertEqual([(l["line"], l["item"]["id"], l["quantity"])
                          for l in lines],
                         [(1, "100", 3), (2, "101", 1), (3, "102", 1)])
        self.assertEqual(lines[0]["amount"], Decimal("15.00"))

    def test_replace_item_removes_lines(self):
        self.sim.seed_order("shopify-15", lines=[
            {"item": {"id": "100"}, "quantity": 1, "rate": 5},
            {"item": {"id": "101"}, "quantity": 1, "rate": 7}])
        r = self.sim.request("PATCH", SO + "/eid:shopify-15?replace=item",
                             {"item": {"items": [
                                 {"item": {"id": "101"}, "quantity": 2,
                                  "rate": 7}]}})
        self.assertEqual(r.status, 204, r)
        lines = lines_of(self.sim, "eid:shopify-15")
        self.assertEqual([(l["item"]["id"], l["quantity"]) for l in lines],
                         [("101", 2)])
        # New lines get new numbers; old numbers are never reused.
        self.assertEqual(lines[0]["line"], 3)
        r = self.sim.request("GET", SO + "/eid:shopify-15?fields=total")
        self.assertEqual(r.json["total"], Decimal("14.00"))

    def test_replace_with_kept_line_numbers(self):
        self.sim.seed_order("shopify-16", lines=[
            {"item": {"id": "100"}, "quantity": 1, "rate": 5},
            {"item": {"id": "101"}, "quantity": 1, "rate": 7}])
        r = self.sim.request("PATCH", SO + "/eid:shopify-16?replace=item",
                             {"item": {"items": [{"line": 2, "quantity": 4}]}})
        self.assertEqual(r.status, 204, r)
        lines = lines_of(self.sim, "eid:shopify-16")
        self.assertEqual([(l["line"], l["quantity"]) for l in lines], [(2, 4)])

    def test_unknown_line_and_replace_value_refused(self):
        self.sim.seed_order("shopify-17")
        r = self.sim.request("PATCH", SO + "/eid:shopify-17",
                             {"item": {"items": [{"line": 9,
                                                  "quantity": 1}]}})
        self.assertError(r, 400, "USER_ERROR")
        r = self.sim.request("PATCH", SO + "/eid:shopify-17?replace=items",
                             {"item": {"items": []}})
        self.assertError(r, 400, "INVALID_PARAMETER")
        self.assertEqual(r.json["o:errorDetails"][0]["o:errorQueryParam"],
                         "replace")
        r = self.sim.request("PATCH", SO + "/eid:shopify-17?replaceItems=true",
                             {"memo": "x"})
        self.assertError(r, 400, "INVALID_PARAMETER")

    def test_removing_every_line_refused(self):
        self.sim.seed_order("shopify-18")
        r = self.sim.request("PATCH", SO + "/eid:shopify-18?replace=item",
                             {"item": {"items": []}})
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("at least one line",
                      r.json["o:errorDetails"][0]["detail"])

    def test_body_mistakes_refused(self):
        self.sim.seed_order("shopify-19")
        path = SO + "/eid:shopify-19"
        cases = [
            ({"item": [{"item": {"id": "1"}, "quantity": 1}]}, "item"),
            ({"item": {"items": [{"item": "100", "quantity": 1,
                                  "rate": 1}]}}, "item.items[0].item"),
            ({"item": {"items": [{"item": {"id": "100"}, "quantity": "2",
                                  "rate": 1}]}}, "item.items[0].quantity"),
            ({"orderStatus": "B"}, "orderStatus"),
            ({"memoo": "typo"}, "memoo"),
        ]
        strict = {"X-NetSuite-PropertyNameValidation": "Error"}
        for body, where in cases:
            r = self.sim.request("PATCH", path, body, headers=strict)
            self.assertError(r, 400, "INVALID_CONTENT")
            self.assertEqual(r.json["o:errorDetails"][0]["o:errorPath"],
                             where, body)
        r = self.sim.request("PATCH", path, "{not json",
                             headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "INVALID_CONTENT")
        r = self.sim.request("PATCH", path, '{"memo":"x"}',
                             headers={"Content-Type": "text/plain"})
        self.assertError(r, 415, "INVALID_CONTENT")

    def test_unknown_fields_are_dropped_by_default(self):
        # NetSuite's default: an unknown property is no error (a misspelt
        # field vanishes); the module asks for Error on every write
        self.sim.seed_order("shopify-21")
        r = self.sim.request("PATCH", SO + "/eid:shopify-21",
                             {"memoo": "typo", "memo": "ok"})
        self.assertEqual(r.status, 204, r)

    def test_custom_fields_the_account_lacks_are_unknown(self):
        self.sim.seed_order("shopify-22")
        self.sim.admin("POST", "/custom_fields",
                       {"fields": ["custbody_a", "custcol_b"]})
        strict = {"X-NetSuite-PropertyNameValidation": "Error"}
        r = self.sim.request("PATCH", SO + "/eid:shopify-22",
                             {"custbody_a": 1, "custbody_z": 2},
                             headers=strict)
        self.assertError(r, 400, "INVALID_CONTENT")
        self.assertIn("custbody_z", r.json["o:errorDetails"][0]["detail"])
        r = self.sim.request("PATCH", SO + "/eid:shopify-22",
                             {"custbody_a": 1}, headers=strict)
        self.assertEqual(r.status, 204, r)
        self.sim.admin("POST", "/custom_fields", {"fields": None})
        r = self.sim.request("PATCH", SO + "/eid:shopify-22",
                             {"custbody_z": 2}, headers=strict)
        self.assertEqual(r.status, 204, r)

    def test_unknown_fields_can_be_ignored_by_header(self):
        self.sim.seed_order("shopify-20")
        r = self.sim.request("PATCH", SO + "/eid:shopify-20",
                             {"memoo": "typo", "memo": "ok"},
                             headers={"X-NetSuite-PropertyNameValidation":
                                      "Ignore"})
        self.assertEqual(r.status, 204, r)
        log = self.sim.admin("GET", "requests")["requests"][-1]
        self.assertEqual(log["ignored"], ["memoo"])

    def test_read_only_fields_ignored(self):
        self.sim.seed_order("shopify-21")
        r = self.sim.request("PATCH", SO + "/eid:shopify-21",
                             {"total": 1, "subtotal": 1})
        self.assertEqual(r.status, 204, r)
        r = self.sim.request("GET", SO + "/eid:shopify-21?fields=total")
        self.assertEqual(r.json["total"], Decimal("20.00"))

    def test_put_upserts_on_eid(self):
        body = {"entity": {"id": "42"}, "item": {"items": [
            {"item": {"id": "100"}, "quantity": 1, "rate": 12.5}]}}
        r = self.sim.request("PUT", SO + "/eid:shopify-22", body)
        self.assertEqual(r.status, 204, r)
        loc = r.header("location")
        r2 = self.sim.request("PUT", SO + "/eid:shopify-22", dict(
            body, memo="again"))
        self.assertEqual(r2.status, 204, r2)
        self.assertEqual(r2.header("location"), loc)
        recs = self.sim.admin("GET", "records/salesOrder")
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["externalId"], "shopify-22")
        self.assertEqual(recs[0]["memo"], "again")
        # An update by PUT merges lines like PATCH: same line kept, and a
        # new one appended unless replace=item.
        self.assertEqual(len(recs[0]["item"]["items"]), 2)

    def test_put_needs_eid(self):
        rid = self.sim.seed_order("shopify-23")["id"]
        r = self.sim.request("PUT", SO + "/" + rid, {"memo": "x"})
        self.assertError(r, 400, "USER_ERROR")

    def test_put_body_external_id_must_match(self):
        r = self.sim.request("PUT", SO + "/eid:a1", {
            "externalId": "b2", "entity": {"id": "1"},
            "item": {"items": [{"item": {"id": "1"}, "rate": 1}]}})
        self.assertError(r, 400, "USER_ERROR")
        self.sim.seed_order("a1")
        r = self.sim.request("PUT", SO + "/eid:a1", {"externalId": "b2"})
        self.assertError(r, 400, "USER_ERROR")

    def test_post_create_204_location_and_duplicate(self):
        body = {"externalId": "shopify-24", "entity": {"id": "42"},
                "item": {"items": [{"item": {"id": "100"}, "quantity": 1,
                                    "rate": 3}]}}
        r = self.sim.request("POST", SO, body)
        self.assertEqual(r.status, 204, r)
        self.assertRegex(r.header("location"), r"/salesOrder/\d+$")
        # Re-POSTing after a lost response does not make a second order.
        r = self.sim.request("POST", SO, body)
        self.assertError(r, 400, "USER_ERROR")
        self.assertEqual(len(self.sim.admin("GET", "records/salesOrder")), 1)

    def test_create_needs_customer_and_lines(self):
        r = self.sim.request("POST", SO, {"item": {"items": [
            {"item": {"id": "1"}, "rate": 1}]}})
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("Customer", r.json["o:errorDetails"][0]["detail"])
        r = self.sim.request("POST", SO, {"entity": {"id": "1"}})
        self.assertError(r, 400, "USER_ERROR")
        r = self.sim.request("POST", SO, {"entity": {"id": "1"}, "item": {
            "items": [{"item": {"id": "1"}, "quantity": 1}]}})
        self.assertError(r, 400, "USER_ERROR")  # no rate, no price

    def test_customer_by_external_id_and_its_create(self):
        cust = REC + "/customer"
        self.assertError(self.sim.request("GET", cust + "/eid:c-1"), 404,
                         "NONEXISTENT_ID")
        body = {"externalId": "c-1", "isPerson": True, "firstName": "Bob",
                "lastName": "Norman", "email": "bob@example.com"}
        r = self.sim.request("POST", cust, body)
        self.assertEqual(r.status, 204, r)
        self.assertRegex(r.header("location"), r"/customer/\d+$")
        cid = r.header("location").rsplit("/", 1)[1]
        r = self.sim.request("GET", cust + "/eid:c-1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["id"], cid)
        self.assertEqual(r.json["lastName"], "Norman")
        self.assertEqual(self.sim.request("GET", cust + "/" + cid).json,
                         r.json)
        # the external id is unique: a re-POST is refused
        self.assertError(self.sim.request("POST", cust, body), 400,
                         "USER_ERROR")

    def test_customer_create_needs_its_mandatory_fields(self):
        cust = REC + "/customer"
        r = self.sim.request("POST", cust, {"isPerson": True,
                                            "firstName": "Bob"})
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("Please enter value(s) for: Last Name",
                      r.json["o:errorDetails"][0]["detail"])
        r = self.sim.request("POST", cust, {"email": "x@example.com"})
        self.assertIn("Company Name", r.json["o:errorDetails"][0]["detail"])
        # OneWorld: the subsidiary too
        self.sim.admin("POST", "preferences", {"one_world": True})
        r = self.sim.request("POST", cust, {"companyName": "Acme"})
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("Primary Subsidiary",
                      r.json["o:errorDetails"][0]["detail"])
        r = self.sim.request("POST", cust, {"companyName": "Acme",
                                            "subsidiary": {"id": "3"}})
        self.assertEqual(r.status, 204, r)

    def test_delete(self):
        self.sim.seed_order("shopify-25")
        self.assertEqual(self.sim.request("DELETE",
                                          SO + "/eid:shopify-25").status, 204)
        self.assertError(self.sim.request("GET", SO + "/eid:shopify-25"),
                         404, "NONEXISTENT_ID")

    def test_list(self):
        self.sim.seed_order("a-1")
        self.sim.seed_order("a-2")
        r = self.sim.request("GET", SO + "?limit=1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["count"], 1)
        self.assertTrue(r.json["hasMore"])
        self.assertEqual(r.json["totalResults"], 2)

    def test_unknown_record_type(self):
        r = self.sim.request("GET", REC + "/salesorder/1")
        self.assertError(r, 404, "NONEXISTENT_ID")


class Money(SimTestCase):
    def test_three_times_19_99(self):
        r = self.sim.request("PUT", SO + "/eid:m1", '{"entity":{"id":"1"},'
                             '"item":{"items":[{"item":{"id":"7"},'
                             '"quantity":3,"rate":19.99}]}}',
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 204, r)
        r = self.sim.request("GET", SO + "/eid:m1?expandSubResources=true")
        # Exact text on the wire, not a float's approximation.
        self.assertIn(b'"amount":59.97', r.raw)
        self.assertIn(b'"total":59.97', r.raw)
        self.assertEqual(r.json["subtotal"], Decimal("59.97"))

    def test_totals_with_tax_discount_shipping(self):
        body = {"entity": {"id": "1"}, "shippingCost": 4.99,
                "discountRate": -5,
                "item": {"items": [
                    {"item": {"id": "7"}, "quantity": 3, "rate": 19.99,
                     "tax1Amt": 4.8},
                    {"item": {"id": "8"}, "quantity": 1, "rate": 0.1,
                     "taxRate1": 8.25},
                    {"item": {"id": "9"}, "quantity": 7, "rate": 0.7}]}}
        self.assertEqual(self.sim.request("PUT", SO + "/eid:m2",
                                          body).status, 204)
        r = self.sim.request("GET", SO + "/eid:m2?expandSubResources=true")
        j = r.json
        amounts = [l["amount"] for l in j["item"]["items"]]
        self.assertEqual(amounts, [Decimal("59.97"), Decimal("0.10"),
                                   Decimal("4.90")])
        # 0.10 x 8.25% = 0.00825 -> 0.01 (half-up to the cent)
        self.assertEqual(j["item"]["items"][1]["tax1Amt"], Decimal("0.01"))
        self.assertEqual(j["subtotal"], Decimal("64.97"))
        self.assertEqual(j["discountTotal"], Decimal("-5.00"))
        self.assertEqual(j["taxTotal"], Decimal("4.81"))
        self.assertEqual(j["shippingCost"], Decimal("4.99"))
        self.assertEqual(j["total"], Decimal("69.77"))

    def test_percent_discount_and_explicit_amount(self):
        body = {"entity": {"id": "1"}, "discountRate": "-10%",
                "item": {"items": [{"item": {"id": "7"}, "quantity": 3,
                                    "amount": 10}]}}
        self.assertEqual(self.sim.request("PUT", SO + "/eid:m3",
                                          body).status, 204)
        j = self.sim.request("GET", SO + "/eid:m3?expandSubResources="
                             "true").json
        line = j["item"]["items"][0]
        self.assertEqual(line["amount"], Decimal("10.00"))
        self.assertEqual(line["rate"], Decimal("3.33333333"))
        self.assertEqual(j["discountTotal"], Decimal("-1.00"))
        self.assertEqual(j["total"], Decimal("9.00"))

    def test_zero_decimal_currency(self):
        # The default currency table has USD (id 1) only; give a fresh
        # simulator one with JPY, which has no minor unit.
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "c.json")
            with open(conf, "w") as f:
                json.dump({"currencies": {
                    "1": {"symbol": "USD", "precision": 2},
                    "4": {"symbol": "JPY", "precision": 0}}}, f)
            sim = Sim("--config", conf)
            try:
                r = sim.request("PUT", SO + "/eid:jp", {
                    "entity": {"id": "1"}, "currency": {"id": "4"},
                    "item": {"items": [{"item": {"id": "7"}, "quantity": 3,
                                        "rate": 333.5}]}})
                self.assertEqual(r.status, 204, r)
                j = sim.request("GET", SO + "/eid:jp").json
                self.assertEqual(j["total"], Decimal("1001"))
                self.assertEqual(j["currency"]["refName"], "JPY")
                r = sim.request("PATCH", SO + "/eid:jp",
                                {"currency": {"id": "99"}})
                self.assertEqual(r.status, 400, r)
            finally:
                self.assertEqual(sim.stop(), 0)


class Warehouse(SimTestCase):
    def test_status_via_admin(self):
        rid = self.sim.seed_order("w1")["id"]
        for letter, name in (("A", "Pending Approval"),
                             ("D", "Partially Fulfilled"),
                             ("E", "Pending Billing/Partially Fulfilled"),
                             ("F", "Pending Billing"), ("G", "Billed"),
                             ("H", "Closed"), ("C", "Cancelled"),
                             ("B", "Pending Fulfillment")):
            self.sim.admin("POST", "orders/eid:w1/status",
                           {"orderStatus": letter, "fulfilled": "none",
                            "billed": "none"})
            r = self.sim.request("GET", SO + "/" + rid + "?fields=orderStatus")
            self.assertEqual(r.json["orderStatus"],
                             {"id": letter, "refName": name})

    def test_fulfilled_lines_are_protected(self):
        self.sim.seed_order("w2", lines=[
            {"item": {"id": "100"}, "quantity": 2, "rate": 5},
            {"item": {"id": "101"}, "quantity": 1, "rate": 7}])
        rec = self.sim.admin("POST", "orders/eid:w2/status",
                             {"orderStatus": "D"})
        self.assertEqual(rec["item"]["items"][0]["quantityFulfilled"], 2)
        # Removing the fulfilled line, or cutting it below what shipped,
        # is refused by NetSuite itself.
        r = self.sim.request("PATCH", SO + "/eid:w2?replace=item", {
            "item": {"items": [{"line": 2}]}})
        self.assertError(r, 400, "USER_ERROR")
        r = self.sim.request("PATCH", SO + "/eid:w2", {
            "item": {"items": [{"line": 1, "quantity": 1}]}})
        self.assertError(r, 400, "USER_ERROR")
        # The unfulfilled line can still change.
        r = self.sim.request("PATCH", SO + "/eid:w2", {
            "item": {"items": [{"line": 2, "quantity": 3}]}})
        self.assertEqual(r.status, 204, r)

    def test_cancelled_order_refuses_edits(self):
        self.sim.seed_order("w3")
        self.sim.admin("POST", "orders/eid:w3/status", {"orderStatus": "C"})
        r = self.sim.request("PATCH", SO + "/eid:w3", {"memo": "x"})
        self.assertError(r, 400, "USER_ERROR")

    def test_rest_can_only_approve(self):
        self.sim.seed_order("w4", orderStatus="A")
        r = self.sim.request("PATCH", SO + "/eid:w4",
                             {"orderStatus": {"id": "B"}})
        self.assertEqual(r.status, 204, r)
        r = self.sim.request("PATCH", SO + "/eid:w4",
                             {"orderStatus": {"id": "F"}})
        self.assertError(r, 400, "USER_ERROR")

    def test_closing_every_line_closes_the_order(self):
        self.sim.seed_order("w5")
        r = self.sim.request("PATCH", SO + "/eid:w5", {
            "item": {"items": [{"line": 1, "isClosed": True}]}})
        self.assertEqual(r.status, 204, r)
        r = self.sim.request("GET", SO + "/eid:w5?fields=orderStatus")
        self.assertEqual(r.json["orderStatus"]["id"], "H")

    def test_seed_with_explicit_fulfilment(self):
        rec = self.sim.admin("POST", "orders", {
            "externalId": "w6", "entity": {"id": "1"}, "orderStatus": "E",
            "item": {"items": [
                {"item": {"id": "1"}, "quantity": 4, "rate": 1,
                 "quantityFulfilled": 1},
                {"item": {"id": "2"}, "quantity": 1, "rate": 1}]}})
        self.assertEqual(rec["orderStatus"]["id"], "E")
        self.assertEqual([l["quantityFulfilled"] for l in
                          rec["item"]["items"]], [1, 0])


class CreditMemo(SimTestCase):
    def test_put_twice_is_one_memo(self):
        so = self.sim.seed_order("shopify-30")
        body = {"entity": {"id": "42"}, "createdFrom": {"id": so["id"]},
                "item": {"items": [{"item": {"id": "100"}, "quantity": 1,
                                    "amount": 10, "tax1Amt": 0.83}]}}
        for _ in range(2):
            r = self.sim.request("PUT", CM + "/eid:refund-1?replace=item",
                                 body)
            self.assertEqual(r.status, 204, r)
        memos = self.sim.admin("GET", "records/creditMemo")
        self.assertEqual(len(memos), 1)
        self.assertEqual(memos[0]["total"], Decimal("10.83"))
        self.assertEqual(memos[0]["createdFrom"]["refName"],
                         "SO" + so["id"])
        self.assertEqual(memos[0]["status"]["refName"], "Open")
        r = self.sim.request("GET", CM + "/eid:refund-1?fields=total")
        self.assertEqual(r.json["total"], Decimal("10.83"))


class Refunds(SimTestCase):
    """Issue 12: a memo's inventory effect, its defaults, the invoice
    transform (docs/netsuite-booking-research.md 5, 6)."""

    def test_memo_restocks_inventory_items_only(self):
        self.sim.admin("PUT", "items", [
            {"id": "100"}, {"id": "200", "externalId": "no-restock",
                            "itemType": "otherChargeSaleItem"}])
        body = {"entity": {"id": "42"},
                "item": {"items": [
                    {"item": {"id": "100"}, "quantity": 2, "amount": 20},
                    {"item": {"externalId": "no-restock"}, "quantity": 1,
                     "amount": 5}]}}
        for _ in range(2):
            r = self.sim.request("PUT", CM + "/eid:r1?replace=item", body)
            self.assertEqual(r.status, 204, r)
        # saved twice, restocked once
        self.assertEqual(self.sim.admin("GET", "inventory"),
                         {"stock": {"100": 2}})
        body["item"]["items"][0]["quantity"] = 1
        self.sim.request("PUT", CM + "/eid:r1?replace=item", body)
        self.assertEqual(self.sim.admin("GET", "inventory"),
                         {"stock": {"100": 1}})
        r = self.sim.request("DELETE", CM + "/eid:r1")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.sim.admin("GET", "inventory"),
                         {"stock": {"100": 0}})

    def test_standalone_memo_defaults_from_customer(self):
        self.sim.admin("POST", "currencies",
                       {"2": {"symbol": "EUR", "precision": 2}})
        self.sim.admin("POST", "customers", {
            "id": "42", "currency": {"id": "2"}, "location": {"id": "7"}})
        so = self.sim.seed_order("shopify-40")
        r = self.sim.request("PUT", CM + "/eid:r2", {
            "entity": {"id": "42"}, "createdFrom": {"id": so["id"]},
            "location": {"id": "3"},
            "item": {"items": [{"item": {"id": "100"}, "amount": 1}]}})
        self.assertEqual(r.status, 204, r)
        memo = self.sim.admin("GET", "records/creditMemo/eid:r2")
        self.assertEqual(memo["currency"]["id"], "2")     # the customer's
        self.assertEqual(memo["location"]["id"], "3")     # as sent
        # a link must name a transaction
        r = self.sim.request("PUT", CM + "/eid:r3", {
            "entity": {"id": "42"}, "createdFrom": {"id": "999999"},
            "item": {"items": [{"item": {"id": "100"}, "amount": 1}]}})
        self.assertError(r, 400, "USER_ERROR")

    def test_invoice_transform_applies_the_memo(self):
        so = self.sim.seed_order("shopify-50", location={"id": "4"})
        inv = self.sim.admin("POST", "records/invoice", {
            "entity": {"id": "42"}, "createdFrom": {"id": so["id"]},
            "location": {"id": "4"},
            "item": {"items": [{"item": {"id": "100"}, "quantity": 2,
                                "rate": 10}]}})
        self.assertEqual(inv["amountRemaining"], Decimal("20.00"))
        r = self.sim.request(
            "POST", "%s/invoice/%s/!transform/creditMemo?replace=item"
            % (REC, inv["id"]),
            {"externalId": "r4",
             "item": {"items": [{"item": {"id": "100"}, "quantity": 1,
                                 "amount": 10}]}})
        self.assertEqual(r.status, 204, r)
        self.assertIn("/creditMemo/", r.header("location"))
        memo = self.sim.admin("GET", "records/creditMemo/eid:r4")
        self.assertEqual(memo["createdFrom"]["id"], inv["id"])
        self.assertEqual(memo["entity"]["id"], "42")
        self.assertEqual(memo["location"]["id"], "4")
        self.assertEqual(memo["applied"], Decimal("10.00"))
        self.assertEqual(memo["unapplied"], Decimal("0.00"))
        self.assertEqual(memo["status"]["refName"], "Fully Applied")
        self.assertEqual(memo["apply"]["items"][0]["doc"]["id"], inv["id"])
        self.assertEqual(memo["item"]["count"], 1)
        inv = self.sim.admin("GET", "records/invoice/" + inv["id"])
        self.assertEqual(inv["amountRemaining"], Decimal("10.00"))
        # SuiteQL finds the invoice by the order
        q = self.sim.request("POST", "/services/rest/query/v1/suiteql", {
            "q": "SELECT id FROM transaction WHERE type = 'CustInvc' AND "
                 "createdfrom = '%s'" % so["id"]},
            headers={"Prefer": "transient"})
        self.assertEqual([i["id"] for i in q.json["items"]], [inv["id"]])
        # a transform is a create: the same externalId again is refused
        r = self.sim.request(
            "POST", "%s/invoice/%s/!transform/creditMemo" % (REC, inv["id"]),
            {"externalId": "r4"})
        self.assertError(r, 400, "USER_ERROR")
        # a paid invoice leaves the memo unapplied; the lines come from
        # the invoice without replace=item
        paid = self.sim.admin("POST", "records/invoice", {
            "entity": {"id": "42"}, "amountPaid": 20,
            "item": {"items": [{"item": {"id": "100"}, "quantity": 2,
                                "rate": 10}]}})
        self.assertEqual(paid["status"]["refName"], "Paid In Full")
        r = self.sim.request(
            "POST", "%s/invoice/%s/!transform/creditMemo" % (REC, paid["id"]),
            {"externalId": "r5"})
        self.assertEqual(r.status, 204, r)
        memo = self.sim.admin("GET", "records/creditMemo/eid:r5")
        self.assertEqual(memo["total"], Decimal("20.00"))
        self.assertEqual(memo["applied"], Decimal("0.00"))
        self.assertEqual(memo["unapplied"], Decimal("20.00"))
        self.assertEqual(memo["apply"]["items"], [])
        self.assertEqual(memo["status"]["refName"], "Open")
        # only invoice -> creditMemo
        r = self.sim.request(
            "POST", "%s/salesOrder/%s/!transform/creditMemo" % (REC, so["id"]),
            {})
        self.assertError(r, 400, "USER_ERROR")


class CustomerRefunds(SimTestCase):
    def test_refund_pays_out_a_memo_once(self):
        r = self.sim.request("PUT", CM + "/eid:m1", {
            "entity": {"id": "42"},
            "item": {"items": [{"item": {"id": "100"}, "amount": 30}]}})
        self.assertEqual(r.status, 204, r)
        memo = self.sim.admin("GET", "records/creditMemo/eid:m1")
        self.assertEqual(memo["unapplied"], Decimal("30.00"))
        CR = REC + "/customerRefund/eid:m1?replace=apply"
        body = {"customer": {"id": "42"},
                "apply": {"items": [{"doc": {"id": memo["id"]},
                                     "apply": True, "amount": 30}]}}
        r = self.sim.request("PUT", CR, body)
        self.assertError(r, 400, "USER_ERROR")          # no account
        body["account"] = {"id": "55"}
        body["apply"]["items"][0]["amount"] = 31
        r = self.sim.request("PUT", CR, body)
        self.assertError(r, 400, "USER_ERROR")          # more than left
        body["apply"]["items"][0]["amount"] = 30
        for _ in range(2):
            r = self.sim.request("PUT", CR, body)
            self.assertEqual(r.status, 204, r)
        refunds = self.sim.admin("GET", "records/customerRefund")
        self.assertEqual(len(refunds), 1)
        self.assertEqual(refunds[0]["total"], Decimal("30.00"))
        self.assertEqual(refunds[0]["currency"]["id"], "1")
        memo = self.sim.admin("GET", "records/creditMemo/eid:m1")
        self.assertEqual(memo["unapplied"], Decimal("0.00"))
        self.assertEqual(memo["status"]["refName"], "Fully Applied")
        # another customer's memo cannot be refunded to this one
        body["customer"] = {"id": "43"}
        r = self.sim.request("PUT", REC + "/customerRefund/eid:m2", body)
        self.assertError(r, 400, "USER_ERROR")


class Catalogue(SimTestCase):
    def test_unknown_item_refused_once_catalogue_set(self):
        self.sim.admin("PUT", "items", [
            {"id": "100", "externalId": "SKU-A", "itemId": "Blue mug",
             "basePrice": 12}])
        r = self.sim.request("PUT", SO + "/eid:c1", {
            "entity": {"id": "1"},
            "item": {"items": [{"item": {"externalId": "SKU-A"},
                                "quantity": 2}]}})
        self.assertEqual(r.status, 204, r)
        j = self.sim.request("GET", SO + "/eid:c1?expandSubResources="
                             "true").json
        line = j["item"]["items"][0]
        self.assertEqual(line["item"], {"id": "100", "refName": "Blue mug"})
        self.assertEqual(line["amount"], Decimal("24.00"))
        r = self.sim.request("PATCH", SO + "/eid:c1", {
            "item": {"items": [{"item": {"externalId": "SKU-ZZZ"},
                                "quantity": 1, "rate": 1}]}})
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("Invalid Field Value",
                      r.json["o:errorDetails"][0]["detail"])


if __name__ == "__main__":
    unittest.main()
