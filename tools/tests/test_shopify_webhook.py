"""Self-test for tools/shopify-webhook (python3 -m unittest, stdlib only).

Run:  make test-webhook   (or: cd tools/tests && python3 -m unittest -v test_shopify_webhook)
"""

import base64
import hashlib
import hmac
import http.server
import importlib.machinery
import importlib.util
import io
import json
import os
import pathlib
import tempfile
import threading
import unittest

TOOL = pathlib.Path(__file__).resolve().parent.parent / "shopify-webhook"


def load_tool():
    loader = importlib.machinery.SourceFileLoader("shopify_webhook", str(TOOL))
    spec = importlib.util.spec_from_loader("shopify_webhook", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


sw = load_tool()

# Shopify's published example (shopify.dev, "Verify webhooks").
VECTOR_SECRET = "test_secret_key"
VECTOR_BODY = b'{"foo": "bar"}'
VECTOR_HMAC = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


class Signing(unittest.TestCase):

    def test_published_vector(self):
        self.assertEqual(len(VECTOR_BODY), 14)
        self.assertEqual(sw.sign(VECTOR_BODY, VECTOR_SECRET), VECTOR_HMAC)

    def test_sign_only_cli(self):
        out = io.StringIO()
        rc = sw.main(["--body", VECTOR_BODY.decode(), "--secret",
                      VECTOR_SECRET, "--sign-only"], out=out)
        self.assertEqual(rc, 0)
        self.assertEqual(out.getvalue().strip(), VECTOR_HMAC)

    def test_sign_subcommand_from_file(self):
        with tempfile.TemporaryDirectory() as d:
            body = pathlib.Path(d, "b.json")
            body.write_bytes(VECTOR_BODY)
            sec = pathlib.Path(d, "s.secret")
            sec.write_text("new_secret\n" + VECTOR_SECRET + "\n")
            out = io.StringIO()
            rc = sw.main(["sign", str(body), "--secret-file", str(sec),
                          "--secret-line", "2"], out=out)
            self.assertEqual(rc, 0)
            self.assertEqual(out.getvalue().strip(), VECTOR_HMAC)

    def test_options_before_payload(self):
        with tempfile.TemporaryDirectory() as d:
            body = pathlib.Path(d, "b.json")
            body.write_bytes(VECTOR_BODY)
            out = io.StringIO()
            rc = sw.main(["--secret", VECTOR_SECRET, str(body), "--sign-only"],
                         out=out)
            self.assertEqual(rc, 0)
            self.assertEqual(out.getvalue().strip(), VECTOR_HMAC)

    def test_tamper_flips_exactly_one_byte(self):
        t = sw.tamper(VECTOR_BODY)
        self.assertEqual(len(t), len(VECTOR_BODY))
        self.assertEqual(sum(a != b for a, b in zip(t, VECTOR_BODY)), 1)
        self.assertNotEqual(sw.sign(t, VECTOR_SECRET), VECTOR_HMAC)

    def test_secret_file_rotation(self):
        with tempfile.TemporaryDirectory() as d:
            p = pathlib.Path(d, "s")
            p.write_text("  first \n\nsecond\n")
            self.assertEqual(sw.read_secret_file(p), "first")
            self.assertEqual(sw.read_secret_file(p, 2), "second")
            with self.assertRaises(sw.UsageError):
                sw.read_secret_file(p, 3)

    def test_names_from_paths(self):
        self.assertEqual(sw.topic_from_filename("x/orders.updated.1001.json"),
                         "orders/updated")
        self.assertEqual(sw.topic_from_filename("refunds.create.json"),
                         "refunds/create")
        self.assertIsNone(sw.topic_from_filename("order.json"))
        self.assertEqual(
            sw.shop_from_path("/a/globex.myshopify.com/orders.updated.1.json"),
            "globex.myshopify.com")


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers like the module would, checking the signature itself."""

    secret = b"s3cret"
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        want = base64.b64encode(
            hmac.new(self.secret, body, hashlib.sha256).digest()).decode()
        good = hmac.compare_digest(want,
                                   self.headers["X-Shopify-Hmac-Sha256"])
        Recorder.seen.append((dict(self.headers), body))
        status = 200 if good else 401
        out = json.dumps({"status": "queued"} if good
                         else {"error": "unauthorized"}).encode()
        self.send_response(status)
        if not good:
            self.send_header("Retry-After", "7")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


class AgainstLocalServer(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                    Recorder)
        cls.url = "http://127.0.0.1:%d/webhooks/shopify" % \
            cls.httpd.server_address[1]
        cls.thread = threading.Thread(target=cls.httpd.serve_forever,
                                      daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()

    def setUp(self):
        Recorder.seen = []

    def run_tool(self, *argv):
        out = io.StringIO()
        rc = sw.main(list(argv) + ["--url", self.url], out=out)
        return rc, out.getvalue()

    def test_good_post_has_every_header(self):
        rc, out = self.run_tool("--body", '{"id":1}', "--secret", "s3cret",
                                "--shop", "globex.myshopify.com",
                                "--topic", "refunds/create",
                                "--event-id", "ev-1",
                                "--triggered-at", "2024-01-01T00:00:00Z")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("200 OK"), out)
        h, body = Recorder.seen[0]
        self.assertEqual(body, b'{"id":1}')
        self.assertEqual(h["X-Shopify-Shop-Domain"], "globex.myshopify.com")
        self.assertEqual(h["X-Shopify-Topic"], "refunds/create")
        self.assertEqual(h["X-Shopify-Event-Id"], "ev-1")
        self.assertEqual(h["X-Shopify-Triggered-At"], "2024-01-01T00:00:00Z")
        self.assertEqual(h["X-Shopify-API-Version"], sw.DEFAULT_API_VERSION)
        self.assertEqual(len(h["X-Shopify-Webhook-Id"]), 36)

    def test_tamper_is_rejected_and_reported(self):
        rc, out = self.run_tool("--body", '{"id":1}', "--secret", "s3cret",
                                "--tamper")
        self.assertEqual(rc, 1)
        self.assertIn("401", out)
        self.assertIn("Retry-After=7", out)
        rc, _ = self.run_tool("--body", '{"id":1}', "--secret", "s3cret",
                              "--tamper", "--expect", "401")
        self.assertEqual(rc, 0)

    def test_repeat_fresh_ids_unless_given(self):
        self.run_tool("--body", "{}", "--secret", "s3cret", "--repeat", "3")
        ids = {h["X-Shopify-Webhook-Id"] for h, _ in Recorder.seen}
        self.assertEqual(len(ids), 3)
        Recorder.seen = []
        rc, out = self.run_tool("--body", "{}", "--secret", "s3cret",
                                "--repeat", "3", "--webhook-id", "same",
                                "--summary")
        ids = {h["X-Shopify-Webhook-Id"] for h, _ in Recorder.seen}
        self.assertEqual(ids, {"same"})
        self.assertIn("summary: 200 x3", out)

    def test_replay_directory(self):
        with tempfile.TemporaryDirectory() as d:
            shopdir = pathlib.Path(d, "acme.myshopify.com")
            shopdir.mkdir()
            pathlib.Path(shopdir, "orders.cancelled.7.json").write_text("{}")
            pathlib.Path(shopdir, "refunds.create.8.json").write_text("[]")
            secrets = pathlib.Path(d, "secrets")
            secrets.mkdir()
            pathlib.Path(secrets, "acme.myshopify.com.secret").write_text(
                "s3cret\n")
            rc, out = self.run_tool("replay", d, "--secrets-dir",
                                    str(secrets))
        self.assertEqual(rc, 0, out)
        topics = [h["X-Shopify-Topic"] for h, _ in Recorder.seen]
        self.assertEqual(topics, ["orders/cancelled", "refunds/create"])
        self.assertTrue(all(h["X-Shopify-Shop-Domain"] == "acme.myshopify.com"
                            for h, _ in Recorder.seen))
        self.assertIn("summary: 200 x2", out)

    def test_executable(self):
        self.assertTrue(os.access(TOOL, os.X_OK))


if __name__ == "__main__":
    unittest.main()
