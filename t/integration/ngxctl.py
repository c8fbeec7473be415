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

    # -- process control, for crash and binary upgrade tests ------------
    #
    # Only processes of this server are touched: masters whose title names
    # this prefix (nginx keeps its command line in the title), their
    # children, and processes seen as such before that are still the same
    # processes (same start time: pids are reused), which finds workers
    # orphaned by a master that died alone.

    def oldbin_pid(self):
        """The old master's pid during a binary upgrade, else None."""
        try:
            with open(os.path.join(self.dir, "logs",
                                   "nginx.pid.oldbin")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _proc_table():
        """pid -> (ppid, start time, cmdline) of every live process."""
        table = {}
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
            if fields[0] in ("Z", "X") and not NginxServer._live_task(p):
                continue
            table[int(p)] = (int(fields[1]), int(fields[19]), cmd)
        return table

    @staticmethod
    def _live_task(pid):
        """True while a thread of pid still runs: a killed process whose
        main thread is gone shows "Z" until its last thread leaves (one
        in an fdatasync on a real disk can take a while), and until then
        it keeps its files, the listening socket among them."""
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return False
        return any(NginxServer._state(f"{pid}/task/{t}") not in ("Z", "X")
                   for t in tasks)

    @staticmethod
    def _state(proc):
        """The state letter of /proc/<proc>/stat ("X": gone)."""
        try:
            with open(f"/proc/{proc}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return "X"

    def processes(self):
        """{pid: "master" | "worker" | "other"} of this server."""
        seen = self.__dict__.setdefault("_seen", {})
        table = self._proc_table()
        mark = self.dir.encode()
        masters = {pid for pid, (_, _, cmd) in table.items()
                   if cmd.startswith(b"nginx: master process") and mark in cmd}
        out = {}
        for pid, (ppid, start, cmd) in table.items():
            if pid in masters:
                out[pid] = "master"
            elif ppid in masters or seen.get(pid) == start:
                out[pid] = ("worker" if b"worker process" in cmd
                            else "other")
            else:
                continue
            seen[pid] = start
        return out

    def master_pids(self):
        return sorted(p for p, r in self.processes().items() if r == "master")

    def send_signal(self, sig, pid=None):
        """Send sig to pid, by default the master in the pid file."""
        os.kill(self.master_pid() if pid is None else pid, sig)

    def wait_gone(self, pids, timeout=10.0):
        """True once none of pids is alive (zombies count as gone)."""
        pids = set(pids)
        deadline = time.monotonic() + timeout
        while True:
            left = pids & set(self._proc_table())
            if not left:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _stop_all(self, timeout):
        """SIGSTOP every process of this server until no new one appears.

        A master found before it forked its workers (a restart right after
        start: the listening socket accepts before any worker runs) forks
        them while it is being stopped; killed then, it would leave them
        running with the port.  Once every process found is stopped
        (state "T"), a stopped master forks no more and one more look
        finds all its children."""
        procs = {}
        deadline = time.monotonic() + timeout
        while True:
            new = {p: r for p, r in self.processes().items()
                   if p not in procs}
            if not new:
                return procs
            procs.update(new)
            # the master first, so that it respawns no worker killed
            for pid in sorted(new, key=lambda p: new[p] != "master"):
                try:
                    os.kill(pid, signal.SIGSTOP)
                except OSError:
                    pass
            while any(self._state(p) not in ("T", "t", "Z", "X")
                      for p in new):
                if time.monotonic() >= deadline:
                    return procs
                time.sleep(0.005)

    def kill_all(self, sig=signal.SIGKILL, timeout=10.0):
        """sig to every process of this server at once (kill -9 of the
        master and all its workers, as a crash or the OOM killer would);
        waits for them to go; returns the pids signalled."""
        if sig == signal.SIGKILL:
            # stopped first, so that no master respawns a worker and no
            # worker answers a request while the others are being killed
            procs = self._stop_all(timeout)
        else:
            procs = self.processes()
        for pid in sorted(procs, key=lambda p: procs[p] != "master"):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if not self.wait_gone(procs, timeout):
            raise RuntimeError("nginx processes survived signal %d: %r"
                               % (sig, sorted(set(procs)
                                              & set(self._proc_table()))))
        return sorted(procs)

    def restart(self):
        """Start again in the same prefix, whatever the (possibly stale)
        pid file says."""
        self.start()

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
