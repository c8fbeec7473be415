"""Start, drive and stop a tools/shopify-sim process for tests (the unit
tests here and t/integration's): a free port, the control API, the REST
Admin API with a token, and SIGTERM at the end."""

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import time

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(TOOLS, "shopify-sim")


class ShopifySim:
    """Start tools/shopify-sim on a free port; stop it with SIGTERM."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, SIM, "--port", "0", "--quiet"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError("shopify-sim did not start: %r %s"
                               % (line, self.proc.stderr.read()))
        self.port = int(line)

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, \
            (json.loads(raw) if raw else None)

    def ctl(self, method, path, body=None):
        s, _, b = self.request(method, "/_sim/" + path, body)
        if s >= 300:
            raise AssertionError("%s %s: %d %s" % (method, path, s, b))
        return b

    def api(self, path, token):
        return self.request("GET", path, headers={
            "X-Shopify-Access-Token": token})

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode

    def pending(self):
        return self.ctl("GET", "pending")["pending"]

    def drain(self, timeout=30.0):
        """Wait until every webhook fired is sent, failed or dropped."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                raise AssertionError("webhooks still pending")
            time.sleep(0.05)
