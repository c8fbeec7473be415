"""HTTP: the REST Admin API a client sees, and /_sim/ for the tests.

REST Admin API (X-Shopify-Access-Token names the shop):
  GET /admin/api/<version>/orders.json            list, filtered, paged
  GET /admin/api/<version>/orders/<id>.json       one order
  GET /admin/api/<version>/orders/count.json      how many match
  GET /admin/api/<version>/orders/<id>/refunds.json

Test control (no authentication; see docs/shopify-simulator.md):
  POST /_sim/shops                       add or replace a shop
  GET  /_sim/shops/<shop>                its state and counters
  POST /_sim/shops/<shop>/orders         create an order (orders/create)
  PUT  /_sim/shops/<shop>/orders/<id>    change it (orders/updated, ...)
  POST /_sim/shops/<shop>/orders/<id>/cancel
  POST /_sim/shops/<shop>/orders/<id>/age    updated_at moved back, quietly
  POST /_sim/shops/<shop>/orders/<id>/refunds
  POST /_sim/shops/<shop>/drop           which webhooks never leave
  POST /_sim/shops/<shop>/throttle       429 the next N API calls
  GET  /_sim/shops/<shop>/webhooks       every webhook fired, and its fate
  GET  /_sim/shops/<shop>/requests       every API call, and its answer
  GET  /_sim/pending                     webhooks not yet sent
"""

import http.server
import json
import re
import time
import urllib.parse

from .shop import ApiError

API = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/"
                 r"orders(?:/(\d+|count))?(/refunds)?\.json$")
SIM = re.compile(r"^/_sim/shops(?:/([^/]+)(?:/(orders|drop|throttle|"
                 r"webhooks|requests)(?:/(\d+)(?:/(cancel|refunds|age))?)?)?)?$")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "shopify-sim/1"
    # the headers and the body go out in two writes: without this, each
    # answer on a kept-alive connection waits for the client's delayed ACK
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            self.server.log.write("%s %s\n" % (time.strftime("%H:%M:%S"),
                                               fmt % args))
            self.server.log.flush()

    def send(self, status, obj, headers=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else {}

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        try:
            if u.path.startswith("/_sim/"):
                return self.control(method, u)
            m = API.match(u.path)
            if m is None:
                return self.send(404, {"errors": "Not Found"})
            if method != "GET":
                return self.send(405, {"errors": "Method Not Allowed"})
            return self.api(m, u)
        except ApiError as e:
            return self.send(e.status, {"errors": e.errors}, e.headers)
        except (ValueError, KeyError, TypeError) as e:
            return self.send(400, {"errors": "bad request: %s" % e})

    # ---- the REST Admin API -------------------------------------------

    def api(self, m, u):
        sim = self.server.sim
        token = self.headers.get("X-Shopify-Access-Token")
        with sim.lock:
            shop = sim.tokens.get(token or "")
            host = (self.headers.get("Host") or "").split(":")[0]
            if shop is None or (host in sim.shops
                                and sim.shops[host] is not shop):
                raise ApiError(401, "[API] Invalid API key or access "
                               "token (unrecognized login or wrong "
                               "password)")
            entry = {"t": time.time(), "path": self.path, "status": None}
            shop.requests.append(entry)
            try:
                headers = shop.admit()
            except ApiError as e:
                entry["status"] = e.status
                entry["call_limit"] = e.headers.get(
                    "X-Shopify-Shop-Api-Call-Limit")
                raise
            entry["call_limit"] = headers["X-Shopify-Shop-Api-Call-Limit"]
            params = dict(urllib.parse.parse_qsl(u.query,
                                                 keep_blank_values=True))
            version, oid, refunds = m.group(1), m.group(2), m.group(3)
            try:
                if oid is None:
                    orders, links, limit = shop.list_orders(params)
                    if links:
                        headers["Link"] = ", ".join(
                            '<%s>; rel="%s"' % (self.page_url(
                                version, c, limit, params.get("fields")), r)
                            for r, c in links)
                    out = {"orders": orders}
                elif oid == "count":
                    params.pop("limit", None)
                    out = {"count": len(shop.select(params))}
                elif refunds:
                    out = {"refunds": shop.order(oid)["refunds"]}
                else:
                    out = {"order": shop.pick(shop.order(oid),
                                              params.get("fields"))}
            except ApiError as e:
                entry["status"] = e.status
                e.headers.update(headers)
                raise
            entry["status"] = 200
            entry["orders"] = len(out.get("orders", []))
        self.send(200, out, headers)

    def page_url(self, version, cursor, limit, fields):
        base = self.server.base_url or "http://" + self.headers.get(
            "Host", "%s:%d" % self.server.server_address[:2])
        q = [("limit", str(limit))]
        if fields:
            q.append(("fields", fields))
        q.append(("page_info", cursor))
        return "%s/admin/api/%s/orders.json?%s" % (
            base, version, urllib.parse.urlencode(q))

    # ---- test control -------------------------------------------------

    def control(self, method, u):
        sim = self.server.sim
        if u.path == "/_sim/pending":
            return self.send(200, {"pending": sim.pending()})
        m = SIM.match(u.path)
        if m is None:
            return self.send(404, {"errors": "Not Found"})
        domain, what, oid, sub = m.groups()
        body = self.body() if method != "GET" else {}
        with sim.lock:
            if domain is None:
                if method != "POST":
                    return self.send(405, {"errors": "POST a shop"})
                kw = {k: body[k] for k in
                      ("secret", "webhook_url", "bucket_size", "leak_rate",
                       "utc_offset", "api_version") if k in body}
                shop = sim.add_shop(body["domain"], body["access_token"],
                                    **kw)
                return self.send(201, shop.describe())
            shop = sim.shops.get(domain)
            if shop is None:
                return self.send(404, {"errors": "no shop %s" % domain})
            if what is None:
                return self.send(200, shop.describe())
            if what == "webhooks":
                return self.send(200, {"webhooks": shop.webhooks})
            if what == "requests":
                return self.send(200, {"requests": shop.requests})
            if what == "drop":
                shop.set_drop(body)
                return self.send(200, shop.describe())
            if what == "throttle":
                shop.throttle_next = int(body.get("next", 1))
                shop.throttle_retry = float(body.get("retry_after", 2.0))
                return self.send(200, shop.describe())
            # orders
            if oid is None:
                if method == "GET":
                    return self.send(200, {"orders":
                                           list(shop.orders.values())})
                order = shop.create_order(body.get("order", body),
                                          fire=body.get("fire", True)
                                          if "order" in body else True,
                                          at=body.get("at")
                                          if "order" in body else None)
                return self.send(201, {"order": order})
            if sub == "cancel":
                return self.send(200, {"order": shop.cancel_order(oid and
                                                                  int(oid))})
            if sub == "age":
                return self.send(200, {"order": shop.age_order(
                    int(oid), int(body.get("seconds", 0)))})
            if sub == "refunds":
                refund = shop.add_refund(int(oid), body.get("refund", body),
                                         body.get("order"))
                return self.send(201, {"refund": refund})
            if method == "GET":
                return self.send(200, {"order": shop.order(oid)})
            topics = body.get("topics", ["orders/updated"])
            order = shop.update_order(int(oid), body.get("order", body),
                                      topics)
            return self.send(200, {"order": order})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, sim, log, quiet=False, base_url=None):
        http.server.ThreadingHTTPServer.__init__(self, addr, Handler)
        self.sim = sim
        self.log = log
        self.quiet = quiet
        self.base_url = base_url
