"""The simulator checks TBA signatures the way NetSuite does."""

import time
import unittest

import nsoauth
from simhelper import SimTestCase, REC, KEYS


class Auth(SimTestCase):
    def setUp(self):
        super().setUp()
        self.sim.seed_order("shopify-1")
        self.path = REC + "/salesOrder/eid:shopify-1"

    def assertLoginFailed(self, r):
        self.assertError(r, 401, "INVALID_LOGIN_ATTEMPT")
        self.assertIn("Invalid login attempt",
                      r.json["o:errorDetails"][0]["detail"])

    def test_good_signature_accepted(self):
        r = self.sim.request("GET", self.path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["externalId"], "shopify-1")

    def test_wrong_consumer_secret(self):
        bad = nsoauth.Credentials(KEYS["consumer_key"], "nope",
                                  KEYS["token_id"], KEYS["token_secret"])
        self.assertLoginFailed(self.sim.request("GET", self.path, creds=bad))

    def test_wrong_token_secret(self):
        bad = nsoauth.Credentials(KEYS["consumer_key"],
                                  KEYS["consumer_secret"], KEYS["token_id"],
                                  KEYS["token_secret"] + "x")
        self.assertLoginFailed(self.sim.request("GET", self.path, creds=bad))

    def test_unknown_token(self):
        bad = nsoauth.Credentials(KEYS["consumer_key"],
                                  KEYS["consumer_secret"], "other-token",
                                  KEYS["token_secret"])
        self.assertLoginFailed(self.sim.request("GET", self.path, creds=bad))

    def test_wrong_realm(self):
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                realm="7654321_SB1"))
        # The realm is upper-case with an underscore; the host spelling
        # (lower-case, hyphen) is refused.
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                realm="1234567-sb1"))
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                realm="1234567_sb1"))

    def test_hmac_sha1_refused(self):
        r = self.sim.request("GET", self.path, signature_method="HMAC-SHA1")
        self.assertLoginFailed(r)
        log = self.sim.admin("GET", "requests")["requests"]
        self.assertIn("HMAC-SHA1", log[-1]["auth_error"])

    def test_replayed_nonce_refused(self):
        r = self.sim.request("GET", self.path, nonce="fixedNonce123")
        self.assertEqual(r.status, 200, r)
        r = self.sim.request("GET", self.path, nonce="fixedNonce123")
        self.assertLoginFailed(r)
        self.assertIn("replayed", self.sim.admin(
            "GET", "requests")["requests"][-1]["auth_error"])

    def test_failed_request_does_not_burn_nonce(self):
        # A forged request must not be able to spend a genuine nonce.
        bad = nsoauth.Credentials(KEYS["consumer_key"], "nope",
                                  KEYS["token_id"], KEYS["token_secret"])
        self.assertLoginFailed(self.sim.request("GET", self.path, creds=bad,
                                                nonce="sharedNonce1"))
        r = self.sim.request("GET", self.path, nonce="sharedNonce1")
        self.assertEqual(r.status, 200, r)

    def test_timestamp_skew_bounded(self):
        old = int(time.time()) - 3600
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                timestamp=old))
        future = int(time.time()) + 3600
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                timestamp=future))
        r = self.sim.request("GET", self.path, timestamp=int(time.time()) - 60)
        self.assertEqual(r.status, 200, r)

    def test_short_nonce_refused(self):
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                nonce="abc"))

    def test_missing_version_refused(self):
        self.assertLoginFailed(self.sim.request("GET", self.path,
                                                version=None))

    def test_no_authorization_header(self):
        self.assertLoginFailed(self.sim.request("GET", self.path, sign=False))

    def test_query_parameters_are_signed(self):
        path = self.path + "?fields=orderStatus,total&expandSubResources=false"
        self.assertEqual(self.sim.request("GET", path).status, 200)
        # Signed without the query, sent with it: refused.
        c = self.sim.creds
        header, _ = nsoauth.sign("GET", self.sim.url(self.path),
                                 c.consumer_key, c.consumer_secret,
                                 c.token_id, c.token_secret,
                                 realm=self.sim.realm)
        r = self.sim.request("GET", path, sign=False,
                             headers={"Authorization": header})
        self.assertLoginFailed(r)

    def test_signed_for_another_host_refused(self):
        # The signature covers scheme://host:port/path of the Host header
        # the client sent.
        c = self.sim.creds
        url = "https://1234567-sb1.suitetalk.api.netsuite.com" + self.path
        header, _ = nsoauth.sign("GET", url, c.consumer_key,
                                 c.consumer_secret, c.token_id,
                                 c.token_secret, realm=self.sim.realm)
        r = self.sim.request("GET", self.path, sign=False,
                             headers={"Authorization": header})
        self.assertLoginFailed(r)

    def test_json_body_not_signed(self):
        # The body is not part of the signature: the same header works
        # whatever JSON follows (NetSuite's behaviour; the body's
        # integrity is TLS's job).
        r = self.sim.request("PATCH", self.path, {"memo": "hello"})
        self.assertEqual(r.status, 204, r)

    def test_401s_counted(self):
        self.sim.request("GET", self.path, realm="x")
        c = self.sim.counters()
        self.assertEqual(c["401"], 1)
        self.assertEqual(c["auth_failures"], 1)
        self.assertEqual(c["4xx"], 1)

    def test_restlet_401_shape(self):
        r = self.sim.request("POST", "/app/site/hosting/restlet.nl?script=1"
                             "&deploy=1", {"cancellation": {}}, realm="x")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["error"]["code"], "INVALID_LOGIN_ATTEMPT")


class BaseURL(SimTestCase):
    """--base-url: verify against the public NetSuite URL, as behind an
    egress proxy that forwards to NetSuite."""

    sim_args = ("--base-url",
                "https://1234567-sb1.suitetalk.api.netsuite.com")

    def test_signed_for_public_url(self):
        self.sim.seed_order("shopify-2")
        path = REC + "/salesOrder/eid:shopify-2"
        c = self.sim.creds
        header, _ = nsoauth.sign(
            "GET", "https://1234567-sb1.suitetalk.api.netsuite.com" + path,
            c.consumer_key, c.consumer_secret, c.token_id, c.token_secret,
            realm=self.sim.realm)
        r = self.sim.request("GET", path, sign=False,
                             headers={"Authorization": header})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["links"][0]["href"].startswith(
            "https://1234567-sb1.suitetalk.api.netsuite.com/services/"))
        # Signed for the address actually used: refused here.
        self.assertEqual(self.sim.request("GET", path).status, 401)


if __name__ == "__main__":
    unittest.main()
