"""A webhook body that nginx reads in pieces (issue 17).

nginx reads a request's headers into a 1 KB buffer, and with them the
first bytes of the body; the rest goes into the body's own buffer, one
chain link per read.  Ingest no longer joins these pieces into one
16 KB copy before it verifies and queues a webhook: the HMAC runs over
each piece, the zone's copy takes each in turn, and the order id hint
is read across them.  These tests send the headers with the body's
first bytes, then the rest in pieces with pauses, so that each is its
own read, and prove the queued body is the one sent byte for byte, its
signature is checked over all of it, and the order id is found even
when its digits straddle pieces.  A body nginx writes to a temporary
file (larger than client_body_buffer_size) is read back whole, as
before.  With a journal the record is written from the zone's copy, and
a restart replays it byte for byte.
"""

import hashlib
import json
import os
import socket
import time
import unittest

from ngxctl import NginxServer, sign

SHOP = "acme.myshopify.com"
ORDER = 820982911946154508

HTTP = """
    order_edit_zone edits:8m;
    __JOURNAL__
    order_edit_store acme.myshopify.com { secret acme; }
    server {
        listen 127.0.0.1:__PORT__;
        location = /wh {
            client_body_buffer_size 64k;
            order_edit_webhook edits;
        }
        location = /whf {
            client_body_buffer_size 1k;
            order_edit_webhook edits;
        }
        location = /status { order_edit_status edits; }
        location = /q { order_edit_queue_debug edits; }
    }
"""


def order_body():
    return json.dumps({"id": ORDER, "note": "n" * 20000, "line_items": [
        {"id": i, "sku": f"SKU-{i}", "quantity": 1, "price": "9.99"}
        for i in range(8)]}, separators=(",", ":")).encode()


def refund_body():
    # order_id near the top, after the refund's own id
    return json.dumps({"id": 5501, "order_id": ORDER, "note": "r" * 3000},
                      separators=(",", ":")).encode()


class BodyInPieces(unittest.TestCase):

    journal = False

    def setUp(self):
        self.ngx = NginxServer(HTTP.replace("__JOURNAL__", ""), workers=1)
        if self.journal:
            jdir = os.path.join(self.ngx.dir, "journal")
            os.mkdir(jdir)
            os.chmod(jdir, 0o1777)
            self.ngx.write_conf(HTTP.replace(
                "__JOURNAL__", f"order_edit_journal {jdir} fsync=off;"))
        self.addCleanup(self.ngx.stop)
        self.ngx.start()

    def post_in_pieces(self, body, cuts, wid, topic="orders/updated",
                       signed=None, path="/wh"):
        """The headers with body[0:cuts[0]], as nginx reads a webhook's
        first bytes with its headers, then body[cuts[0]:cuts[1]]... each
        after a pause, so that nginx reads each one by itself."""
        head = (f"POST {path} HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\n"
                f"X-Shopify-Hmac-Sha256: {sign('acme', signed or body)}\r\n"
                f"X-Shopify-Shop-Domain: {SHOP}\r\n"
                f"X-Shopify-Topic: {topic}\r\n"
                f"X-Shopify-Webhook-Id: {wid}\r\n"
                f"X-Shopify-API-Version: 2024-10\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n").encode()
        edges = list(cuts) + [len(body)]
        with socket.create_connection(("127.0.0.1", self.ngx.port),
                                      timeout=10) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(head + body[:cuts[0]])
            for a, b in zip(edges, edges[1:]):
                time.sleep(0.05)
                s.sendall(body[a:b])
            raw = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                raw += chunk
        status = int(raw.split(b" ", 2)[1])
        return status, json.loads(raw.split(b"\r\n\r\n", 1)[1])

    def assert_queued_whole(self, body):
        """The queue's next webhook holds body, byte for byte, and the
        order id read from it."""
        item = self.peek()
        self.assertIsNotNone(item, self.ngx.error_log())
        self.assertEqual(item["body_bytes"], len(body))
        self.assertEqual(item["body_sha256"],
                         hashlib.sha256(body).hexdigest())
        self.assertEqual(item["order_id"], ORDER)
        return item

    def peek(self):
        status, _, raw = self.ngx.request("GET", f"/q?op=peek&shop={SHOP}")
        self.assertEqual(status, 200, raw)
        return json.loads(raw)["item"]

    def test_body_read_in_pieces_is_verified_and_queued_whole(self):
        body = order_body()
        # the id's digits straddle the first two pieces: '{"id":8209' |
        # '82911946154508,...'
        status, answer = self.post_in_pieces(body, [10, 17, 4000], "bp-1")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["status"], "queued")
        self.assert_queued_whole(body)

    def test_a_changed_byte_in_the_last_piece_fails_the_signature(self):
        body = order_body()
        tampered = body[:-3] + b"X" + body[-2:]
        status, answer = self.post_in_pieces(tampered, [10, 17, 4000],
                                             "bp-2", signed=body)
        self.assertEqual(status, 401, answer)
        self.assertIsNone(self.peek())

    def test_a_refunds_order_id_is_found_across_pieces(self):
        body = refund_body()
        at = body.index(b'"order_id":') + len(b'"order_id":') + 4
        status, answer = self.post_in_pieces(body, [5, at, 600], "bp-3",
                                             topic="refunds/create")
        self.assertEqual(status, 200, answer)
        self.assert_queued_whole(body)


    def test_a_body_in_a_temporary_file_is_read_whole(self):
        # client_body_buffer_size 1k: nginx writes most of it to a file
        body = order_body()
        status, answer = self.post_in_pieces(body, [10, 17, 4000], "bp-4",
                                             path="/whf")
        self.assertEqual(status, 200, answer)
        self.assert_queued_whole(body)


class BodyInPiecesJournaled(BodyInPieces):
    """With a journal the body is not joined either: the record is
    written from the zone's copy (queue_body()).  A restart replays the
    record into a fresh zone: the same bytes come back, or its CRC would
    have refused it."""

    journal = True

    def test_the_record_replays_the_body_read_in_pieces(self):
        body = order_body()
        status, answer = self.post_in_pieces(body, [10, 17, 4000], "bp-5")
        self.assertEqual(status, 200, answer)
        self.ngx.kill_all()
        self.ngx.restart()
        item = self.assert_queued_whole(body)
        self.assertEqual(item["webhook_id"], "bp-5")


if __name__ == "__main__":
    unittest.main()
