"""OAuth 2.0 client credentials (machine to machine), as NetSuite does it.

Oracle's help, verified for this simulator:

* "OAuth 2.0 Client Credentials Setup" (section_162686838198): the
  integration record has the Client Credentials (Machine to Machine) Grant;
  the public part of a certificate is uploaded for an entity, role and
  application, and NetSuite shows a Certificate ID; a certificate can be
  revoked.
* "Certificate Conditions" (subsect_162755332391): RSA keys of 3072 or 4096
  bits, EC keys of 256, 384 or 521 bits.
* "The Request Token Structure" (section_162790605110): header typ JWT, alg
  PS256/PS384/PS512/ES256/ES384/ES512, kid the Certificate ID; claims iss
  the client id, scope (restlets, rest_webservices, suite_analytics, comma
  separated), aud the token endpoint URL, iat, exp less than 60 minutes
  after iat.
* "POST Request to the Token Endpoint and the Access Token Response"
  (section_162755359851): POST /services/rest/auth/oauth2/v1/token, form
  encoded grant_type=client_credentials, client_assertion_type=
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer, client_assertion;
  the answer has access_token and expires_in (3600), no refresh token.

The simulator refuses a replayed assertion (the same jti, or the same
assertion when it has none, while it is valid), as RFC 7523 3 allows.

Everything is guarded by the Simulator's lock, taken by the callers here.
"""

import base64
import hashlib
import json
import secrets
import time
import urllib.parse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    encode_dss_signature)

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPES = ("restlets", "rest_webservices", "suite_analytics")
ALGS = {"PS256": hashes.SHA256, "PS384": hashes.SHA384,
        "PS512": hashes.SHA512, "ES256": hashes.SHA256,
        "ES384": hashes.SHA384, "ES512": hashes.SHA512}
EC_LEN = {"ES256": (32, 256), "ES384": (48, 384), "ES512": (66, 521)}
MAX_ASSERTION_LIFE = 3600
SKEW = 60


class AuthError(Exception):
    """A refused token request: (status, OAuth error code, why)."""

    def __init__(self, status, code, why):
        super().__init__(why)
        self.status = status
        self.code = code


def b64url(s):
    if any(c in s for c in "=+/ "):
        raise AuthError(400, "invalid_request", "not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except ValueError:
        raise AuthError(400, "invalid_request", "bad base64url")


def load_public_key(pem):
    """A certificate (x.509 PEM, what NetSuite takes) or a bare public key
    (tests); RSA of 3072+ bits or EC P-256/384/521."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 3072:
            raise ValueError("RSA keys must be 3072 or 4096 bits")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size not in (256, 384, 521):
            raise ValueError("EC keys must be 256, 384 or 521 bits")
    else:
        raise ValueError("not an RSA or EC public key")
    return key


class M2M:
    def __init__(self, client_id=None, certificates=None, token_ttl=3600):
        self.default_client_id = client_id
        self.default_certificates = dict(certificates or {})
        self.default_ttl = token_ttl
        self.reset()

    def reset(self, setup=True, tokens=True, faults=True, counters=True):
        """setup: the client id and certificates back to the command
        line's; tokens: every token and remembered jti forgotten; faults:
        the token life, down, reject_bearer and revocations undone."""
        if setup:
            self.client_id = self.default_client_id
            self.certificates = {k: load_public_key(v) for k, v in
                                 self.default_certificates.items()}
            self.scopes = set(SCOPES)
        if faults:
            self.revoked_certificates = set()
            self.token_ttl = self.default_ttl
            self.expires_in = None      # the answer's; None: token_ttl
            self.down = None            # None, an HTTP status, "reset"
            self.reject_bearer = False  # every Bearer token refused (a
            #                             role without the permission)
        if tokens:
            self.tokens = {}
            self.jtis = {}
        if counters:
            self.c = {"token_requests": 0, "tokens_issued": 0,
                      "token_refused": 0, "token_down": 0, "replayed": 0,
                      "bearer_ok": 0, "bearer_401": 0}
            self.issued_by_kid = {}
            self.last_refusal = None

    # ------------------------------------------------------------------
    # admin

    def configure(self, conf):
        """POST /_admin/oauth2: any of client_id, certificates {id: PEM},
        scopes [...], token_ttl, expires_in, down, reject_bearer,
        revoke_tokens, revoke_certificate, restore_certificate."""
        for k in conf:
            if k not in ("client_id", "certificates", "scopes", "token_ttl",
                         "expires_in", "down", "reject_bearer",
                         "revoke_tokens", "revoke_certificate",
                         "restore_certificate"):
                raise ValueError("unknown oauth2 setting %r" % k)
        if "client_id" in conf:
            self.client_id = conf["client_id"]
        for cid, pem in (conf.get("certificates") or {}).items():
            self.certificates[cid] = load_public_key(pem)
        if "scopes" in conf:
            self.scopes = set(conf["scopes"])
        if "token_ttl" in conf:
            self.token_ttl = float(conf["token_ttl"])
        if "expires_in" in conf:
            self.expires_in = conf["expires_in"]
        if "down" in conf:
            d = conf["down"]
            if d not in (None, False, "reset") and not (
                    isinstance(d, int) and 400 <= d <= 599):
                raise ValueError("down: false, \"reset\" or an HTTP status")
            self.down = d or None
        if "reject_bearer" in conf:
            self.reject_bearer = bool(conf["reject_bearer"])
        if conf.get("revoke_tokens"):
            for t in self.tokens.values():
                t["revoked"] = True
        if conf.get("revoke_certificate"):
            cid = conf["revoke_certificate"]
            self.revoked_certificates.add(cid)
            # revoking a certificate ends the tokens it got
            for t in self.tokens.values():
                if t["kid"] == cid:
                    t["revoked"] = True
        if conf.get("restore_certificate"):
            self.revoked_certificates.discard(conf["restore_certificate"])
        return self.snapshot()

    def snapshot(self):
        now = time.time()
        return {"client_id": self.client_id,
                "certificates": sorted(self.certificates),
                "revoked_certificates": sorted(self.revoked_certificates),
                "token_ttl": self.token_ttl, "expires_in": self.expires_in,
                "down": self.down, "reject_bearer": self.reject_bearer,
                "live_tokens": sum(1 for t in self.tokens.values()
                                   if not t["revoked"]
                                   and t["expires"] > now),
                "by_kid": dict(self.issued_by_kid),
                "last_refusal": self.last_refusal,
                "counters": dict(self.c)}

    # ------------------------------------------------------------------
    # the token endpoint

    def token(self, body, content_type, base_url):
        """(status, JSON object) for a token request."""
        self.c["token_requests"] += 1
        try:
            return 200, self._token(body, content_type, base_url)
        except AuthError as e:
            self.c["token_refused"] += 1
            self.last_refusal = str(e)
            return e.status, {"error": e.code}

    def _token(self, body, content_type, base_url):
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise AuthError(400, "invalid_request", "not a form")
        form = dict(urllib.parse.parse_qsl(body.decode("ascii", "replace"),
                                           keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise AuthError(400, "unsupported_grant_type",
                            "grant_type %r" % form.get("grant_type"))
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise AuthError(400, "invalid_request",
                            "client_assertion_type %r"
                            % form.get("client_assertion_type"))
        jwt = form.get("client_assertion", "")
        parts = jwt.split(".")
        if len(parts) != 3:
            raise AuthError(400, "invalid_request", "not a JWS")
        try:
            header = json.loads(b64url(parts[0]))
            claims = json.loads(b64url(parts[1]))
        except ValueError:
            raise AuthError(400, "invalid_request", "not JSON")
        sig = b64url(parts[2])

        alg = header.get("alg")
        if header.get("typ") != "JWT" or alg not in ALGS:
            raise AuthError(400, "invalid_request", "header %r" % header)
        kid = header.get("kid")
        key = self.certificates.get(kid)
        if key is None or kid in self.revoked_certificates:
            raise AuthError(401, "invalid_client",
                            "unknown or revoked certificate id %r" % kid)
        self._verify(key, alg, (parts[0] + "." + parts[1]).encode(), sig)

        if claims.get("iss") != self.client_id:
            raise AuthError(401, "invalid_client", "iss %r"
                            % claims.get("iss"))
        aud = base_url + TOKEN_PATH
        if claims.get("aud") != aud:
            raise AuthError(400, "invalid_grant", "aud %r, expected %r"
                            % (claims.get("aud"), aud))
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise AuthError(400, "invalid_grant", "iat/exp not integers")
        if exp <= iat or exp - iat >= MAX_ASSERTION_LIFE:
            raise AuthError(400, "invalid_grant",
                            "exp must be less than 60 minutes after iat")
        if iat > now + SKEW or exp < now - SKEW:
            raise AuthError(400, "invalid_grant", "iat/exp outside the "
                            "clock window")
        scope = claims.get("scope")
        wanted = set(scope.split(",")) if isinstance(scope, str) else set()
        if not wanted or not wanted <= self.scopes:
            raise AuthError(400, "invalid_scope", "scope %r" % scope)

        jti = claims.get("jti") or hashlib.sha256(jwt.encode()).hexdigest()
        for k in [k for k, t in self.jtis.items() if t < now - SKEW]:
            del self.jtis[k]
        if jti in self.jtis:
            self.c["replayed"] += 1
            raise AuthError(400, "invalid_grant", "assertion replayed")
        self.jtis[jti] = exp

        token = "sim2." + secrets.token_urlsafe(48)
        self.tokens[token] = {"kid": kid, "scope": wanted,
                              "expires": now + self.token_ttl,
                              "revoked": False}
        self.c["tokens_issued"] += 1
        self.issued_by_kid[kid] = self.issued_by_kid.get(kid, 0) + 1
        expires_in = self.expires_in
        if expires_in is None:
            expires_in = max(1, int(round(self.token_ttl)))
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": expires_in}

    @staticmethod
    def _verify(key, alg, data, sig):
        h = ALGS[alg]()
        try:
            if alg.startswith("PS"):
                if not isinstance(key, rsa.RSAPublicKey):
                    raise AuthError(401, "invalid_client",
                                    "%s with a non-RSA key" % alg)
                key.verify(sig, data, padding.PSS(
                    mgf=padding.MGF1(h), salt_length=h.digest_size), h)
            else:
                n, bits = EC_LEN[alg]
                if not isinstance(key, ec.EllipticCurvePublicKey) \
                        or key.curve.key_size != bits:
                    raise AuthError(401, "invalid_client",
                                    "%s with another key" % alg)
                if len(sig) != 2 * n:
                    raise AuthError(401, "invalid_client",
                                    "ECDSA signature is not r||s")
                der = encode_dss_signature(int.from_bytes(sig[:n], "big"),
                                           int.from_bytes(sig[n:], "big"))
                key.verify(der, data, ec.ECDSA(h))
        except InvalidSignature:
            raise AuthError(401, "invalid_client", "bad signature")

    # ------------------------------------------------------------------
    # the APIs

    def bearer(self, token, scope):
        """None if the token may call an API of this scope, else why."""
        t = self.tokens.get(token)
        why = None
        if t is None:
            why = "unknown token"
        elif t["revoked"]:
            why = "token revoked"
        elif t["expires"] <= time.time():
            why = "token expired"
        elif scope not in t["scope"]:
            why = "token scope lacks %s" % scope
        elif self.reject_bearer:
            why = "Bearer tokens refused (reject_bearer)"
        if why:
            self.c["bearer_401"] += 1
        else:
            self.c["bearer_ok"] += 1
        return why
