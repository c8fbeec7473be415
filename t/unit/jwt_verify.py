#!/usr/bin/env python3
"""Verifies a JWT client assertion independently of the module, with
Python's cryptography (Debian python3-cryptography), for test_jwt.c.

    jwt_verify.py PUBLIC_KEY.pem JWT_FILE ALG KID ISS SCOPE AUD

Checks the header (alg, typ JWT, kid), the claims (iss, scope, aud, iat,
exp within the hour, jti) and the signature: RSA-PSS with MGF1 and a salt
exactly as long as the digest (RFC 7518 3.5), or ECDSA over the raw
fixed-width r||s (RFC 7518 3.4), base64url without padding.  Exit status 0
if it all holds, 1 with the reason on stderr if not."""

import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    encode_dss_signature)

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
EC_LEN = {"ES256": 32, "ES384": 48, "ES512": 66}


def b64url(s):
    if "=" in s or "+" in s or "/" in s:
        raise ValueError("not unpadded base64url: %r" % s[:20])
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main(pub_file, jwt_file, alg, kid, iss, scope, aud):
    with open(pub_file, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    with open(jwt_file) as f:
        jwt = f.read().strip()
    h64, p64, s64 = jwt.split(".")
    header = json.loads(b64url(h64))
    claims = json.loads(b64url(p64))
    sig = b64url(s64)
    want = {"alg": alg, "typ": "JWT", "kid": kid}
    if header != want:
        raise ValueError("header %r, expected %r" % (header, want))
    for k, v in (("iss", iss), ("scope", scope), ("aud", aud)):
        if claims.get(k) != v:
            raise ValueError("claim %s = %r, expected %r"
                             % (k, claims.get(k), v))
    if not (isinstance(claims.get("iat"), int)
            and isinstance(claims.get("exp"), int)
            and 0 < claims["exp"] - claims["iat"] <= 3600):
        raise ValueError("iat/exp %r/%r" % (claims.get("iat"),
                                             claims.get("exp")))
    if not claims.get("jti"):
        raise ValueError("no jti")
    data = (h64 + "." + p64).encode()
    h = HASHES[alg[2:]]()
    if alg.startswith("PS"):
        pub.verify(sig, data,
                   padding.PSS(mgf=padding.MGF1(h),
                               salt_length=h.digest_size), h)
    else:
        n = EC_LEN[alg]
        if len(sig) != 2 * n:
            raise ValueError("ECDSA signature of %d bytes, expected %d"
                             % (len(sig), 2 * n))
        der = encode_dss_signature(int.from_bytes(sig[:n], "big"),
                                   int.from_bytes(sig[n:], "big"))
        pub.verify(der, data, ec.ECDSA(h))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except (InvalidSignature, ValueError, KeyError) as e:
        print("jwt_verify: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
