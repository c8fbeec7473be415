"""Starting, configuring, logging and stopping the simulator process."""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import nsoauth
from simhelper import SIM, Sim, KEYS, REC


def wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        time.sleep(0.02)
    raise AssertionError("%s not written" % path)


class Process(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def start(self, *args):
        return subprocess.Popen([sys.executable, SIM] + list(args),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def key_files(self):
        paths = {}
        for k, v in KEYS.items():
            paths[k] = os.path.join(self.d, k)
            with open(paths[k], "w") as f:
                f.write(v + "\n")
        return paths

    def test_config_file_port_and_pid_files_and_sigterm(self):
        keys = self.key_files()
        conf = dict({k + "_file": p for k, p in keys.items()},
                    account="1234567-sb1", concurrency=3,
                    faults={"latency_ms": 1})
        conf_path = os.path.join(self.d, "sim.json")
        with open(conf_path, "w") as f:
            json.dump(conf, f)
        port_file = os.path.join(self.d, "port")
        pid_file = os.path.join(self.d, "pid")
        log = os.path.join(self.d, "calls.log")
        p = self.start("--config", conf_path, "--port", "0", "--port-file",
                       port_file, "--pid-file", pid_file, "--log", log)
        try:
            port = int(wait_file(port_file))
            self.assertEqual(int(wait_file(pid_file)), p.pid)
            # the port is also the first line on stdout
            self.assertEqual(int(p.stdout.readline()), port)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/_admin/concurrency")
            r = conn.getresponse()
            self.assertEqual(json.loads(r.read())["limit"], 3)
            # keep-alive: a second request on the same connection, signed
            # with the keys from the files and the realm derived from the
            # account.
            url = "http://127.0.0.1:%d%s/salesOrder/eid:x" % (port, REC)
            auth, _ = nsoauth.sign("GET", url, KEYS["consumer_key"],
                                   KEYS["consumer_secret"], KEYS["token_id"],
                                   KEYS["token_secret"], realm="1234567_SB1")
            conn.request("GET", url[len("http://127.0.0.1:%d" % port):],
                         headers={"Authorization": auth})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 404)
            conn.close()
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=10)
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(port_file))
        self.assertFalse(os.path.exists(pid_file))
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r" GET /_admin/concurrency 200 [\d.]+ms$")
        self.assertRegex(lines[1], r" GET /services/rest/record/v1/salesOrder/"
                         r"eid:x 404 [\d.]+ms$")

    def test_sigint_and_admin_shutdown(self):
        for how in ("sigint", "admin"):
            sim = Sim()
            if how == "sigint":
                sim.proc.send_signal(signal.SIGINT)
            else:
                sim.admin("POST", "shutdown")
            self.assertEqual(sim.proc.wait(timeout=10), 0, how)
            sim.stop()

    def test_stop_while_a_request_is_held(self):
        sim = Sim("--timeout-rate", "1", "--timeout-s", "60")
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
        conn.request("GET", REC + "/salesOrder/1")
        sim.wait_for(lambda c: c["faults"]["timeout"] == 1)
        t0 = time.monotonic()
        self.assertEqual(sim.stop(), 0)
        self.assertLess(time.monotonic() - t0, 5)
        conn.close()

    def test_missing_keys_or_account_refused(self):
        for args in (["--account", "1"], ["--consumer-key", "x"]):
            p = self.start(*args)
            out, err = p.communicate(timeout=10)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(b"netsuite-sim:", err)

    def test_help_lists_options(self):
        out = subprocess.run([sys.executable, SIM, "--help"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        for opt in ("--port-file", "--latency-range-ms",
                    "--lost-response-rate",
                    "--bogus-401-rate", "--base-url", "--seed"):
            self.assertIn(opt, out.stdout)

    def test_seed_and_items_files(self):
        seed = os.path.join(self.d, "seed.json")
        with open(seed, "w") as f:
            json.dump({"salesOrder": [{
                "id": 5000, "externalId": "seeded", "entity": {"id": "1"},
                "orderStatus": "F",
                "item": {"items": [{"item": {"id": "7"}, "quantity": 1,
                                    "rate": 2}]}}]}, f)
        items = os.path.join(self.d, "items.json")
        with open(items, "w") as f:
            json.dump([{"id": "7", "externalId": "SKU-7"}], f)
        sim = Sim("--seed-file", seed, "--items-file", items)
        try:
            rec = sim.admin("GET", "records/salesOrder/eid:seeded")
            self.assertEqual((rec["id"], rec["orderStatus"]["id"]),
                             ("5000", "F"))
            self.assertEqual(rec["item"]["items"][0]["quantityFulfilled"], 1)
            # reset brings the seed back
            sim.request("DELETE", REC + "/salesOrder/5000")
            sim.admin("POST", "reset")
            self.assertEqual(len(sim.admin("GET", "records/salesOrder")), 1)
        finally:
            self.assertEqual(sim.stop(), 0)


if __name__ == "__main__":
    unittest.main()
