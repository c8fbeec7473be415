"""The simulator's OAuth 2.0 client credentials (M2M) token endpoint and
Bearer tokens: what it accepts and what it refuses, as NetSuite's help
describes (docs/netsuite-simulator.md).  Assertions are made here with
Python's cryptography, independently of the module's C signer."""

import base64
import json
import secrets
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)

from simhelper import SimTestCase

TOKEN = "/services/rest/auth/oauth2/v1/token"
TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT = "client-0123"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=3072)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(aud, key=RSA_KEY, alg="PS256", kid="cert-rsa", der=False,
              **claims):
    now = int(time.time())
    c = {"iss": CLIENT, "scope": "rest_webservices", "aud": aud,
         "iat": now, "exp": now + 300, "jti": secrets.token_hex(16)}
    c.update(claims)
    c = {k: v for k, v in c.items() if v is not None}
    head = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(c).encode())
    data = (head + "." + body).encode()
    if alg == "PS256":
        sig = key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                         salt_length=32), hashes.SHA256())
    else:
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if not der:
            r, s = decode_dss_signature(sig)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return head + "." + body + "." + b64(sig)


class M2M(SimTestCase):

    def setUp(self):
        self.sim.admin("POST", "reset", {"oauth2": True})
        self.sim.admin("POST", "oauth2", {
            "client_id": CLIENT,
            "certificates": {"cert-rsa": pem(RSA_KEY),
                             "cert-ec": pem(EC_KEY)}})
        self.aud = self.sim.url(TOKEN)

    def token(self, jwt, **form):
        f = {"grant_type": "client_credentials",
             "client_assertion_type": TYPE, "client_assertion": jwt}
        f.update(form)
        return self.sim.request(
            "POST", TOKEN, urllib.parse.urlencode(f), sign=False,
            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def bearer(self, token, path="/services/rest/record/v1/salesOrder/"
               "eid:shopify-1001"):
        return self.sim.request("GET", path, sign=False,
                                headers={"Authorization": "Bearer " + token})

    def assertRefused(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"], code, r)

    def test_ps256_and_es256_get_tokens_that_read_records(self):
        self.sim.seed_order()
        for jwt in (assertion(self.aud),
                    assertion(self.aud, EC_KEY, "ES256", "cert-ec")):
            r = self.token(jwt)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["expires_in"], 3600)
            self.assertNotIn("refresh_token", r.json)
            self.assertEqual(self.bearer(r.json["access_token"]).status, 200)

    def test_replayed_assertion_refused(self):
        jwt = assertion(self.aud)
        self.assertEqual(self.token(jwt).status, 200)
        self.assertRefused(self.token(jwt), 400, "invalid_grant")
        self.assertEqual(self.sim.admin("GET", "oauth2")["counters"]
                         ["replayed"], 1)

    def test_claims_checked(self):
        for jwt, status, code in (
                (assertion(self.aud, iss="someone"), 401, "invalid_client"),
                (assertion(self.aud + "x"), 400, "invalid_grant"),
                (assertion("https://1234567-sb1.suitetalk.api.netsuite.com"
                           + TOKEN), 400, "invalid_grant"),
                (assertion(self.aud, exp=int(time.time()) + 3600),
                 400, "invalid_grant"),
                (assertion(self.aud, iat=int(time.time()) - 900,
                           exp=int(time.time()) - 600), 400,
                 "invalid_grant"),
                (assertion(self.aud, scope="everything"), 400,
                 "invalid_scope"),
                (assertion(self.aud, scope=None), 400, "invalid_scope"),
                (assertion(self.aud, kid="cert-unknown"), 401,
                 "invalid_client")):
            self.assertRefused(self.token(jwt), status, code)

    def test_signature_checked(self):
        # the other key under this kid; a DER ECDSA signature; a PSS salt
        # other than the digest length
        self.assertRefused(self.token(assertion(self.aud, EC_KEY, "ES256",
                                                "cert-rsa")),
                           401, "invalid_client")
        self.assertRefused(self.token(assertion(self.aud, EC_KEY, "ES256",
                                                "cert-ec", der=True)),
                           401, "invalid_client")
        head, body, _ = assertion(self.aud).split(".")
        sig = RSA_KEY.sign((head + "." + body).encode(), padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()),
            salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
        self.assertRefused(self.token(head + "." + body + "." + b64(sig)),
                           401, "invalid_client")

    def test_form_checked(self):
        self.assertRefused(self.token(assertion(self.aud),
                                      grant_type="password"),
                           400, "unsupported_grant_type")
        self.assertRefused(self.token(assertion(self.aud),
                                      client_assertion_type="x"),
                           400, "invalid_request")

    def test_small_rsa_certificate_refused_at_upload(self):
        r = self.sim.request("POST", "/_admin/oauth2",
                             {"certificates": {"c": pem(RSA_2048)}},
                             sign=False)
        self.assertEqual(r.status, 400, r)

    def test_revoked_and_expired_tokens_get_401(self):
        self.sim.seed_order()
        self.sim.admin("POST", "oauth2", {"token_ttl": 0.3})
        t1 = self.token(assertion(self.aud)).json["access_token"]
        t2 = self.token(assertion(self.aud)).json["access_token"]
        self.assertEqual(self.bearer(t1).status, 200)
        self.sim.admin("POST", "oauth2", {"revoke_tokens": True})
        self.assertEqual(self.bearer(t1).status, 401)
        t3 = self.token(assertion(self.aud)).json["access_token"]
        self.assertEqual(self.bearer(t3).status, 200)
        time.sleep(0.35)
        self.assertEqual(self.bearer(t2).status, 401)   # revoked, expired
        self.assertEqual(self.bearer(t3).status, 401)   # expired
        self.assertEqual(self.bearer("sim2.made-up").status, 401)

    def test_revoked_certificate(self):
        self.sim.admin("POST", "oauth2", {"revoke_certificate": "cert-rsa"})
        self.assertRefused(self.token(assertion(self.aud)), 401,
                           "invalid_client")
        self.assertEqual(self.token(assertion(self.aud, EC_KEY, "ES256",
                                              "cert-ec")).status, 200)

    def test_scope_of_the_token(self):
        r = self.token(assertion(self.aud, scope="restlets"))
        self.assertEqual(self.bearer(r.json["access_token"]).status, 401)

    def test_down(self):
        self.sim.admin("POST", "oauth2", {"down": 503})
        self.assertEqual(self.token(assertion(self.aud)).status, 503)
        self.sim.admin("POST", "oauth2", {"down": False})
        self.assertEqual(self.token(assertion(self.aud)).status, 200)
