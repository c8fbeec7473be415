"""The simulator's cash sales, cash refunds, return authorizations and
item receipts (issue 12): the transforms, what each does to stock and to
its source's status (docs/netsuite-simulator.md, research notes 5, 6)."""

import unittest
from decimal import Decimal

from simhelper import SimTestCase, REC

SUITEQL = "/services/rest/query/v1/suiteql"


class Returns(SimTestCase):

    def setUp(self):
        super().setUp()
        self.sim.admin("PUT", "items", [
            {"id": "100"}, {"id": "200"},
            {"id": "7001", "externalId": "shopify-refund_no_restock",
             "itemType": "otherChargeSaleItem"}])

    def order(self, ext="shopify-60", status="F"):
        so = self.sim.seed_order(ext, lines=[
            {"item": {"id": "100"}, "quantity": 2, "rate": 10},
            {"item": {"id": "200"}, "quantity": 1, "rate": 5}],
            location={"id": "4"}, subsidiary={"id": "3"},
            department={"id": "5"}, **{"class": {"id": "6"}})
        if status:
            self.sim.admin("POST", "records/salesOrder/%s/status" % so["id"],
                           {"orderStatus": status})
        return so

    def transform(self, src, sid, target, body=None, replace=False):
        return self.sim.request(
            "POST", "%s/%s/%s/!transform/%s%s"
            % (REC, src, sid, target, "?replace=item" if replace else ""),
            body or {})

    def made(self, r, rtype):
        self.assertEqual(r.status, 204, r)
        rid = r.header("location").rsplit("/", 1)[1]
        self.assertIn("/%s/" % rtype, r.header("location"))
        return self.sim.admin("GET", "records/%s/%s" % (rtype, rid))

    def ra_status(self, ra):
        """The return authorization's status now."""
        return self.sim.admin("GET", "records/returnAuthorization/"
                              + ra["id"])["orderStatus"]["refName"]

    def stock(self):
        return self.sim.admin("GET", "inventory/locations")["stock"]

    def suiteql(self, q):
        r = self.sim.request("POST", SUITEQL, {"q": q},
                             headers={"Prefer": "transient"})
        self.assertEqual(r.status, 200, r)
        return r.json["items"]

    def test_a_cash_sale_bills_the_order(self):
        so = self.order()
        cs = self.made(self.transform("salesOrder", so["id"], "cashSale",
                                      {"account": {"id": "55"}}), "cashSale")
        self.assertEqual(cs["createdFrom"]["id"], so["id"])
        self.assertEqual(cs["location"]["id"], "4")
        self.assertEqual(cs["total"], Decimal("25.00"))
        self.assertEqual(cs["status"]["refName"], "Not Deposited")
        self.assertEqual([l["orderLine"] for l in cs["item"]["items"]],
                         [1, 2])
        so = self.sim.admin("GET", "records/salesOrder/" + so["id"])
        self.assertEqual(so["orderStatus"]["id"], "G")
        self.assertEqual([l["quantityBilled"] for l in so["item"]["items"]],
                         [2, 1])
        # billed once: nothing left to bill
        r = self.transform("salesOrder", so["id"], "cashSale")
        self.assertError(r, 400, "USER_ERROR")
        rows = self.suiteql("SELECT id FROM transaction WHERE type = "
                            "'CashSale' AND createdfrom = '%s'" % so["id"])
        self.assertEqual([x["id"] for x in rows], [cs["id"]])
        # nothing fulfilled, nothing to bill
        other = self.order("shopify-61", status=None)
        self.assertError(self.transform("salesOrder", other["id"], "invoice"),
                         400, "USER_ERROR")

    def test_a_cash_refund_from_the_cash_sale(self):
        so = self.order()
        cs = self.made(self.transform("salesOrder", so["id"], "cashSale",
                                      {"account": {"id": "55"}}), "cashSale")
        body = {"externalId": "shopify-acme-refund-1", "item": {"items": [
            {"orderLine": 1, "quantity": 1, "amount": 10},
            {"item": {"id": "7001"}, "quantity": 1, "amount": 5}]}}
        cr = self.made(self.transform("cashSale", cs["id"], "cashRefund",
                                      body, replace=True), "cashRefund")
        # linked to the cash sale, defaulted from it
        self.assertEqual(cr["createdFrom"]["id"], cs["id"])
        for f in ("location", "subsidiary", "department", "class",
                  "currency", "account", "entity"):
            self.assertEqual(cr[f]["id"], cs[f]["id"], f)
        self.assertEqual(cr["total"], Decimal("15.00"))
        self.assertEqual([(l["item"]["id"], l.get("orderLine"))
                          for l in cr["item"]["items"]],
                         [("100", 1), ("7001", None)])
        # the inventory line back in stock at the order's location; the
        # other charge item is no stock
        self.assertEqual(self.stock(), {"4": {"100": 1}})
        # the same external id again: refused, nothing more in stock
        r = self.transform("cashSale", cs["id"], "cashRefund", body,
                           replace=True)
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("already exists", r.json["o:errorDetails"][0]["detail"])
        self.assertEqual(self.stock(), {"4": {"100": 1}})
        # found by its external id, by GET and by SuiteQL
        r = self.sim.request("GET", REC + "/cashRefund/eid:"
                             "shopify-acme-refund-1?fields=externalId")
        self.assertEqual((r.status, r.json["id"]), (200, cr["id"]))
        rows = self.suiteql("SELECT id FROM transaction WHERE type = "
                            "'CashRfnd' AND externalid = "
                            "'shopify-acme-refund-1'")
        self.assertEqual([x["id"] for x in rows], [cr["id"]])
        # more than the sale has left: refused, no record, no stock
        r = self.transform("cashSale", cs["id"], "cashRefund",
                           {"externalId": "r-2", "item": {"items": [
                               {"orderLine": 1, "quantity": 2}]}},
                           replace=True)
        self.assertError(r, 400, "USER_ERROR")
        self.assertEqual(len(self.sim.admin("GET", "records/cashRefund")), 1)
        self.assertEqual(self.stock(), {"4": {"100": 1}})
        # without lines: what is left (one of 100, the 200)
        rest = self.made(self.transform("cashSale", cs["id"], "cashRefund",
                                        {"externalId": "r-3"}), "cashRefund")
        self.assertEqual([(l["item"]["id"], l["quantity"], l["orderLine"])
                          for l in rest["item"]["items"]],
                         [("100", 1, 1), ("200", 1, 2)])
        self.assertEqual(self.stock(), {"4": {"100": 2, "200": 1}})
        self.assertError(self.transform("cashSale", cs["id"], "cashRefund"),
                         400, "USER_ERROR")
        # the order's status does not move
        so = self.sim.admin("GET", "records/salesOrder/" + so["id"])
        self.assertEqual(so["orderStatus"]["id"], "G")

    def test_a_return_authorization_received_then_credited(self):
        so = self.order()
        # only what was fulfilled can be returned (F: everything)
        r = self.transform("salesOrder", so["id"], "returnAuthorization",
                           {"externalId": "ra-1", "item": {"items": [
                               {"orderLine": 1, "quantity": 3}]}},
                           replace=True)
        self.assertError(r, 400, "USER_ERROR")
        ra = self.made(self.transform(
            "salesOrder", so["id"], "returnAuthorization",
            {"externalId": "ra-1", "item": {"items": [
                {"orderLine": 1, "quantity": 2}]}}, replace=True),
            "returnAuthorization")
        self.assertEqual(ra["createdFrom"]["id"], so["id"])
        self.assertEqual(ra["location"]["id"], "4")
        self.assertEqual(ra["orderStatus"]["refName"], "Pending Approval")
        self.assertEqual(ra["total"], Decimal("20.00"))
        # an authorization moves no stock, and the order stays as it was
        self.assertEqual(self.stock(), {})
        so2 = self.sim.admin("GET", "records/salesOrder/" + so["id"])
        self.assertEqual(so2["orderStatus"]["id"], "F")
        # not approved: neither received nor credited
        for target in ("itemReceipt", "creditMemo", "cashRefund"):
            self.assertError(self.transform("returnAuthorization", ra["id"],
                                            target), 400, "USER_ERROR")
        r = self.sim.request("PATCH", "%s/returnAuthorization/%s"
                             % (REC, ra["id"]), {"orderStatus": {"id": "B"}})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.ra_status(ra), "Pending Receipt")
        # nothing received: nothing to credit (no Refund in Advance)
        self.assertError(self.transform("returnAuthorization", ra["id"],
                                        "creditMemo"), 400, "USER_ERROR")
        # one of two received, not restocked (damaged)
        ir = self.made(self.transform(
            "returnAuthorization", ra["id"], "itemReceipt",
            {"item": {"items": [{"orderLine": 1, "quantity": 1,
                                 "restock": False}]}}), "itemReceipt")
        self.assertEqual(ir["createdFrom"]["id"], ra["id"])
        self.assertEqual(self.stock(), {})
        self.assertEqual(self.ra_status(ra),
                         "Pending Refund/Partially Received")
        ra = self.sim.admin("GET", "records/returnAuthorization/" + ra["id"])
        self.assertEqual(ra["item"]["items"][0]["quantityReceived"], 1)
        # the received one credited: no stock from the memo
        cm = self.made(self.transform("returnAuthorization", ra["id"],
                                      "creditMemo", {"externalId": "cm-1"}),
                       "creditMemo")
        self.assertEqual(cm["createdFrom"]["id"], ra["id"])
        self.assertEqual(cm["total"], Decimal("10.00"))
        self.assertEqual(cm["unapplied"], Decimal("10.00"))
        self.assertEqual(self.stock(), {})
        self.assertEqual(self.ra_status(ra), "Partially Received")
        # the other one received and restocked at the order's location
        self.made(self.transform("returnAuthorization", ra["id"],
                                 "itemReceipt"), "itemReceipt")
        self.assertEqual(self.stock(), {"4": {"100": 1}})
        self.assertEqual(self.ra_status(ra), "Pending Refund")
        self.assertError(self.transform("returnAuthorization", ra["id"],
                                        "itemReceipt"), 400, "USER_ERROR")
        # refunded in cash: Refunded, still no stock from the refund
        self.made(self.transform("returnAuthorization", ra["id"],
                                 "cashRefund", {"externalId": "cr-1"}),
                  "cashRefund")
        self.assertEqual(self.stock(), {"4": {"100": 1}})
        ra = self.sim.admin("GET", "records/returnAuthorization/" + ra["id"])
        self.assertEqual(ra["status"], {"id": "refunded",
                                        "refName": "Refunded"})
        rows = self.suiteql("SELECT id, status FROM transaction WHERE type "
                            "= 'RtnAuth' AND createdfrom = '%s'" % so["id"])
        self.assertEqual(rows, [{"links": [], "id": ra["id"],
                                 "status": "G"}])
        # the whole order's lines are authorized once: nothing more
        r = self.transform("salesOrder", so["id"], "returnAuthorization",
                           {"item": {"items": [{"orderLine": 1,
                                                "quantity": 1}]}},
                           replace=True)
        self.assertError(r, 400, "USER_ERROR")

    def test_refund_in_advance_of_return_credits_before_receipt(self):
        self.sim.admin("POST", "preferences",
                       {"refund_in_advance_of_return": True})
        so = self.order()
        ra = self.made(self.transform(
            "salesOrder", so["id"], "returnAuthorization",
            {"orderStatus": {"id": "B"}}), "returnAuthorization")
        self.assertEqual(ra["orderStatus"]["id"], "B")
        cm = self.made(self.transform("returnAuthorization", ra["id"],
                                      "creditMemo", {"externalId": "cm-2"}),
                       "creditMemo")
        self.assertEqual(cm["total"], Decimal("25.00"))
        self.assertEqual(self.stock(), {})
        self.assertEqual(self.ra_status(ra), "Pending Receipt")
        self.made(self.transform("returnAuthorization", ra["id"],
                                 "itemReceipt"), "itemReceipt")
        self.assertEqual(self.ra_status(ra), "Refunded")
        self.assertEqual(self.stock(), {"4": {"100": 2, "200": 1}})
        # a reset turns the preference off again
        self.sim.admin("POST", "reset")
        self.assertEqual(self.sim.admin("GET", "preferences"),
                         {"refund_in_advance_of_return": False,
                          "external_id_scope": "type",
                          "one_world": False})

    def test_external_ids_unique_per_type_or_across_transactions(self):
        so = self.order()
        body = {"entity": {"id": "42"}, "item": {"items": [
            {"item": {"id": "100"}, "quantity": 1, "amount": 10}]}}
        r = self.sim.request("PUT", REC + "/creditMemo/eid:shopify-r9", body)
        self.assertEqual(r.status, 204, r)
        memo = self.sim.admin("GET", "records/creditMemo/eid:shopify-r9")
        refund = {"customer": {"id": "42"}, "account": {"id": "55"},
                  "apply": {"items": [{"doc": {"id": memo["id"]},
                                       "amount": 10}]}}
        # the same external id on another record type: per type, fine
        self.assertEqual(self.sim.request(
            "POST", "%s/salesOrder/%s/!transform/returnAuthorization"
            % (REC, so["id"]), {"externalId": "shopify-r9"}).status, 204)
        # across every transaction (research notes 10.1): refused, on a
        # transform, a POST and a customer refund's upsert alike
        self.sim.admin("POST", "preferences",
                       {"external_id_scope": "transaction"})
        r = self.sim.request("PUT", REC + "/customerRefund/eid:shopify-r9",
                             refund)
        self.assertError(r, 400, "USER_ERROR")
        self.assertIn("A creditMemo with externalId shopify-r9",
                      r.json["o:errorDetails"][0]["detail"])
        r = self.transform("salesOrder", so["id"], "cashSale",
                           {"externalId": "shopify-r9"})
        self.assertError(r, 400, "USER_ERROR")
        r = self.sim.request("PUT", REC + "/customerRefund/eid:shopify-r9-cr",
                             refund)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.records_of("customerRefund"), 1)

    def records_of(self, rtype):
        return len(self.sim.admin("GET", "records/" + rtype))

    def test_what_cannot_be_done(self):
        # an unfulfilled order has nothing to return
        so = self.order(status=None)
        self.assertError(self.transform("salesOrder", so["id"],
                                        "returnAuthorization"),
                         400, "USER_ERROR")
        # an item receipt only from its return authorization
        r = self.sim.request("POST", REC + "/itemReceipt", {
            "entity": {"id": "42"},
            "item": {"items": [{"item": {"id": "100"}, "rate": 1}]}})
        self.assertError(r, 400, "USER_ERROR")
        # a return authorization is approved, not set to Refunded
        ra = self.made(self.transform(
            "salesOrder", self.order("shopify-62")["id"],
            "returnAuthorization"), "returnAuthorization")
        r = self.sim.request("PATCH", "%s/returnAuthorization/%s"
                             % (REC, ra["id"]), {"orderStatus": {"id": "G"}})
        self.assertError(r, 400, "USER_ERROR")
        # a receipt line must be one of the authorization's
        self.sim.admin("POST", "records/returnAuthorization/%s/status"
                       % ra["id"], {"orderStatus": "B"})
        r = self.transform("returnAuthorization", ra["id"], "itemReceipt",
                           {"item": {"items": [{"item": {"id": "7001"},
                                                "quantity": 1, "rate": 1}]}},
                           replace=True)
        self.assertError(r, 400, "USER_ERROR")
        self.assertEqual(self.sim.admin("GET", "records/itemReceipt"), [])
        # the simulator deletes none of these
        cs = self.sim.admin("POST", "records/cashSale", {
            "entity": {"id": "42"},
            "item": {"items": [{"item": {"id": "100"}, "rate": 1}]}})
        r = self.sim.request("DELETE", "%s/cashSale/%s" % (REC, cs["id"]))
        self.assertError(r, 400, "USER_ERROR")
        # a cash refund cannot be made from a credit memo's pair
        self.assertError(self.transform("cashSale", cs["id"], "creditMemo"),
                         400, "USER_ERROR")


if __name__ == "__main__":
    unittest.main()
