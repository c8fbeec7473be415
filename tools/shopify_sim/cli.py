"""Command line: shops from options, the port on stdout, SIGTERM stops.

  shopify-sim --port 0 --shop acme.myshopify.com=TOKEN:SECRET \\
      --webhook-url http://127.0.0.1:8080/webhooks/shopify
"""

import argparse
import signal
import sys
import threading

from .server import Server
from .shop import Sim


def parser():
    p = argparse.ArgumentParser(
        prog="shopify-sim",
        description="A Shopify Admin API (REST) simulator: orders and "
                    "refunds with updated_at filters and Link pagination, "
                    "the leaky bucket and 429s, and signed webhooks, some "
                    "dropped, for testing ngx_order_edit_module.")
    a = p.add_argument
    a("--bind", default="127.0.0.1")
    a("--port", type=int, default=0, help="0 picks a free one; the port "
      "is printed on stdout when ready")
    a("--base-url", help="scheme://host[:port] for Link URLs (default: "
      "http://<Host header>)")
    a("--shop", action="append", default=[], metavar="DOMAIN=TOKEN[:SECRET]",
      help="a shop, its Admin API access token and webhook secret")
    a("--webhook-url", help="where every shop's webhooks go")
    a("--bucket-size", type=int, default=40)
    a("--leak-rate", type=float, default=2.0)
    a("--retries", type=int, default=3, help="a failed webhook is sent "
      "again this many times")
    a("--retry-delay", type=float, default=0.2)
    a("--log", help="request log file (default stderr)")
    a("--quiet", action="store_true")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    sim = Sim(retries=args.retries, retry_delay=args.retry_delay)
    for spec in args.shop:
        domain, _, rest = spec.partition("=")
        token, _, secret = rest.partition(":")
        sim.add_shop(domain, token, secret=secret or None,
                     webhook_url=args.webhook_url,
                     bucket_size=args.bucket_size, leak_rate=args.leak_rate)
    log = open(args.log, "a") if args.log else sys.stderr
    srv = Server((args.bind, args.port), sim, log, args.quiet, args.base_url)
    stop = threading.Event()

    def term(signo, frame):
        stop.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, term)
    signal.signal(signal.SIGINT, term)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.2)
    sim.stop()
    srv.server_close()
    return 0
