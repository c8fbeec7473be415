#!/usr/bin/env python3
"""OAuth 1.0a (RFC 5849) signing and verification, as NetSuite TBA does it.

NetSuite's Token-Based Authentication is plain RFC 5849 with HMAC-SHA256 and a
``realm`` holding the account id.  This module is shared by the NetSuite
simulator (which verifies) and the project's Python tests and tools (which
sign), so both sides agree on one, carefully written, implementation.  It is
also a command-line tool that prints the Authorization header (or the
signature base string) for a request, so a person or the C unit tests can
compare their own signer against it:

    tools/nsoauth.py sign --method GET \\
        --url 'http://127.0.0.1:8080/services/rest/record/v1/salesOrder/1' \\
        --realm 1234567_SB1 --consumer-key-file ck --consumer-secret-file cs \\
        --token-id-file ti --token-secret-file ts

Standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
import urllib.parse

# RFC 5849 section 3.6: only ALPHA, DIGIT, "-", ".", "_" and "~" stay as they
# are; every other byte of the UTF-8 encoding becomes %XX with upper-case hex.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        b"abcdefghijklmnopqrstuvwxyz0123456789-._~")

SIGNATURE_METHODS = {
    "HMAC-SHA256": hashlib.sha256,
    # Only so that RFC 5849's own examples can be reproduced in tests;
    # NetSuite (and the simulator) refuse it.
    "HMAC-SHA1": hashlib.sha1,
}

# The oauth_* parameters a NetSuite TBA header must carry (realm aside).
REQUIRED_PARAMS = ("oauth_consumer_key", "oauth_token",
                   "oauth_signature_method", "oauth_timestamp",
                   "oauth_nonce", "oauth_version", "oauth_signature")


class OAuthError(Exception):
    """A header that cannot be parsed or does not verify; the message says
    why (for logs only: NetSuite never tells the client)."""


def pct(value):
    """Percent-encode a str (or bytes) per RFC 5849 section 3.6."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b
                   for b in value)


def realm_for_account(account):
    """The realm NetSuite expects: account id upper-case with underscores
    (1234567-sb1 and 1234567_sb1 both give 1234567_SB1)."""
    return account.strip().upper().replace("-", "_")


def host_for_account(account):
    """The host label NetSuite uses: lower-case with hyphens (1234567-sb1)."""
    return account.strip().lower().replace("_", "-")


def base_string_uri(url):
    """RFC 5849 section 3.4.1.2: scheme://host[:port]/path, scheme and host
    lower-cased, default ports dropped, no query and no fragment.  The path
    is kept exactly as the request carries it."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    host, sep, port = netloc.rpartition(":")
    # A bare IPv6 literal has colons but no port after the closing bracket.
    if sep and not port.endswith("]"):
        if (scheme, port) in (("http", "80"), ("https", "443")):
            netloc = host
    return "%s://%s%s" % (scheme, netloc, parts.path or "/")


def query_params(url):
    """The decoded (name, value) pairs of a URL's query, in order.
    RFC 5849 section 3.4.1.3.1 parses the query as form data, so '+' is a
    space."""
    query = urllib.parse.urlsplit(url).query
    return urllib.parse.parse_qsl(query, keep_blank_values=True)


def normalize_params(pairs):
    """RFC 5849 section 3.4.1.3.2: encode every name and value, sort by name
    then value (byte order of the encoded strings), join with '=' and '&'."""
    encoded = sorted((pct(k), pct(v)) for k, v in pairs)
    return "&".join("%s=%s" % kv for kv in encoded)


def signature_base_string(method, url, oauth_params, body_params=()):
    """METHOD & pct(base URI) & pct(normalised parameters).

    ``oauth_params`` are the protocol parameters (realm and oauth_signature
    are left out here whatever the caller passes); ``body_params`` are
    form-encoded body parameters, which only an
    application/x-www-form-urlencoded body has: a JSON body is never
    signed."""
    pairs = [(k, v) for k, v in dict_items(oauth_params)
             if k not in ("realm", "oauth_signature")]
    pairs += query_params(url)
    pairs += list(body_params)
    return "&".join((method.upper(), pct(base_string_uri(url)),
                     pct(normalize_params(pairs))))


def dict_items(params):
    return params.items() if hasattr(params, "items") else params


def signing_key(consumer_secret, token_secret):
    return "%s&%s" % (pct(consumer_secret), pct(token_secret or ""))


def compute_signature(base_string, consumer_secret, token_secret,
                      signature_method="HMAC-SHA256"):
    digest = SIGNATURE_METHODS[signature_method]
    mac = hmac.new(signing_key(consumer_secret, token_secret).encode("utf-8"),
                   base_string.encode("utf-8"), digest)
    return base64.b64encode(mac.digest()).decode("ascii")


def make_nonce(length=20):
    """Alphanumeric, because NetSuite wants 6 to 64 alphanumeric chars."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def sign(method, url, consumer_key, consumer_secret, token, token_secret,
         realm=None, nonce=None, timestamp=None,
         signature_method="HMAC-SHA256", version="1.0", body_params=()):
    """Return (authorization_header_value, base_string) for one request.

    A fresh nonce and the current time are used unless given (tests pin
    them to reproduce known vectors)."""
    params = {
        "oauth_consumer_key": consumer_key,
        "oauth_token": token,
        "oauth_signature_method": signature_method,
        "oauth_timestamp": str(int(time.time()) if timestamp is None
                               else timestamp),
        "oauth_nonce": make_nonce() if nonce is None else nonce,
    }
    if version is not None:
        params["oauth_version"] = version
    base = signature_base_string(method, url, params, body_params)
    params["oauth_signature"] = compute_signature(
        base, consumer_secret, token_secret, signature_method)
    # realm first (NetSuite's documentation and tools put it there), then
    # the oauth_* parameters in a fixed, readable order.
    order = ("oauth_consumer_key", "oauth_token", "oauth_signature_method",
             "oauth_timestamp", "oauth_nonce", "oauth_version",
             "oauth_signature")
    fields = []
    if realm is not None:
        fields.append('realm="%s"' % pct(realm))
    fields += ['%s="%s"' % (k, pct(params[k])) for k in order if k in params]
    return "OAuth " + ", ".join(fields), base


def parse_authorization(value):
    """Parse an 'OAuth k="v", ...' header value into a dict of decoded
    parameters.  Raises OAuthError on anything malformed, including a
    repeated parameter (which RFC 5849 forbids)."""
    if value is None:
        raise OAuthError("no Authorization header")
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise OAuthError("Authorization scheme is %r, not OAuth" % scheme)
    params = {}
    for item in _split_header_params(rest):
        name, eq, quoted = item.partition("=")
        name = name.strip()
        quoted = quoted.strip()
        if not eq or len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
            raise OAuthError("malformed parameter %r" % item)
        if name in params:
            raise OAuthError("parameter %s repeated" % name)
        params[name] = urllib.parse.unquote(quoted[1:-1])
    return params


def _split_header_params(text):
    """Split on commas that are outside double quotes."""
    items, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        items.append("".join(current))
    return [i for i in items if i.strip()]


class Credentials:
    """One integration's TBA keys (consumer = integration record, token =
    access token of a user and role)."""

    def __init__(self, consumer_key, consumer_secret, token_id, token_secret):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.token_id = token_id
        self.token_secret = token_secret

    def authorization(self, method, url, realm, **kw):
        return sign(method, url, self.consumer_key, self.consumer_secret,
                    self.token_id, self.token_secret, realm=realm, **kw)[0]


def verify(method, url, header_value, credentials, realm, now=None,
           max_skew=300, nonce_seen=None, body_params=()):
    """Verify a request the way NetSuite does; return the parsed parameters
    or raise OAuthError naming the (first) reason.

    ``credentials`` is a list of Credentials that are valid; ``realm`` the
    expected realm (already upper-case/underscore); ``nonce_seen`` a
    callable(consumer_key, token, nonce, timestamp) -> bool that records the
    nonce and says whether it had been seen before (replay)."""
    params = parse_authorization(header_value)
    for name in REQUIRED_PARAMS:
        if not params.get(name):
            raise OAuthError("missing %s" % name)
    if "realm" not in params:
        raise OAuthError("missing realm")
    if params["realm"] != realm:
        raise OAuthError("realm %r is not %r" % (params["realm"], realm))
    if params["oauth_signature_method"] != "HMAC-SHA256":
        raise OAuthError("signature method %s refused"
                         % params["oauth_signature_method"])
    if params["oauth_version"] != "1.0":
        raise OAuthError("oauth_version %r is not 1.0"
                         % params["oauth_version"])
    nonce = params["oauth_nonce"]
    if not (6 <= len(nonce) <= 64 and nonce.isascii() and nonce.isalnum()):
        raise OAuthError("nonce must be 6 to 64 alphanumeric characters")
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        raise OAuthError("timestamp %r is not an integer"
                         % params["oauth_timestamp"])
    now = time.time() if now is None else now
    if abs(now - timestamp) > max_skew:
        raise OAuthError("timestamp %d is %+d s from server time (max %d)"
                         % (timestamp, timestamp - int(now), max_skew))
    cred = next((c for c in credentials
                 if hmac.compare_digest(c.consumer_key,
                                        params["oauth_consumer_key"])
                 and hmac.compare_digest(c.token_id, params["oauth_token"])),
                None)
    if cred is None:
        raise OAuthError("unknown consumer key or token")
    base = signature_base_string(method, url, params, body_params)
    expected = compute_signature(base, cred.consumer_secret, cred.token_secret)
    if not hmac.compare_digest(expected.encode(),
                               params["oauth_signature"].encode()):
        raise OAuthError("signature mismatch; server base string: %s" % base)
    # Only a verified request uses up its nonce: a forged request must not
    # be able to burn the nonce of a genuine one.
    if nonce_seen is not None and nonce_seen(cred.consumer_key, cred.token_id,
                                             nonce, timestamp):
        raise OAuthError("nonce %s replayed" % nonce)
    return params


# --------------------------------------------------------------------------
# Command line

def _read_secret(value, path, what):
    if value is not None:
        return value
    if path is not None:
        with open(path, encoding="utf-8") as f:
            # One secret per file, like the nginx directives; a trailing
            # newline is not part of it.
            return f.read().strip()
    raise SystemExit("nsoauth: %s missing (give --%s or --%s-file)"
                     % (what, what, what))


def load_credentials(args):
    """Keys from --keys-file (the simulator's JSON config format), then
    per-key options or files, which win."""
    conf = {}
    if args.keys_file:
        with open(args.keys_file, encoding="utf-8") as f:
            conf = json.load(f)
    get = lambda k: getattr(args, k.replace("-", "_"))
    values = {}
    for key in ("consumer-key", "consumer-secret", "token-id", "token-secret"):
        inline = get(key)
        path = get(key + "-file")
        if inline is None and path is None:
            inline = conf.get(key.replace("-", "_"))
            path = conf.get(key.replace("-", "_") + "_file")
        values[key] = _read_secret(inline, path, key)
    realm = args.realm or conf.get("account")
    return Credentials(values["consumer-key"], values["consumer-secret"],
                       values["token-id"], values["token-secret"]), realm


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="nsoauth.py",
        description="Print a NetSuite TBA (OAuth 1.0a, HMAC-SHA256) "
                    "Authorization header or signature base string.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign", help="print the Authorization header")
    s.add_argument("--method", required=True)
    s.add_argument("--url", required=True,
                   help="full request URL including the query string")
    s.add_argument("--realm", help="account id, e.g. 1234567_SB1 "
                   "(normalised to upper-case with underscores)")
    s.add_argument("--keys-file", help="JSON file with consumer_key, "
                   "consumer_secret, token_id, token_secret (or *_file) "
                   "and account")
    for key in ("consumer-key", "consumer-secret", "token-id", "token-secret"):
        s.add_argument("--" + key, help="inline value (tests only)")
        s.add_argument("--" + key + "-file", help="file holding the value")
    s.add_argument("--nonce", help="fixed nonce (default: random)")
    s.add_argument("--timestamp", help="fixed timestamp (default: now)")
    s.add_argument("--signature-method", default="HMAC-SHA256",
                   choices=sorted(SIGNATURE_METHODS))
    s.add_argument("--no-version", action="store_true",
                   help="leave oauth_version out (RFC 5849 examples)")
    s.add_argument("--form-body", default=None,
                   help="an application/x-www-form-urlencoded body whose "
                        "parameters are signed (JSON bodies never are)")
    s.add_argument("--output", choices=("header", "value", "base-string",
                                        "json"), default="header",
                   help="header: 'Authorization: OAuth ...'; value: just "
                        "the value; base-string: the signature base "
                        "string; json: all of it")
    args = p.parse_args(argv)

    cred, realm = load_credentials(args)
    body_params = (urllib.parse.parse_qsl(args.form_body,
                                          keep_blank_values=True)
                   if args.form_body is not None else ())
    value, base = sign(args.method, args.url, cred.consumer_key,
                       cred.consumer_secret, cred.token_id, cred.token_secret,
                       realm=realm_for_account(realm) if realm else None,
                       nonce=args.nonce, timestamp=args.timestamp,
                       signature_method=args.signature_method,
                       version=None if args.no_version else "1.0",
                       body_params=body_params)
    if args.output == "header":
        print("Authorization: " + value)
    elif args.output == "value":
        print(value)
    elif args.output == "base-string":
        print(base)
    else:
        print(json.dumps({"authorization": value, "base_string": base,
                          "signature": parse_authorization(value)
                          ["oauth_signature"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
