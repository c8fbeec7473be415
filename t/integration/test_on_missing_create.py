"""on_missing create: the Sales Order the module creates names its
customer (entity), which NetSuite requires ("Please enter value(s) for:
Customer").  The customer is the Shopify order's, found in NetSuite by
the external id shopify-<shop>-customer-<id>, made when absent with
customers=create, or the guest= one for an order without a customer."""

import json
import unittest

import test_dispatch

SO_EID = test_dispatch.SO_EID
fixture = test_dispatch.fixture

CUST_EID = "shopify-acme-customer-207119551"
CUSTOMER = {"id": 207119551, "email": "bob.norman@example.com",
            "first_name": "Bob", "last_name": "Norman",
            "phone": "+16136120707"}
OTHER_ORDER = 450789470


def with_customer(body, customer=None):
    """The fixture with Shopify's customer object, put in as text so that
    the payload's numbers stay as they were."""
    cust = json.dumps(CUSTOMER if customer is None else customer)
    assert body.startswith(b"{")
    return b'{"customer": ' + cust.encode() + b", " + body[1:]


class CreateCase(test_dispatch.Dispatch):

    def send(self, wid, customer=True, body=None):
        body = body or fixture("01-us-tax-exclusive.json").rstrip()
        if customer:
            body = with_customer(body, None if customer is True
                                 else customer)
        s, _, b = self.ngx.post_webhook("acme", body, wid)
        self.assertEqual(s, 200, b)

    def created(self, eid=SO_EID):
        r = self.sim.request("GET", "/_admin/records/salesOrder/eid:" + eid,
                             sign=False)
        return r.json if r.status == 200 else None

    def exceptions(self):
        return json.loads(self.ngx.request("GET", "/exc")[2])["exceptions"]

    def customers(self):
        return {c["id"]: c for c in
                self.sim.admin("GET", "customers")["customers"]}



# the inherited tests are Dispatch's own, run in test_dispatch
for _name in dir(test_dispatch.Dispatch):
    if _name.startswith("test_"):
        setattr(CreateCase, _name, None)


class FindCustomers(CreateCase):

    # the directive as it was: what ran into "Please enter value(s) for:
    # Customer" on every create before
    extra = "concurrency 4; on_missing create;"

    def test_a_customer_netsuite_has_is_the_orders_entity(self):
        self.sim.admin("POST", "customers", {"id": "321",
                                             "externalId": CUST_EID})
        self.send("f1")

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["entity"]["id"], "321")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.shop()["exceptions"], 0)
        # found, not made
        self.assertEqual(sorted(self.customers()), ["321"])

        # a second order of the same customer: the id is remembered
        other = fixture("01-us-tax-exclusive.json").rstrip().replace(
            b"450789469", str(OTHER_ORDER).encode())
        self.send("f2", body=other)
        so = self.wait(lambda: self.created("shopify-acme-%d"
                                            % OTHER_ORDER),
                       "the second Sales Order")
        self.assertEqual(so["entity"]["id"], "321")
        self.wait(lambda: self.shop()["acked"] == 2, "the second ack")
        reads = self.sim.counters()["reads"]["customer"]
        # one read per worker at most (two workers)
        self.assertLessEqual(reads, 2)

    def test_the_order_is_created_in_its_own_currency(self):
        # the account's default currency (id 1) is GBP here: an order
        # left to default would be booked in pounds
        self.sim.admin("POST", "currencies", {
            "1": {"symbol": "GBP", "precision": 2},
            "2": {"symbol": "USD", "precision": 2}})
        self.sim.admin("POST", "customers", {"id": "321",
                                             "externalId": CUST_EID})
        self.send("f6")

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["currency"]["id"], "2")
        self.assertEqual(so["entity"]["id"], "321")

    def test_a_customer_netsuite_lacks_is_an_exception(self):
        self.send("f3")

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_missing")
        self.assertIn(CUST_EID, exc[0]["netsuite_error"])
        self.assertIn("customers=create", exc[0]["netsuite_error"])
        self.assertIsNone(self.created())
        self.assertEqual(self.customers(), {})



class GuestCustomer(CreateCase):

    extra = "concurrency 4; on_missing create guest=77;"

    def test_a_guest_checkout_is_the_guest_customers(self):
        self.send("f4", customer=False)

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["entity"]["id"], "77")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")

    def test_a_customer_object_without_an_id_is_a_guest(self):
        self.send("f5", customer={"email": "x@example.com"})

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["entity"]["id"], "77")


class MakeCustomers(CreateCase):

    extra = ("concurrency 4; on_missing create customers=create "
             "subsidiary=3;")

    def setUp(self):
        super().setUp()
        # OneWorld: a new customer needs its subsidiary
        self.sim.admin("POST", "preferences", {"one_world": True})

    def test_a_customer_netsuite_lacks_is_made(self):
        self.send("m1")

        so = self.wait(self.created, "the created Sales Order")
        custs = self.customers()
        self.assertEqual(len(custs), 1, custs)
        cid, cust = next(iter(custs.items()))
        self.assertEqual(so["entity"]["id"], cid)
        self.assertEqual(cust["externalId"], CUST_EID)
        self.assertEqual(cust["isPerson"], True)
        self.assertEqual(cust["firstName"], "Bob")
        self.assertEqual(cust["lastName"], "Norman")
        self.assertEqual(cust["email"], "bob.norman@example.com")
        self.assertEqual(cust["subsidiary"], {"id": "3"})
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.shop()["exceptions"], 0)

    def test_a_company_is_made_as_one(self):
        self.send("m2", customer=dict(CUSTOMER, default_address={
            "company": "Norman Tea Ltd"}))

        so = self.wait(self.created, "the created Sales Order")
        cust = self.customers()[so["entity"]["id"]]
        self.assertEqual(cust["isPerson"], False)
        self.assertEqual(cust["companyName"], "Norman Tea Ltd")

    def test_a_guest_checkout_without_guest_is_an_exception(self):
        self.send("m3", customer=False)

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_missing")
        self.assertIn("guest", exc[0]["netsuite_error"])
        self.assertIsNone(self.created())


class MakeCustomersNoSubsidiary(CreateCase):
    """OneWorld refuses a customer without its subsidiary: the webhook is
    an exception with NetSuite's words, nothing is dropped."""

    extra = "concurrency 4; on_missing create customers=create;"

    def test_a_customer_netsuite_refuses_is_an_exception(self):
        self.sim.admin("POST", "preferences", {"one_world": True})
        self.send("s1")

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_rejected")
        self.assertIn("Please enter value(s) for: Primary Subsidiary",
                      exc[0]["netsuite_error"])
        self.assertIsNone(self.created())


class EmailMatch(CreateCase):
    """match=email: a customer another system made, without the external
    id, is found by the order's email (SuiteQL)."""

    extra = "concurrency 4; on_missing create match=email;"

    def test_a_customer_with_the_orders_email_is_the_entity(self):
        self.sim.admin("POST", "customers", [
            {"id": "654", "email": "bob.norman@example.com"},
            {"id": "655", "email": "someone.else@example.com"}])
        self.send("e1")

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["entity"]["id"], "654")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertIn("by email", self.ngx.error_log())

    def test_several_customers_with_the_email_are_an_exception(self):
        self.sim.admin("POST", "customers", [
            {"id": "654", "email": "bob.norman@example.com"},
            {"id": "656", "email": "bob.norman@example.com"}])
        self.send("e2")

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_ambiguous")
        self.assertIsNone(self.created())

    def test_no_customer_with_the_email_is_missing(self):
        self.send("e3")

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_missing")
        self.assertIn("nor the order's email", exc[0]["netsuite_error"])


class EmailMatchCreate(CreateCase):
    """match=email with customers=create: a customer whose email needs
    quoting in SuiteQL (') or differs in case is found, not made again;
    an email that cannot be an address is an exception, never a create."""

    extra = "concurrency 4; on_missing create match=email customers=create;"

    def test_a_quoted_email_in_another_case_is_found_not_made(self):
        self.sim.admin("POST", "customers", [
            {"id": "654", "email": "O'Brien@Example.COM"}])
        self.send("q1", customer=dict(CUSTOMER,
                                      email="o'brien@example.com"))

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["entity"]["id"], "654")
        self.assertEqual(list(self.customers()), ["654"])
        self.assertIn("by email", self.ngx.error_log())

    def test_an_email_with_a_control_character_is_an_exception(self):
        self.send("q2", customer=dict(CUSTOMER,
                                      email="bob\nnorman@example.com"))

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_missing")
        self.assertIn("control character", exc[0]["netsuite_error"])
        self.assertIsNone(self.created())
        self.assertEqual(self.customers(), {})


class RestletCustomers(CreateCase):
    """mode restlet: the block's customer choices reach the script in
    "options" (the simulator plays the script), and its refusal is the
    same exception as REST mode's."""

    store = "taxes_included off;"

    @property
    def extra(self):
        return ("concurrency 4; mode restlet; restlet_url "
                "http://127.0.0.1:%d/app/site/hosting/restlet.nl"
                "?script=1&deploy=1; on_missing create customers=create "
                "guest=77 subsidiary=3;" % self.sim.port)

    def test_the_script_makes_the_customer_and_the_order(self):
        self.sim.admin("POST", "preferences", {"one_world": True})
        self.send("r1")

        so = self.wait(self.created, "the created Sales Order")
        cust = self.customers()[so["entity"]["id"]]
        self.assertEqual(cust["externalId"], CUST_EID)
        self.assertEqual(cust["subsidiary"], {"id": "3"})
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")

    def test_a_guest_checkout_is_the_guest_customers(self):
        self.send("r2", customer=False)

        so = self.wait(self.created, "the created Sales Order")
        self.assertEqual(so["entity"]["id"], "77")


class RestletCustomerMissing(RestletCustomers):

    @property
    def extra(self):
        return ("concurrency 4; mode restlet; restlet_url "
                "http://127.0.0.1:%d/app/site/hosting/restlet.nl"
                "?script=1&deploy=1; on_missing create;" % self.sim.port)

    def test_a_customer_netsuite_lacks_is_an_exception(self):
        self.send("r3")

        exc = self.wait(self.exceptions, "the exception")
        self.assertEqual(exc[0]["reason"], "customer_missing")
        self.assertIn(CUST_EID, exc[0]["netsuite_error"])
        self.assertIsNone(self.created())

    test_the_script_makes_the_customer_and_the_order = None
    test_a_guest_checkout_is_the_guest_customers = None


if __name__ == "__main__":
    unittest.main()
