"""Start and stop a private nginx with the module, for integration tests.

Each NginxServer gets its own prefix under a temporary directory, listens
on 127.0.0.1 only, and is always stopped (and its directory removed) by
stop(), which the tests call from tearDown / addCleanup.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NGINX = os.environ.get("TEST_NGINX_BINARY", "/usr/sbin/nginx")
MODULE = os.environ.get(
    "TEST_NGINX_LOAD_MODULES",
    os.path.join(os.path.dirname(__file__), "..", "..", "build",
                 "ngx_http_order_edit_module.so"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(secret, body):
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class NginxServer:
    """nginx in its own prefix; http_block is the inside of http { }."""

    def __init__(self, http_block, workers=1, extra_main=""):
        self.dir = tempfile.mkdtemp(prefix="oe-it-")
        # workers run as nobody when the master is root: let them in
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, "conf"))
        os.makedirs(os.path.join(self.dir, "logs"))
        self.port = free_port()
        self.workers = workers
        self.extra_main = extra_main
        self.write_conf(http_block)
        self.started = False

    def write_conf(self, http_block):
        d = self.dir
        conf = f"""
load_module {os.path.abspath(MODULE)};
worker_processes {self.workers};
error_log {d}/logs/error.log info;
pid {d}/logs/nginx.pid;
{self.extra_main}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{http_block.replace("__PORT__", str(self.port))}
}}
"""
        with open(os.path.join(d, "conf", "nginx.conf"), "w") as f:
            f.write(conf)

    def nginx(self, *args):
        return subprocess.run(
            [NGINX, "-p", self.dir + "/", "-c", "conf/nginx.conf",
             "-e", self.dir + "/logs/error.log", *args],
            capture_output=True, text=True, timeout=30)

    def start(self):
        r = self.nginx()
        if r.returncode != 0:
            raise RuntimeError("nginx did not start: " + r.stderr
                               + self.error_log())
        self.started = True
        self.wait_ready()

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx is not listening")

    def master_pid(self):
        with open(os.path.join(self.dir, "logs", "nginx.pid")) as f:
            return int(f.read().strip())

    def worker_pids(self):
        master = self.master_pid()
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if int(fields[1]) == master and b"worker process" in cmd:
                pids.append(int(p))
        return sorted(pids)

    def reload(self, http_block, timeout=10.0):
        """HUP with a new config; returns once new workers serve, or the
        error log says the reload failed."""
        old = set(self.worker_pids())
        mark = len(self.error_log())
        self.write_conf(http_block)
        os.kill(self.master_pid(), signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.error_log()[mark:]
            if "[emerg]" in log or "[alert]" in log:
                return False
            new = set(self.worker_pids())
            if new and not (new & old):
                return True
            time.sleep(0.05)
        raise RuntimeError("reload did not finish")

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "logs", "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.started:
            try:
                pid = self.master_pid()
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.05)
                else:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def post_webhook(self, secret, body, webhook_id, shop="acme.myshopify.com",
                     topic="orders/updated"):
        return self.request("POST", "/wh", body, {
            "X-Shopify-Hmac-Sha256": sign(secret, body),
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-API-Version": "2024-10",
        })

    def status(self):
        s, _, b = self.request("GET", "/status")
        assert s == 200, (s, b)
        return json.loads(b)
