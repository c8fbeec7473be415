"""HTTP front end: routing, OAuth checks, the concurrency limit, faults,
counters, the request log and the admin API.

Every API request (record API, SuiteQL, RESTlet) goes through one pipeline,
in this order, which is the order a client experiences NetSuite in:

    1. network faults decided: timeout (hold, no answer) or reset
    2. concurrency slot taken, or the over-limit answer (429 REST,
       400 SSS_REQUEST_LIMIT_EXCEEDED RESTlet, sometimes a bogus 401)
    3. latency (fixed + random), measured from the request's arrival:
       the wait ends APPLY_LEAD (at most a quarter of the latency) before
       it is up, then the gate if closed
    4. OAuth signature (TBA) or Bearer token (OAuth 2.0) checked (401
       INVALID_LOGIN_ATTEMPT)
    5. injected 5xx, or the request is applied
    6. slot released, then the answer sent at arrival + latency (or
       later, if steps 4-5 took longer than the lead) -- or, for a lost
       response, the connection reset after the write was applied; for
       "close", the connection closed after step 4 with nothing applied
       or sent

A real NetSuite's service time includes its own work, so a request
answers its configured latency after it arrived, not after the
simulator's processing plus the latency: the account's bound is then
exactly its concurrency limit over the latency.

Admin requests (/_admin/...) skip all of that, and so do requests to the
OAuth 2.0 token endpoint (m2m.py), which are no API calls.
"""

import collections
import http.server
import os
import select
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse

from . import jsonutil
from .errors import (NSError, REST_ERROR_CT, CONCURRENCY_DETAIL,
                     RESTLET_LIMIT_MESSAGE, login_failed, not_found,
                     invalid_content, invalid_parameter, user_error)
from .faults import Faults, FaultError
from .records import Store, Validation, REST_PREFIX, RECORD_TYPES
from .restlet import Restlet
from . import suiteql
from .m2m import M2M, TOKEN_PATH

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import nsoauth  # noqa: E402  (tools/nsoauth.py, shared with the tests)

SINGULAR_CT = "application/vnd.oracle.resource+json; type=singular"
COLLECTION_CT = "application/vnd.oracle.resource+json; type=collection"
JSON_CT = "application/json"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
RESTLET_PATH = "/app/site/hosting/restlet.nl"
MAX_BODY = 10 * 1024 * 1024
# seconds before its answer is due that a delayed request is applied: time
# for the OAuth check, the request itself and the answer's encoding
APPLY_LEAD = 0.025

# Query parameters NetSuite accepts, per method, on a record URL.
RECORD_PARAMS = {
    "GET": {"fields", "expandSubResources", "simpleEnumFormat"},
    "PATCH": {"replace", "replaceSelectedFields"},
    "PUT": {"replace", "replaceSelectedFields"},
    "POST": {"replace"},      # on a !transform
    "DELETE": set(),
}

_GATEWAY_PAGE = ("<html><head><title>%d %s</title></head><body><center>"
                 "<h1>%d %s</h1></center></body></html>\n")


class Counters:
    def __init__(self):
        self.reset()

    def reset(self):
        self.c = collections.Counter()
        self.by_method = collections.Counter()
        self.by_endpoint = collections.Counter()
        self.by_method_endpoint = collections.Counter()
        self.by_status = collections.Counter()
        self.faults = collections.Counter()
        self.writes = collections.Counter()
        self.reads = collections.Counter()
        self.max_in_flight = 0

    def snapshot(self, in_flight):
        return {
            "requests": self.c["requests"],
            "by_method": dict(self.by_method),
            "by_endpoint": dict(self.by_endpoint),
            "by_method_endpoint": dict(self.by_method_endpoint),
            "by_status": {str(k): v for k, v in
                          sorted(self.by_status.items())},
            "2xx": self.c["2xx"], "4xx": self.c["4xx"], "5xx": self.c["5xx"],
            "401": self.by_status[401], "429": self.by_status[429],
            "over_limit": self.c["over_limit"],
            "sss_request_limit_exceeded": self.c["sss_limit"],
            "bogus_401": self.c["bogus_401"],
            "auth_failures": self.c["auth_failures"],
            "no_response": self.c["no_response"],
            "writes": dict(self.writes), "reads": dict(self.reads),
            "nonce_replays": self.c["nonce_replays"],
            "faults": {k: self.faults[k] for k in
                       ("latency", "timeout", "reset", "error",
                        "lost_response", "concurrency", "auth", "close")},
            "in_flight": in_flight, "max_in_flight": self.max_in_flight,
            "admin_requests": self.c["admin"],
        }


class Simulator:
    """All shared state.  ``lock`` guards everything below it; it is never
    held while sleeping or doing I/O."""

    def __init__(self, settings):
        s = settings
        self.settings = s
        self.realm = nsoauth.realm_for_account(s["account"])
        self.credentials = [nsoauth.Credentials(c["consumer_key"],
                                                c["consumer_secret"],
                                                c["token_id"],
                                                c["token_secret"])
                            for c in s["credentials"]]
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.gate_open = threading.Event()
        self.gate_open.set()
        self.store = Store(first_id=s["first_id"], currencies=s["currencies"],
                           items=s["items"])
        self.restlet = Restlet(self.store, default_entity=s["default_entity"],
                               params=s.get("restlet_params"))
        self.faults = Faults(s["faults"], s["seed"])
        self.concurrency = s["concurrency"]
        self.counters = Counters()
        self.m2m = M2M(client_id=s.get("m2m_client_id"),
                       certificates=s.get("m2m_certificates"),
                       token_ttl=s.get("m2m_token_ttl", 3600))
        self.in_flight = 0
        self.nonces = {}
        self.log_seq = 0
        self.requests = collections.deque(maxlen=s["request_log_size"])
        self.log_lock = threading.Lock()
        self.log_file = s["log_file"]
        self._seed_records()
        self._sync_gate()

    def _seed_records(self):
        for rtype, recs in (self.settings["records"] or {}).items():
            for body in recs:
                self.store.seed(rtype, body)

    def _sync_gate(self):
        if self.faults.conf["gate"]:
            self.gate_open.clear()
        else:
            self.gate_open.set()

    def reset(self, what):
        with self.lock:
            if what.get("records", True):
                self.store.reset()
                self._seed_records()
            if what.get("counters", True):
                self.counters.reset()
            if what.get("faults", True):
                self.faults.reset()
                self.concurrency = self.settings["concurrency"]
            if what.get("requests", True):
                self.requests.clear()
            if what.get("nonces", True):
                self.nonces.clear()
            # OAuth 2.0: the setup (client id, certificates) and the
            # tokens issued survive a reset unless it names "oauth2": a
            # client that fetched a token before the reset keeps it
            everything = what.get("oauth2", False)
            self.m2m.reset(setup=everything, tokens=everything,
                           faults=what.get("faults", True) or everything,
                           counters=what.get("counters", True))
            self._sync_gate()

    # ------------------------------------------------------------------

    def nonce_seen(self, consumer_key, token, nonce, timestamp):
        """Record a nonce; True if it was used within the window (twice
        the allowed clock skew, so a replay with a timestamp still in range
        is always caught)."""
        now = time.time()
        window = 2 * self.settings["max_skew"]
        with self.lock:
            if len(self.nonces) > 50000:
                for k in [k for k, t in self.nonces.items() if t < now]:
                    del self.nonces[k]
            key = (consumer_key, token, nonce)
            expiry = self.nonces.get(key)
            if expiry is not None and expiry >= now:
                return True
            self.nonces[key] = now + window
            return False

    def log(self, line):
        if self.log_file is None:
            return
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NetSuiteSim/1.0"
    # Idle keep-alive connections are dropped after this long.
    timeout = 120
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle
    # plus the client's delayed ACK would add ~40 ms to every answer and
    # skew latency measurements.
    disable_nagle_algorithm = True

    # Silence BaseHTTPRequestHandler's own logging; we log one line per
    # call ourselves.
    def log_message(self, fmt, *args):
        pass

    def parse_request(self):
        # The request line has just been read: the request arrived now
        # (a kept-alive connection's thread waited for it in readline).
        # Latency and the logged answer time count from here, headers
        # and body included.
        self.arrived = time.monotonic()
        return super().parse_request()

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    @property
    def sim(self):
        return self.server.sim

    # ------------------------------------------------------------------
    # plumbing

    def dispatch(self):
        # One handler serves every request of a connection: from the
        # second on, the connection is one the client kept alive.
        self.kept_alive = getattr(self, "served", 0) > 0
        self.served = getattr(self, "served", 0) + 1
        self.t0 = getattr(self, "arrived", None) or time.monotonic()
        self.status_sent = None
        self.note = {}
        target = self.path
        if "://" in target.split("?", 1)[0]:
            # absolute-form request target (a client talking to us as a
            # proxy): keep path and query only.
            parts = urllib.parse.urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        self.raw_path, _, self.query_string = target.partition("?")
        self.query = urllib.parse.parse_qsl(self.query_string,
                                            keep_blank_values=True)
        try:
            self.body = self.read_body()
        except NSError as e:
            self.close_connection = True
            self.send_rest_error(e)
            self.finish_log()
            return
        try:
            if self.raw_path == "/_admin" or self.raw_path.startswith(
                    "/_admin/"):
                self.admin()
            elif self.raw_path == TOKEN_PATH:
                self.token_endpoint()
            else:
                self.api()
        except Exception:
            # A bug in the simulator must not look like a NetSuite answer
            # the client could reason about: say so loudly.
            traceback.print_exc()
            if self.status_sent is None:
                self.send_rest_error(NSError(500, "UNEXPECTED_ERROR",
                                             "simulator bug: see its log"))
        self.finish_log()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise NSError(413, "INVALID_CONTENT",
                                  "The request body is too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise NSError(413, "INVALID_CONTENT",
                          "The request body is too large.")
        return self.rfile.read(length) if length else b""

    def send(self, status, body=b"", content_type=None, headers=()):
        self.status_sent = status
        # Account for the call before the client can see the answer, so a
        # test that reads the counters right after a response sees it.
        self.record_call()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Type", content_type or JSON_CT)
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, content_type=JSON_CT, headers=()):
        self.send(status, jsonutil.dumpb(obj), content_type, headers)

    def send_rest_error(self, e):
        self.send_json(e.status, e.rest_body(), REST_ERROR_CT)

    def send_restlet_error(self, e):
        self.send_json(e.status, e.restlet_body(), JSON_CT)

    def reset_connection(self):
        """Abort with a TCP RST: SO_LINGER with a zero timeout makes close()
        discard the socket instead of the orderly FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def hold_connection(self, seconds):
        """Say nothing for ``seconds`` (or until the client gives up or the
        simulator stops), then close without an answer."""
        self.close_connection = True
        deadline = time.monotonic() + seconds
        while not self.sim.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                ready, _, _ = select.select([self.connection], [], [],
                                            min(left, 0.1))
                if ready and not self.connection.recv(1, socket.MSG_PEEK):
                    break  # the client closed its end
            except OSError:
                break

    def finish_log(self):
        """One log line per call, written when the call is over."""
        self.record_call()
        ms = (time.monotonic() - self.t0) * 1000.0
        status = self.status_sent if self.status_sent is not None else "-"
        extra = "".join(" %s=%s" % (k, v) for k, v in self.note.items()
                        if k in ("fault", "auth_error", "over_limit"))
        path = self.raw_path + ("?" + self.query_string
                                if self.query_string else "")
        self.sim.log("%s %s %s %s %.1fms%s" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), self.command, path, status,
            ms, extra))

    def record_call(self):
        """Counters by status and the admin request log, once per call."""
        if self.note.get("recorded"):
            return
        self.note["recorded"] = True
        ms = (time.monotonic() - self.t0) * 1000.0
        if self.note.get("api"):
            with self.sim.lock:
                self.sim.log_seq += 1
                entry = {"seq": self.sim.log_seq, "time": time.time(),
                         "method": self.command, "path": self.raw_path,
                         "query": self.query_string,
                         "endpoint": self.note.get("endpoint"),
                         "status": self.status_sent, "ms": round(ms, 1)}
                for k in ("fault", "auth_error", "over_limit", "ignored",
                          "dropped", "request_body"):
                    if k in self.note:
                        entry[k] = self.note[k]
                self.sim.requests.append(entry)
                c = self.sim.counters
                if self.status_sent is None:
                    c.c["no_response"] += 1
                else:
                    c.by_status[self.status_sent] += 1
                    c.c["%dxx" % (self.status_sent // 100)] += 1

    # ------------------------------------------------------------------
    # the API pipeline

    def endpoint(self):
        p = self.raw_path
        if p == SUITEQL_PATH:
            return "suiteql"
        if p == RESTLET_PATH:
            return "restlet"
        if p.startswith(REST_PREFIX + "/"):
            rtype = p[len(REST_PREFIX) + 1:].split("/", 1)[0]
            if rtype == "customer":
                return rtype
            return rtype if rtype in RECORD_TYPES else "other"
        return "other"

    def api(self):
        sim = self.sim
        ep = self.endpoint()
        restlet = ep == "restlet"
        self.note["api"] = True
        self.note["endpoint"] = ep
        if self.body:
            try:
                self.note["request_body"] = jsonutil.loads(self.body)
            except jsonutil.BadJSON:
                self.note["request_body"] = self.body[:2000].decode(
                    "utf-8", "replace")
        with sim.lock:
            c = sim.counters
            c.c["requests"] += 1
            c.by_method[self.command] += 1
            c.by_endpoint[ep] += 1
            c.by_method_endpoint["%s %s" % (self.command, ep)] += 1
            d = sim.faults.decide(self.command, self.raw_path + "?"
                                  + self.query_string, self.kept_alive)
            if d.kind:
                c.faults[d.kind] += 1
            if d.latency:
                c.faults["latency"] += 1
        if d.kind:
            self.note["fault"] = d.kind

        if d.kind == "timeout":
            self.hold_connection(sim.faults.conf["timeout_s"])
            return
        if d.kind == "reset":
            self.reset_connection()
            return

        with sim.lock:
            admitted = sim.in_flight < sim.concurrency
            if admitted:
                sim.in_flight += 1
                c.max_in_flight = max(c.max_in_flight, sim.in_flight)
        if not admitted:
            self.over_limit(restlet, d.bogus_401)
            return
        released = [False]

        def release():
            if not released[0]:
                released[0] = True
                with sim.lock:
                    sim.in_flight -= 1

        due = self.t0 + d.latency
        try:
            if d.latency:
                self.wait_until(due - min(APPLY_LEAD, d.latency / 4))
            while not sim.gate_open.wait(0.05):
                if sim.stop.is_set():
                    break
            result = self.process(ep, d)
            if d.latency:
                # processed within the lead: the answer is due at
                # arrival + latency, as the real service time would be
                self.wait_until(due)
            if result is None:
                # "close": authenticated (the nonce is spent), nothing
                # applied, and the connection closed with no answer.
                self.close_connection = True
                return
            if d.kind == "drift" and result[0] < 300 and ep != "restlet":
                self.drift()
            if d.kind == "lost_response":
                # The write happened; the client never hears of it.
                release()
                if sim.faults.conf["lost_response_mode"] == "timeout":
                    self.hold_connection(sim.faults.conf["timeout_s"])
                else:
                    self.reset_connection()
                return
        finally:
            # Free the slot before answering, so a client that sends its
            # next request the moment it has the answer is not refused.
            release()
        status, body, ctype, headers = result
        self.send(status, body, ctype, headers)

    def wait_until(self, when):
        left = when - time.monotonic()
        if left > 0:
            self.sim.stop.wait(left)

    def over_limit(self, restlet, bogus):
        sim = self.sim
        with sim.lock:
            sim.counters.c["over_limit"] += 1
            if bogus:
                sim.counters.c["bogus_401"] += 1
            elif restlet:
                sim.counters.c["sss_limit"] += 1
        self.note["over_limit"] = "bogus_401" if bogus else "yes"
        if bogus:
            e = login_failed()
        elif restlet:
            e = NSError(400, "SSS_REQUEST_LIMIT_EXCEEDED",
                        RESTLET_LIMIT_MESSAGE)
        else:
            e = NSError(429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL)
        if restlet:
            self.send_restlet_error(e)
        else:
            self.send_rest_error(e)

    def render_error(self, e, restlet):
        if restlet:
            if e.status == 401:
                e = NSError(401, e.code, "Invalid login attempt.")
            return e.status, jsonutil.dumpb(e.restlet_body()), JSON_CT, ()
        return e.status, jsonutil.dumpb(e.rest_body()), REST_ERROR_CT, ()

    def process(self, ep, d):
        """Authenticate and run the request; return the answer (status,
        body, content type, headers) without sending it."""
        restlet = ep == "restlet"
        try:
            self.authenticate()
            if d.kind == "close":
                return None
            if d.kind == "auth":
                raise login_failed()
            if d.kind == "concurrency":
                with self.sim.lock:
                    self.sim.counters.c["over_limit"] += 1
                    if restlet:
                        self.sim.counters.c["sss_limit"] += 1
                if restlet:
                    raise NSError(400, "SSS_REQUEST_LIMIT_EXCEEDED",
                                  RESTLET_LIMIT_MESSAGE)
                raise NSError(429, "CONCURRENCY_LIMIT_EXCEEDED",
                              CONCURRENCY_DETAIL)
            if d.kind == "error":
                return self.server_error(d.status, restlet)
            if d.kind == "changed":
                raise NSError(400, "RCRD_HAS_BEEN_CHANGED", "Record has "
                              "been changed since you retrieved it.")
            if ep == "suiteql":
                return self.suiteql()
            if restlet:
                return self.run_restlet(drift=d.kind == "drift")
            return self.record_api(ep)
        except NSError as e:
            return self.render_error(e, restlet)

    def drift(self):
        """A script on save: the written record's first line quantity
        moves by one, silently (what read-back checks exist to catch)."""
        segs = [urllib.parse.unquote(x) for x in
                self.raw_path[len(REST_PREFIX) + 1:].split("/")]
        if len(segs) < 2:
            return
        with self.sim.lock:
            rec = self.sim.store.get(segs[0], segs[1])
            if rec is not None and rec.lines:
                rec.lines[0]["quantity"] += 1

    def server_error(self, status, restlet):
        if status == 500:
            e = NSError(500, "UNEXPECTED_ERROR", "An unexpected error "
                        "occurred. Error ID: sim%08d" % self.sim.log_seq)
            return self.render_error(e, restlet)
        # 502/503/504 come from the load balancers in front of NetSuite,
        # as HTML: a client must not assume every error is JSON.
        reason = self.responses.get(status, ("Error",))[0]
        body = (_GATEWAY_PAGE % (status, reason, status, reason)).encode()
        return status, body, "text/html", ()

    def token_endpoint(self):
        """OAuth 2.0 client credentials: an access token for a signed JWT
        (m2m.py checks it as NetSuite's help describes)."""
        sim = self.sim
        self.note["endpoint"] = "token"
        if self.command != "POST":
            self.send_json(405, {"error": "invalid_request"})
            return
        with sim.lock:
            down = sim.m2m.down
            sim.m2m.c["token_requests"] += down is not None
            sim.m2m.c["token_down"] += down is not None
        if down == "reset":
            self.note["fault"] = "token_reset"
            self.reset_connection()
            return
        if down is not None:
            self.note["fault"] = "token_down"
            self.send(down, (_GATEWAY_PAGE % (down, "Error", down,
                                              "Error")).encode(),
                      "text/html")
            return
        with sim.lock:
            status, obj = sim.m2m.token(
                self.body, self.headers.get("Content-Type", ""),
                self.base_url())
            if status != 200:
                self.note["auth_error"] = sim.m2m.last_refusal
        self.send_json(status, obj, headers=(("Cache-Control", "no-store"),))

    def authenticate(self):
        sim = self.sim
        if sim.settings["no_auth"]:
            return
        authz = self.headers.get("Authorization") or ""
        if authz[:7].lower() == "bearer ":
            scope = ("restlets" if self.note.get("endpoint") == "restlet"
                     else "rest_webservices")
            with sim.lock:
                why = sim.m2m.bearer(authz[7:].strip(), scope)
                if why:
                    sim.counters.c["auth_failures"] += 1
            if why:
                self.note["auth_error"] = why
                raise login_failed()
            return
        if sim.settings["base_url"]:
            base = sim.settings["base_url"].rstrip("/")
        else:
            host = self.headers.get("Host")
            if not host:
                self.note["auth_error"] = "no Host header"
                raise login_failed()
            base = "http://" + host
        url = base + self.raw_path + ("?" + self.query_string
                                      if self.query_string else "")
        body_params = ()
        if self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"):
            body_params = urllib.parse.parse_qsl(
                self.body.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            nsoauth.verify(self.command, url,
                           self.headers.get("Authorization"),
                           sim.credentials, sim.realm,
                           max_skew=sim.settings["max_skew"],
                           nonce_seen=sim.nonce_seen,
                           body_params=body_params)
        except nsoauth.OAuthError as e:
            # NetSuite tells the client nothing more; the reason goes to
            # the log and the admin request log (NetSuite's Login Audit
            # Trail).
            self.note["auth_error"] = str(e)
            with sim.lock:
                sim.counters.c["auth_failures"] += 1
                if str(e).endswith(" replayed"):
                    # the same signed request sent twice: each one is a
                    # failed login in NetSuite's Login Audit Trail
                    sim.counters.c["nonce_replays"] += 1
            raise login_failed()

    def json_body(self, required=True):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if not self.body:
            if required:
                raise invalid_content("The request body is empty.")
            return None
        if ctype.lower() not in ("application/json",
                                 "application/vnd.oracle.resource+json"):
            raise NSError(415, "INVALID_CONTENT",
                          "The Content-Type %r is not supported; send "
                          "application/json." % ctype)
        try:
            return jsonutil.loads(self.body)
        except jsonutil.BadJSON as e:
            raise invalid_content("The body is not valid JSON: %s" % e)

    def base_url(self):
        if self.sim.settings["base_url"]:
            return self.sim.settings["base_url"].rstrip("/")
        return "http://" + self.headers.get("Host", "127.0.0.1")

    # ------------------------------------------------------------------
    # record API

    def record_api(self, ep):
        if ep == "other":
            rest = self.raw_path[len(REST_PREFIX) + 1:] \
                if self.raw_path.startswith(REST_PREFIX + "/") else ""
            rtype = rest.split("/", 1)[0]
            if rtype:
                raise NSError(404, "NONEXISTENT_ID", "Record type '%s' does "
                              "not exist (the simulator has %s)."
                              % (rtype, ", ".join(RECORD_TYPES)))
            raise NSError(404, "NONEXISTENT_ID", "The requested resource "
                          "does not exist.")
        segs = [urllib.parse.unquote(s) for s in
                self.raw_path[len(REST_PREFIX) + 1:].split("/")]
        rtype, rest = segs[0], segs[1:]
        if rest and rest[-1] == "":
            rest = rest[:-1]
        method = self.command
        params = dict(self.query)
        allowed = RECORD_PARAMS.get(method, set())
        if not rest and method == "GET":
            allowed = {"limit", "offset"}
        for name, _ in self.query:
            if name not in allowed:
                raise invalid_parameter("The query parameter '%s' is not "
                                        "valid for %s on this resource."
                                        % (name, method), param=name)
        validation = Validation(self.property_validation())
        store = self.sim.store

        if rtype == "customer":
            return self.customer_api(method, rest, validation)
        if method == "POST" and "replace" in params and not (
                len(rest) == 3 and rest[1] == "!transform"):
            raise invalid_parameter("The query parameter 'replace' is not "
                                    "valid for POST on this resource.",
                                    param="replace")
        if not rest:
            if method == "POST":
                body = self.json_body()
                with self.sim.lock:
                    rec = store.create(rtype, body, validation)
                    self.count_write(rtype)
                self.note_validation(validation)
                return (self.sim.settings["create_status"], b"", None,
                        [("Location", self.location(rec))])
            if method == "GET":
                return self.list_records(rtype, params)
            raise self.method_not_allowed()

        ref = rest[0]
        if len(rest) == 3 and rest[1] == "!transform" and method == "POST":
            # Oracle, "Transforming Records": 204 No Content, the new
            # record in Location
            replace = self.replace_param(params)
            body = self.json_body(required=False)
            with self.sim.lock:
                src = store.must_get(rtype, ref)
                rec = store.transform(src, rest[2], body or {}, validation,
                                      replace=replace)
                self.count_write(rest[2])
            self.note_validation(validation)
            return 204, b"", None, [("Location", self.location(rec))]
        if len(rest) > 1:
            if method != "GET":
                raise self.method_not_allowed()
            return self.get_sub(rtype, ref, rest[1:])
        if method == "GET":
            return self.get_record(rtype, ref, params)
        if rtype == "customerRefund" and method == "PUT":
            if not ref.startswith("eid:"):
                raise user_error("The upsert operation (PUT) works only "
                                 "with an external ID.")
            replace = self.replace_param(params, sublists=("apply",))
            body = self.json_body()
            with self.sim.lock:
                rec = store.put_customer_refund(ref[4:], body, validation,
                                                replace=replace)
                self.count_write(rtype)
            self.note_validation(validation)
            return 204, b"", None, [("Location", self.location(rec))]
        if rtype == "customerRefund" and method != "GET":
            raise NSError(400, "USER_ERROR", "The simulator takes a "
                          "customerRefund by PUT on eid: only.")
        if method in ("PATCH", "PUT"):
            replace = self.replace_param(params)
            body = self.json_body()
            with self.sim.lock:
                rec = store.get(rtype, ref)
                if method == "PUT":
                    if not ref.startswith("eid:"):
                        raise user_error("The upsert operation (PUT) works "
                                         "only with an external ID: use "
                                         "%s/eid:<externalId>." % rtype)
                    if rec is None:
                        rec = store.create(rtype, body, validation,
                                           external_id=ref[4:])
                        self.count_write(rtype)
                        self.note_validation(validation)
                        return 204, b"", None, [("Location",
                                                 self.location(rec))]
                if rec is None:
                    raise not_found()
                if method == "PUT" and isinstance(body, dict) and \
                        body.get("externalId") not in (None, ref[4:]):
                    raise user_error("The externalId in the body does not "
                                     "match the one in the URL.",
                                     path="externalId")
                rec = store.update(rec, body, validation, replace=replace)
                self.count_write(rtype)
            self.note_validation(validation)
            return 204, b"", None, [("Location", self.location(rec))]
        if method == "DELETE":
            if rtype not in ("salesOrder", "creditMemo"):
                raise NSError(400, "USER_ERROR", "The simulator deletes "
                              "only sales orders and credit memos.")
            with self.sim.lock:
                store.delete(store.must_get(rtype, ref))
                self.count_write(rtype)
            return 204, b"", None, ()
        raise self.method_not_allowed()

    def customer_api(self, method, rest, validation):
        """The customer record as far as a Sales Order create needs it:
        GET customer/<id> and customer/eid:<externalId> (Oracle, "Using
        External IDs"), POST customer (204, Location)."""
        store = self.sim.store
        if not rest and method == "POST":
            body = self.json_body()
            with self.sim.lock:
                cust = store.create_customer(body, validation)
                self.count_write("customer")
            self.note_validation(validation)
            return (self.sim.settings["create_status"], b"", None,
                    [("Location", "%s%s/customer/%s" % (
                        self.base_url(), REST_PREFIX, cust["id"]))])
        if len(rest) == 1 and method == "GET":
            with self.sim.lock:
                cust = store.get_customer(rest[0])
                self.sim.counters.reads["customer"] += 1
            if cust is None:
                raise not_found()
            cust["links"] = [{"rel": "self", "href": "%s%s/customer/%s" % (
                self.base_url(), REST_PREFIX, cust["id"])}]
            return 200, jsonutil.dumpb(cust), SINGULAR_CT, ()
        raise self.method_not_allowed()

    def method_not_allowed(self):
        return NSError(405, "INVALID_REQUEST", "The HTTP method %s is not "
                       "allowed on this resource." % self.command)

    def property_validation(self):
        value = self.headers.get("X-NetSuite-PropertyNameValidation")
        if value is None:
            return self.sim.settings["property_name_validation"]
        for mode in ("Error", "Warning", "Ignore"):
            if value.strip().lower() == mode.lower():
                return mode
        raise invalid_parameter("X-NetSuite-PropertyNameValidation must be "
                                "Error, Warning or Ignore.")

    def note_validation(self, validation):
        if validation.dropped:
            self.note["ignored"] = validation.dropped

    def replace_param(self, params, sublists=("item",)):
        value = params.get("replace")
        if value is None:
            return ()
        names = [n.strip() for n in value.split(",") if n.strip()]
        for n in names:
            if n not in sublists:
                raise invalid_parameter("Invalid value '%s' for the query "
                                        "parameter replace: not a sublist of "
                                        "this record (the simulator has "
                                        "'item')." % n, param="replace")
        return tuple(names)

    def location(self, rec):
        return "%s%s/%s/%s" % (self.base_url(), REST_PREFIX, rec.type, rec.id)

    def count_write(self, rtype):
        self.sim.counters.writes[rtype] += 1

    def get_record(self, rtype, ref, params):
        expand = params.get("expandSubResources", "false")
        if expand not in ("true", "false"):
            raise invalid_parameter("expandSubResources must be true or "
                                    "false.", param="expandSubResources")
        fields = None
        if "fields" in params:
            fields = [f.strip() for f in params["fields"].split(",")
                      if f.strip()]
            known = self.sim.store.field_names(rtype)
            for f in fields:
                if f not in known and not f.startswith("custbody"):
                    raise invalid_parameter("Invalid value for the query "
                                            "parameter fields: '%s' is not a "
                                            "field of %s." % (f, rtype),
                                            param="fields")
        with self.sim.lock:
            rec = self.sim.store.must_get(rtype, ref)
            out = self.sim.store.render(rec, self.base_url(),
                                        expand=expand == "true",
                                        fields=set(fields) if fields
                                        is not None else None)
            self.sim.counters.reads[rtype] += 1
        return 200, jsonutil.dumpb(out), SINGULAR_CT, ()

    def get_sub(self, rtype, ref, rest):
        store = self.sim.store
        with self.sim.lock:
            rec = store.must_get(rtype, ref)
            self.sim.counters.reads[rtype] += 1
            base = self.base_url()
            if rest[0] == "item" and len(rest) == 1:
                return (200, jsonutil.dumpb(store.render_sublist(rec, base)),
                        COLLECTION_CT, ())
            if rest[0] == "item" and len(rest) == 2:
                for line in rec.lines:
                    if str(line["line"]) == rest[1]:
                        return (200, jsonutil.dumpb(
                            store.render_line(rec, line, base)),
                            SINGULAR_CT, ())
                raise not_found()
            if rest[0] in ("shippingAddress", "billingAddress") and \
                    len(rest) == 1 and rest[0] in rec.fields:
                addr = store.render(rec, base, expand=True)[rest[0]]
                return 200, jsonutil.dumpb(addr), SINGULAR_CT, ()
        raise not_found()

    def list_records(self, rtype, params):
        try:
            limit = int(params.get("limit", 1000))
            offset = int(params.get("offset", 0))
            assert 1 <= limit <= 1000 and offset >= 0
        except (ValueError, AssertionError):
            raise invalid_parameter("limit must be 1..1000 and offset >= 0.")
        base = self.base_url()
        with self.sim.lock:
            recs = sorted(self.sim.store.records[rtype].values(),
                          key=lambda r: int(r.id) if r.id.isdigit() else 0)
            self.sim.counters.reads[rtype] += 1
        page = recs[offset:offset + limit]
        url = "%s%s/%s" % (base, REST_PREFIX, rtype)
        out = {"links": [{"rel": "self", "href": "%s?limit=%d&offset=%d"
                          % (url, limit, offset)}],
               "count": len(page), "hasMore": offset + limit < len(recs),
               "items": [{"links": [{"rel": "self", "href": "%s/%s"
                                     % (url, r.id)}], "id": r.id}
                         for r in page],
               "offset": offset, "totalResults": len(recs)}
        return 200, jsonutil.dumpb(out), COLLECTION_CT, ()

    # ------------------------------------------------------------------
    # SuiteQL and RESTlet

    def suiteql(self):
        if self.command != "POST":
            raise self.method_not_allowed()
        if self.headers.get("Prefer", "").strip().lower() != "transient":
            raise NSError(400, "INVALID_HEADER", "SuiteQL requests need the "
                          "header 'Prefer: transient'.")
        params = dict(self.query)
        for name, _ in self.query:
            if name not in ("limit", "offset"):
                raise invalid_parameter("The query parameter '%s' is not "
                                        "valid here." % name, param=name)
        try:
            limit = int(params.get("limit", 1000))
            offset = int(params.get("offset", 0))
            assert 1 <= limit <= 1000 and offset >= 0
        except (ValueError, AssertionError):
            raise invalid_parameter("limit must be 1..1000 and offset >= 0.")
        body = self.json_body()
        if not isinstance(body, dict) or set(body) != {"q"}:
            raise invalid_content('The body must be {"q": "<SuiteQL>"}.')
        with self.sim.lock:
            rows, total = suiteql.run(self.sim.store, body["q"], limit,
                                      offset)
            self.sim.counters.reads["suiteql"] += 1
        url = "%s%s?limit=%d&offset=%d" % (self.base_url(), SUITEQL_PATH,
                                           limit, offset)
        links = [{"rel": "self", "href": url}]
        has_more = offset + limit < total
        if has_more:
            links.insert(0, {"rel": "next", "href": "%s%s?limit=%d&offset=%d"
                             % (self.base_url(), SUITEQL_PATH, limit,
                                offset + limit)})
        out = {"links": links, "count": len(rows), "hasMore": has_more,
               "items": [dict({"links": []}, **r) for r in rows],
               "offset": offset, "totalResults": total}
        return 200, jsonutil.dumpb(out), COLLECTION_CT, ()

    def run_restlet(self, drift=False):
        s = self.sim.settings
        params = dict(self.query)
        if params.get("script") != s["restlet_script"] or \
                params.get("deploy") != s["restlet_deploy"]:
            raise NSError(400, "SSS_INVALID_SCRIPTLET_ID", "That Suitelet is "
                          "invalid, disabled, or no longer exists.")
        if self.command != "POST":
            raise NSError(405, "SSS_INVALID_REQUEST_METHOD", "The RESTlet "
                          "has no %s function." % self.command)
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype.lower() != "application/json":
            raise NSError(400, "INVALID_CONTENT_TYPE", "Send the document as "
                          "application/json.")
        try:
            body = jsonutil.loads(self.body)
        except jsonutil.BadJSON as e:
            raise NSError(400, "SYNTAX_ERROR", "SyntaxError: %s" % e)
        with self.sim.lock:
            self.restlet.drift = drift
            out = self.restlet.apply(body)
            self.sim.counters.writes["restlet"] += 1
        return 200, jsonutil.dumpb(out), JSON_CT, ()

    @property
    def restlet(self):
        return self.sim.restlet

    # ------------------------------------------------------------------
    # admin API (no OAuth, no limits, no faults)

    def admin(self):
        sim = self.sim
        with sim.lock:
            sim.counters.c["admin"] += 1
        try:
            status, obj = self.admin_route()
        except NSError as e:
            status, obj = e.status, {"error": e.code, "message": e.detail}
        except (FaultError, ValueError) as e:
            status, obj = 400, {"error": "BAD_REQUEST", "message": str(e)}
        self.send_json(status, obj)
        if getattr(self, "shutdown_after", False):
            threading.Thread(target=self.server.sim_shutdown,
                             daemon=True).start()

    def admin_json(self):
        if not self.body:
            return {}
        try:
            return jsonutil.loads(self.body)
        except jsonutil.BadJSON as e:
            raise ValueError("body is not JSON: %s" % e)

    def admin_route(self):
        sim = self.sim
        store = sim.store
        m = self.command
        segs = [urllib.parse.unquote(s) for s in
                self.raw_path[len("/_admin/"):].split("/") if s]
        params = dict(self.query)
        base = self.base_url()

        if segs == ["health"] and m == "GET":
            return 200, {"ok": True, "pid": os.getpid(),
                         "port": self.server.server_address[1],
                         "realm": sim.realm}
        if segs == ["state"] and m == "GET":
            with sim.lock:
                return 200, {
                    "salesOrder": [store.render(r, base, admin=True) for r in
                                   store.records["salesOrder"].values()],
                    "creditMemo": [store.render(r, base, admin=True) for r in
                                   store.records["creditMemo"].values()],
                    "others": {t: [store.render(r, base, admin=True)
                                   for r in store.records[t].values()]
                               for t in RECORD_TYPES
                               if t not in ("salesOrder", "creditMemo")},
                    "items": list(store.items.values()),
                    "currencies": store.currencies,
                    "concurrency": sim.concurrency,
                    "faults": sim.faults.conf,
                    "counters": sim.counters.snapshot(sim.in_flight)}
        if segs == ["counters"] and m == "GET":
            with sim.lock:
                return 200, sim.counters.snapshot(sim.in_flight)
        if segs == ["counters", "reset"] and m == "POST":
            with sim.lock:
                sim.counters.reset()
            return 200, {"ok": True}
        if segs == ["requests"] and m == "GET":
            since = int(params.get("since", 0))
            with sim.lock:
                return 200, {"requests": [r for r in sim.requests
                                          if r["seq"] > since],
                             "last_seq": sim.log_seq}
        if segs == ["faults"]:
            with sim.lock:
                if m == "POST":
                    sim.faults.set(self.admin_json())
                elif m == "DELETE":
                    sim.faults.clear()
                elif m != "GET":
                    raise self.admin_bad_method()
                sim._sync_gate()
                return 200, sim.faults.conf
        if segs == ["concurrency"]:
            with sim.lock:
                if m == "POST":
                    limit = self.admin_json().get("limit")
                    if not isinstance(limit, int) or isinstance(limit, bool) \
                            or limit < 1:
                        raise ValueError("limit must be an integer >= 1")
                    sim.concurrency = limit
                elif m != "GET":
                    raise self.admin_bad_method()
                return 200, {"limit": sim.concurrency,
                             "in_flight": sim.in_flight}
        if segs == ["oauth2"]:
            with sim.lock:
                if m == "POST":
                    return 200, sim.m2m.configure(self.admin_json())
                if m != "GET":
                    raise self.admin_bad_method()
                return 200, sim.m2m.snapshot()
        if segs == ["reset"] and m == "POST":
            what = self.admin_json()
            if not isinstance(what, dict):
                raise ValueError("reset takes an object of booleans")
            sim.reset(what)
            return 200, {"ok": True}
        if segs == ["tax_engine"]:
            # POST {"ignore_override": true}: NetSuite's tax stands
            with sim.lock:
                if m == "POST":
                    v = self.admin_json().get("ignore_override")
                    if not isinstance(v, bool):
                        raise ValueError("ignore_override must be a boolean")
                    store.ignore_tax_override = v
                elif m != "GET":
                    raise self.admin_bad_method()
                return 200, {"ignore_override": store.ignore_tax_override}
        if segs == ["custom_fields"]:
            # POST {"fields": [...]} defines the account's custom fields;
            # {"fields": null} accepts any custbody_/custcol_ name again
            with sim.lock:
                if m == "POST":
                    fields = self.admin_json().get("fields")
                    if fields is not None and not (
                            isinstance(fields, list)
                            and all(isinstance(f, str) for f in fields)):
                        raise ValueError("fields must be a list of names "
                                         "or null")
                    store.custom_fields = None if fields is None \
                        else set(fields)
                elif m != "GET":
                    raise self.admin_bad_method()
                cf = store.custom_fields
                return 200, {"fields": None if cf is None else sorted(cf)}
        if segs == ["shutdown"] and m == "POST":
            self.shutdown_after = True
            return 200, {"ok": True}
        if segs == ["inventory"] and m == "GET":
            # what credit memos put back in stock, per item internal id
            with sim.lock:
                return 200, {"stock": {k: v for k, v in
                                       sorted(store.stock.items())}}
        if segs == ["inventory", "locations"] and m == "GET":
            # the same per location ("" when none was named)
            with sim.lock:
                return 200, {"stock": {
                    loc: {k: v for k, v in sorted(items.items())}
                    for loc, items in sorted(store.stock_at.items())}}
        if segs == ["preferences"]:
            # accounting preferences the simulator models
            with sim.lock:
                if m == "POST":
                    body = self.admin_json()
                    if not isinstance(body, dict):
                        raise ValueError("preferences take an object")
                    v = body.get("refund_in_advance_of_return",
                                 store.refund_in_advance)
                    if not isinstance(v, bool):
                        raise ValueError("refund_in_advance_of_return must "
                                         "be a boolean")
                    scope = body.get("external_id_scope",
                                     store.external_id_scope)
                    if scope not in ("type", "transaction"):
                        raise ValueError('external_id_scope is "type" or '
                                         '"transaction"')
                    ow = body.get("one_world", store.one_world)
                    if not isinstance(ow, bool):
                        raise ValueError("one_world must be a boolean")
                    store.refund_in_advance = v
                    store.external_id_scope = scope
                    store.one_world = ow
                elif m != "GET":
                    raise self.admin_bad_method()
                return 200, {"refund_in_advance_of_return":
                             store.refund_in_advance,
                             "external_id_scope": store.external_id_scope,
                             "one_world": store.one_world}
        if segs == ["currencies"]:
            # POST {"2": {"symbol": "EUR", "precision": 2}} adds currencies
            with sim.lock:
                if m == "POST":
                    body = self.admin_json()
                    if not isinstance(body, dict) or not all(
                            isinstance(v, dict) and isinstance(
                                v.get("symbol"), str) and isinstance(
                                v.get("precision"), int)
                            for v in body.values()):
                        raise ValueError('currencies: {"<id>": {"symbol": '
                                         '"EUR", "precision": 2}}')
                    for k, v in body.items():
                        store.currencies[str(k)] = {
                            "symbol": v["symbol"],
                            "precision": v["precision"]}
                elif m != "GET":
                    raise self.admin_bad_method()
                return 200, store.currencies
        if segs == ["customers"]:
            with sim.lock:
                if m == "POST":
                    custs = self.admin_json()
                    custs = custs if isinstance(custs, list) else [custs]
                    for c in custs:
                        store.add_customer(c)
                elif m != "GET":
                    raise self.admin_bad_method()
                return 200, {"customers": [dict(v, id=k) for k, v in
                                           sorted(store.customers.items())]}
        if segs and segs[0] == "items":
            with sim.lock:
                if m in ("POST", "PUT"):
                    items = self.admin_json()
                    items = items if isinstance(items, list) else [items]
                    if m == "PUT":
                        store.items.clear()
                    for item in items:
                        store.add_item(item)
                elif m == "DELETE":
                    store.items.clear()
                elif m != "GET":
                    raise self.admin_bad_method()
                return 200, {"items": list(store.items.values())}
        # /_admin/orders... is /_admin/records/salesOrder...
        if segs and segs[0] == "orders":
            segs = ["records", "salesOrder"] + segs[1:]
        if len(segs) >= 2 and segs[0] == "records":
            rtype = segs[1]
            if rtype not in RECORD_TYPES:
                raise NSError(404, "NONEXISTENT_ID", "no record type %s"
                              % rtype)
            return self.admin_records(rtype, segs[2:], base)
        raise NSError(404, "NOT_FOUND", "no admin resource %s %s"
                      % (m, self.raw_path))

    def admin_bad_method(self):
        return NSError(405, "METHOD_NOT_ALLOWED", "%s not allowed here"
                       % self.command)

    def admin_records(self, rtype, rest, base):
        sim, store, m = self.sim, self.sim.store, self.command
        with sim.lock:
            if not rest:
                if m == "GET":
                    return 200, [store.render(r, base, admin=True)
                                 for r in store.records[rtype].values()]
                if m == "POST":
                    body = self.admin_json()
                    many = isinstance(body, list)
                    if isinstance(body, dict) and isinstance(
                            body.get("records"), list):
                        body, many = body["records"], True
                    bodies = body if many else [body]
                    # All or nothing, so a bad fixture leaves no half-seed.
                    saved = (dict(store.records[rtype]), store.next_id)
                    try:
                        recs = [store.seed(rtype, b) for b in bodies]
                    except NSError:
                        store.records[rtype], store.next_id = saved
                        raise
                    out = [store.render(r, base, admin=True) for r in recs]
                    return 201, out if many else out[0]
                raise self.admin_bad_method()
            rec = store.must_get(rtype, rest[0])
            if len(rest) == 1:
                if m == "GET":
                    return 200, store.render(rec, base, admin=True)
                if m == "DELETE":
                    del store.records[rtype][rec.id]
                    return 200, {"ok": True}
                raise self.admin_bad_method()
            if rest[1:] == ["status"] and m == "POST":
                body = self.admin_json()
                if not isinstance(body, dict):
                    raise ValueError("status takes an object")
                letter = body.get("orderStatus", body.get("status"))
                if isinstance(letter, dict):
                    letter = letter.get("id")
                store.set_status(rec, letter, body.get("fulfilled"),
                                 body.get("billed"))
                return 200, store.render(rec, base, admin=True)
            raise NSError(404, "NOT_FOUND", "no admin resource %s"
                          % self.raw_path)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sim):
        self.sim = sim
        super().__init__(address, Handler)

    def sim_shutdown(self):
        # The main thread (cli.main) waits for this event and shuts down.
        self.sim.stop.set()
