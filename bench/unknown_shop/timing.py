#!/usr/bin/env python3
"""How long a 401 takes for an unknown shop and for a bad signature.

nginx (one worker, the module built in build/) is started on a free port
with one store (acme.myshopify.com, max_body 2m).  For each body size,
N requests of each kind are sent in turn, each on its own connection
(what a prober does), and the median and 90th percentile wall-clock time
from connect to the whole answer are printed.  Only the difference
between the two kinds matters; the absolute numbers depend on the
machine.

    bench/unknown_shop/timing.py [--n 2000] [--n-large 300]
"""

import argparse
import http.client
import os
import statistics
import sys
import time

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "t", "integration"))
os.environ.setdefault("TEST_NGINX_LOAD_MODULES", os.path.join(
    TOP, "build", "ngx_http_order_edit_module.so"))

from ngxctl import NginxServer, sign  # noqa: E402

HTTP = """
    order_edit_zone edits:4m;
    order_edit_store acme.myshopify.com { secret acme; max_body 2m; }
    server {
        listen 127.0.0.1:__PORT__;
        access_log off;
        location = /wh { order_edit_webhook edits; }
    }
"""


def body_of(size):
    head = b'{"id":1,"note":"'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def one(port, body, shop, hmac):
    t0 = time.perf_counter_ns()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/wh", body, {
        "X-Shopify-Hmac-Sha256": hmac,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Webhook-Id": "w",
        "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    t = time.perf_counter_ns() - t0
    assert r.status == 401, r.status
    return t / 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n-large", type=int, default=300)
    a = ap.parse_args()

    ngx = NginxServer(HTTP, workers=1)
    try:
        ngx.start()
        for size, n in ((217, a.n), (1024 * 1024, a.n_large)):
            body = body_of(size)
            good_for_other = sign("other", body)
            wrong = sign("not-acme", body)
            unknown, bad = [], []
            for i in range(n + 20):
                u = one(ngx.port, body, "other.myshopify.com", good_for_other)
                b = one(ngx.port, body, "acme.myshopify.com", wrong)
                if i >= 20:     # warm-up
                    unknown.append(u)
                    bad.append(b)
            for name, xs in (("unknown shop", unknown),
                             ("bad signature", bad)):
                xs.sort()
                print("%8d B  %-13s  n=%d  median %7.0f us  p90 %7.0f us"
                      % (size, name, len(xs), statistics.median(xs),
                         xs[int(len(xs) * 0.9)]))
    finally:
        ngx.stop()


if __name__ == "__main__":
    main()
