"""Start, drive and stop a netsuite-sim process for the unit tests.

Each test class starts its own simulator on a free 127.0.0.1 port
(--port 0, the port read from stdout) and stops it with SIGTERM, checking it
exits cleanly.  Requests are signed with tools/nsoauth.py unless a test asks
otherwise."""

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from decimal import Decimal

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)

import nsoauth  # noqa: E402

SIM = os.path.join(TOOLS, "netsuite-sim")
ACCOUNT = "1234567_SB1"
KEYS = {"consumer_key": "ck-test-consumer", "consumer_secret": "cs-secret+/=",
        "token_id": "ti-test-token", "token_secret": "ts-secret&x"}
CREDS = nsoauth.Credentials(KEYS["consumer_key"], KEYS["consumer_secret"],
                            KEYS["token_id"], KEYS["token_secret"])

# the files an order_edit_netsuite block reads KEYS from, by directive
KEY_FILES = (("ck", "consumer_key"), ("cs", "consumer_secret"),
             ("ti", "token_id"), ("ts", "token_secret"))


def write_key_files(directory):
    """ck, cs, ti, ts in directory: KEYS for consumer_key_file & co."""
    for name, key in KEY_FILES:
        with open(os.path.join(directory, name), "w") as out:
            out.write(KEYS[key] + "\n")
REC = "/services/rest/record/v1"
START_TIMEOUT = 10


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body, parse_float=Decimal) if body \
                else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def error_code(self):
        """o:errorCode of a REST error, or code of a RESTlet error."""
        j = self.json or {}
        if "o:errorDetails" in j:
            return j["o:errorDetails"][0]["o:errorCode"]
        return (j.get("error") or {}).get("code")

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Sim:
    def __init__(self, *args, keys=True, account=ACCOUNT):
        self.tmp = tempfile.TemporaryDirectory(prefix="nssim-")
        self.log_path = os.path.join(self.tmp.name, "sim.log")
        cmd = [sys.executable, SIM, "--port", "0", "--account", account,
               "--log", self.log_path]
        if keys:
            for k, v in KEYS.items():
                cmd += ["--" + k.replace("_", "-"), v]
        cmd += list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [],
                                    START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.proc.kill()
            err = self.proc.stderr.read().decode()
            raise RuntimeError("simulator did not start: %r %s" % (line, err))
        self.port = int(line)
        self.host = "127.0.0.1:%d" % self.port
        self.creds = CREDS
        self.realm = ACCOUNT

    def url(self, path):
        return "http://%s%s" % (self.host, path)

    def stop(self):
        """SIGTERM and return the exit status (bounded wait)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.tmp.cleanup()
        return self.proc.returncode

    def request(self, method, path, body=None, headers=None, sign=True,
                creds=None, realm=None, timeout=10, **sign_kw):
        """Send one API request on a fresh connection.  ``body`` may be a
        dict (sent as JSON), bytes/str (sent as is) or None."""
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        if sign:
            c = creds or self.creds
            headers["Authorization"] = nsoauth.sign(
                method, self.url(path), c.consumer_key, c.consumer_secret,
                c.token_id, c.token_secret,
                realm=self.realm if realm is None else realm, **sign_kw)[0]
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in
                                       r.getheaders()}, r.read())
        finally:
            conn.close()

    def admin(self, method, path, body=None):
        r = self.request(method, "/_admin/" + path.lstrip("/"), body,
                         sign=False)
        if r.status >= 300:
            raise AssertionError("admin %s %s: %r" % (method, path, r))
        return r.json

    def counters(self):
        return self.admin("GET", "counters")

    def seed_order(self, ext="shopify-1001", lines=None, **fields):
        body = {"externalId": ext, "entity": {"id": "42"},
                "item": {"items": lines or [
                    {"item": {"id": "100"}, "quantity": 2, "rate": 10}]}}
        body.update(fields)
        return self.admin("POST", "orders", body)

    def wait_for(self, predicate, timeout=5.0, what="condition"):
        """Poll the admin API until ``predicate(counters)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.counters()
            if predicate(c):
                return c
            time.sleep(0.01)
        raise AssertionError("timed out waiting for %s" % what)


class SimTestCase(unittest.TestCase):
    """One simulator per test class, reset before every test."""

    sim_args = ()

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(*cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.sim.stop()
        assert rc == 0, "simulator exit status %r" % rc

    def setUp(self):
        self.sim.admin("POST", "reset")

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.error_code(), code, r)
        if "o:errorDetails" in (r.json or {}):
            self.assertEqual(r.header("content-type"),
                             "application/vnd.oracle.resource+json; "
                             "type=error")
            self.assertEqual(r.json["status"], status)
            self.assertTrue(r.json["type"].startswith("https://"))


def parallel(n, fn):
    """Run fn(i) in n threads released together; return results in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait(timeout=10)
        try:
            results[i] = fn(i)
        except Exception as e:  # the test inspects it
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results
