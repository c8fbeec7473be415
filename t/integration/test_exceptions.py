"""The exceptions API as a person's browser meets it: the log names who
retried or resolved an exception, and who was refused (Test::Nginx checks
the log after every request of a block, so a sequence cannot end with the
one line it looks for)."""

import json
import os
import unittest

from ngxctl import NginxServer

BODY = json.dumps({"id": 450789469, "line_items": []}).encode()

HTTP = """
    order_edit_zone edits:1m;
    order_edit_store acme.myshopify.com { secret acme; }
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh { order_edit_webhook edits; }
        location = /q { order_edit_queue_debug edits; }
        location /exc {
            auth_basic "exceptions";
            auth_basic_user_file __DIR__/htpasswd;
            order_edit_exceptions edits;
        }
    }
"""

ALICE = {"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}
JSON = {"Content-Type": "application/json"}


class ExceptionActors(unittest.TestCase):

    def setUp(self):
        self.ngx = NginxServer("")
        self.addCleanup(self.ngx.stop)
        with open(os.path.join(self.ngx.dir, "htpasswd"), "w") as f:
            f.write("alice:{PLAIN}wonderland\n")
        self.ngx.write_conf(HTTP.replace("__DIR__", self.ngx.dir))
        self.ngx.start()

        s, _, b = self.ngx.post_webhook("acme", BODY, "e1")
        self.assertEqual(s, 200, b)
        s, _, b = self.ngx.request("GET", "/q?op=lease")
        self.assertEqual(s, 200, b)
        s, _, b = self.ngx.request(
            "GET", "/q?op=park&shop=acme.myshopify.com&id=1&token=1"
                   "&reason=fulfilment_lock")
        self.assertEqual(s, 200, b)

    def test_a_resolve_logs_the_address_and_the_user(self):
        s, _, b = self.ngx.request("POST", "/exc/1/resolve", b"{}",
                                   dict(JSON, **ALICE))
        self.assertEqual(s, 200, b)
        self.assertIn('order_edit: exception #1 resolved by 127.0.0.1 '
                      'user "alice"', self.ngx.error_log())

    def test_a_retry_logs_them_too(self):
        s, _, b = self.ngx.request("POST", "/exc/1/retry", b"",
                                   dict(JSON, **ALICE))
        self.assertEqual(s, 200, b)
        self.assertIn('order_edit: exception #1 sent back to the queue by '
                      '127.0.0.1 user "alice"', self.ngx.error_log())

    def test_a_cross_site_resolve_is_refused_and_logged(self):
        s, _, b = self.ngx.request("POST", "/exc/1/resolve", b"id=1", dict(
            ALICE, **{"Content-Type": "application/x-www-form-urlencoded",
                      "Origin": "https://evil.example",
                      "Sec-Fetch-Site": "cross-site"}))
        self.assertEqual(s, 403, b)
        self.assertEqual(json.loads(b)["error"], "forbidden")
        self.assertIn('resolve of exception #1 by 127.0.0.1 user "alice" '
                      'refused: a cross-site request', self.ngx.error_log())
        # still there
        s, _, b = self.ngx.request("GET", "/exc", headers=ALICE)
        self.assertEqual(json.loads(b)["count"], 1)


if __name__ == "__main__":
    unittest.main()
