#!/usr/bin/env python3
"""Pages of orders.json as Shopify answers them, for page_parse.c: N
copies of bench/dispatch's order (t/fixtures/shopify/01-us-tax-exclusive
.json, 2.8 KB) with their own ids, written to /tmp/page-<N>.json."""

import json
import os
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

with open(os.path.join(TOP, "t", "fixtures", "shopify",
                       "01-us-tax-exclusive.json")) as f:
    order = json.load(f)
for n in (int(a) for a in sys.argv[1:] or ["50", "250"]):
    path = "/tmp/page-%d.json" % n
    with open(path, "w") as f:
        json.dump({"orders": [dict(order, id=5100000000 + i)
                              for i in range(n)]}, f)
    print(path)
