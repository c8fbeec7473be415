"""The simulated shops: orders and refunds, the REST leaky bucket, and the
webhooks a change fires (signed, sent in the background, some dropped).

Everything a test changes goes through Shop methods under Sim.lock; the
HTTP layer (server.py) only parses and formats."""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import queue
import random
import threading
import time
import urllib.parse
import uuid

# Shopify's REST limits for a standard plan: a bucket of 40 requests that
# leaks 2 a second (shopify.dev/docs/api/admin-rest/usage/rate-limits)
BUCKET_SIZE = 40
LEAK_RATE = 2.0

# limit= on a list: 50 unless given, 250 at most (the Order resource)
DEFAULT_LIMIT = 50
MAX_LIMIT = 250


class ApiError(Exception):
    """An answer other than 200 from the REST Admin API."""

    def __init__(self, status, errors, headers=None):
        Exception.__init__(self, errors)
        self.status = status
        self.errors = errors
        self.headers = headers or {}


def parse_time(text):
    """An ISO 8601 time as Shopify accepts it (with an offset, or Z) ->
    seconds since the epoch, or None."""
    if not text:
        return None
    t = text.strip().replace(" ", "+")
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    try:
        d = datetime.datetime.fromisoformat(t)
    except ValueError:
        return None
    if d.tzinfo is None:
        # Shopify reads a time without an offset in the shop's zone; the
        # simulator's shops are all UTC-5 unless told
        return None
    return d.timestamp()


def format_time(ts, offset_minutes):
    """Shopify's way: whole seconds, in the shop's time zone offset."""
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    d = datetime.datetime.fromtimestamp(int(ts), tz)
    return d.isoformat()


class Bucket:
    """The REST leaky bucket: each request adds one; it leaks LEAK_RATE a
    second; a request that finds it full is refused with 429."""

    def __init__(self, size=BUCKET_SIZE, rate=LEAK_RATE):
        self.size = size
        self.rate = rate
        self.level = 0.0
        self.at = time.monotonic()

    def leak(self):
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.at) * self.rate)
        self.at = now

    def take(self):
        """(True, used) when there was room, else (False, seconds)."""
        self.leak()
        if self.level + 1 > self.size:
            return False, (self.level + 1 - self.size) / self.rate
        self.level += 1
        return True, int(self.level + 0.999)

    def used(self):
        self.leak()
        return int(self.level + 0.999)


class Shop:
    def __init__(self, sim, domain, token, secret=None, webhook_url=None,
                 bucket_size=BUCKET_SIZE, leak_rate=LEAK_RATE,
                 utc_offset=-300, api_version="2024-10"):
        self.sim = sim
        self.domain = domain
        self.token = token
        self.secret = secret
        self.webhook_url = webhook_url
        self.bucket = Bucket(bucket_size, leak_rate)
        self.utc_offset = utc_offset
        self.api_version = api_version
        self.orders = {}            # id -> order dict, as the API shows it
        self.last_change = {}       # id -> epoch seconds of updated_at
        self.throttle_next = 0      # the next N calls: 429 whatever
        self.throttle_retry = 2.0
        self.drop = {"fraction": 0.0, "next": 0, "topics": [],
                     "orders": [], "seed": 1}
        self.rng = random.Random(1)
        self.webhooks = []          # what was fired: sent, failed, dropped
        self.requests = []          # the API calls, with their answers

    # ---- the test's admin side --------------------------------------

    def describe(self):
        return {"domain": self.domain, "orders": len(self.orders),
                "webhook_url": self.webhook_url,
                "bucket": {"size": self.bucket.size,
                           "rate": self.bucket.rate,
                           "used": self.bucket.used()},
                "drop": self.drop, "throttle_next": self.throttle_next,
                "webhooks": self.webhook_counts(),
                "api_calls": len(self.requests),
                "api_429": sum(1 for r in self.requests
                               if r["status"] == 429)}

    def webhook_counts(self):
        c = {}
        for w in self.webhooks:
            c[w["state"]] = c.get(w["state"], 0) + 1
        return c

    def set_drop(self, rules):
        for k in ("fraction", "next", "topics", "orders", "seed"):
            if k in rules:
                self.drop[k] = rules[k]
        if "seed" in rules:
            self.rng = random.Random(rules["seed"])

    def touch(self, order, at=None):
        """A change: updated_at moves on by at least one second, so that
        every change of an order has its own updated_at (Shopify's have
        whole seconds; two edits in one second would share one).  `at`
        (epoch seconds) dates the change instead of now: a bench lays out
        a day of orders, or changes that show only from a later time."""
        now = time.time() if at is None else float(at)
        last = self.last_change.get(order["id"], 0)
        ts = max(int(now), int(last) + 1)
        self.last_change[order["id"]] = ts
        order["updated_at"] = format_time(ts, self.utc_offset)
        return ts

    def create_order(self, body, fire=True, at=None):
        order = json.loads(json.dumps(body))
        oid = order.get("id") or self.sim.next_id()
        order["id"] = oid
        if oid in self.orders:
            raise ApiError(422, {"id": ["has already been taken"]})
        order.setdefault("admin_graphql_api_id", "gid://shopify/Order/%d"
                         % oid)
        order.setdefault("refunds", [])
        order.setdefault("cancelled_at", None)
        order.setdefault("closed_at", None)
        ts = self.touch(order, at)
        order["created_at"] = format_time(ts, self.utc_offset)
        self.orders[oid] = order
        if fire:
            self.fire("orders/create", order, oid)
        return order

    def update_order(self, oid, changes, topics=("orders/updated",)):
        order = self.order(oid)
        for k, v in changes.items():
            if k not in ("id", "created_at", "updated_at", "refunds"):
                order[k] = v
        self.touch(order)
        for t in topics:
            self.fire(t, order, oid)
        return order

    def age_order(self, oid, seconds):
        """Test control: the order's last change moved `seconds` back, no
        webhook, as if it had not changed since (an order outside a
        listing's updated_at window)."""
        order = self.order(oid)
        ts = int(self.last_change.get(order["id"], time.time())) - seconds
        self.last_change[order["id"]] = ts
        order["updated_at"] = format_time(ts, self.utc_offset)
        return order

    def cancel_order(self, oid):
        order = self.order(oid)
        self.touch(order)
        order["cancelled_at"] = order["updated_at"]
        order["closed_at"] = order["updated_at"]
        self.fire("orders/cancelled", order, oid)
        self.fire("orders/updated", order, oid)
        return order

    def add_refund(self, oid, body, order_changes=None):
        """A refund: kept in the order's refunds, with the order's new
        current_* values the test computed; refunds/create, then
        orders/updated, as Shopify fires both."""
        order = self.order(oid)
        refund = json.loads(json.dumps(body))
        refund["id"] = refund.get("id") or self.sim.next_id()
        refund["order_id"] = oid
        refund.setdefault("admin_graphql_api_id",
                          "gid://shopify/Refund/%d" % refund["id"])
        for k, v in (order_changes or {}).items():
            if k not in ("id", "created_at", "updated_at", "refunds"):
                order[k] = v
        ts = self.touch(order)
        refund["created_at"] = format_time(ts, self.utc_offset)
        refund.setdefault("processed_at", refund["created_at"])
        for t in refund.get("transactions", []):
            t.setdefault("order_id", oid)
            t.setdefault("created_at", refund["created_at"])
        order["refunds"].append(refund)
        self.fire("refunds/create", refund, oid)
        self.fire("orders/updated", order, oid)
        return refund

    def order(self, oid):
        try:
            return self.orders[int(oid)]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found")

    # ---- webhooks -----------------------------------------------------

    def dropped(self, topic, oid):
        d = self.drop
        if topic in d["topics"] or oid in d["orders"]:
            return True
        if d["next"] > 0:
            d["next"] -= 1
            return True
        return d["fraction"] > 0 and self.rng.random() < d["fraction"]

    def fire(self, topic, payload, oid):
        body = json.dumps(payload, separators=(",", ":")).encode()
        w = {"webhook_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()),
             "topic": topic, "order_id": oid,
             "refund_id": payload.get("id") if topic.startswith("refunds/")
             else None,
             "triggered_at": self.triggered_at(oid),
             "state": "queued", "status": None, "attempts": 0}
        self.webhooks.append(w)
        if self.webhook_url is None:
            w["state"] = "no_url"
            return
        if self.dropped(topic, oid):
            w["state"] = "dropped"
            return
        with self.sim.lock:
            self.sim.unsent += 1
        self.sim.outbox.put((self, w, body))

    def triggered_at(self, oid):
        """X-Shopify-Triggered-At: when the change that fires the webhook
        happened, so never before the order's updated_at.  touch() may
        date a change up to a few seconds ahead of the clock (its own
        second for each change); the event is then at that time."""
        ts = max(time.time(), float(self.last_change.get(oid, 0)))
        return datetime.datetime.fromtimestamp(
            ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def sign(self, body):
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256)
        return base64.b64encode(digest.digest()).decode()

    def headers(self, w, body):
        return {"Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": self.sign(body),
                "X-Shopify-Shop-Domain": self.domain,
                "X-Shopify-Topic": w["topic"],
                "X-Shopify-API-Version": self.api_version,
                "X-Shopify-Webhook-Id": w["webhook_id"],
                "X-Shopify-Event-Id": w["event_id"],
                "X-Shopify-Triggered-At": w["triggered_at"]}

    # ---- the REST Admin API -------------------------------------------

    def admit(self):
        """The bucket's say on one request: headers for the answer, or
        ApiError(429).  The forced throttle counts as a full bucket."""
        if self.throttle_next > 0:
            self.throttle_next -= 1
            raise ApiError(429, "Exceeded %g calls per second for api "
                           "client. Reduce request rates to resume "
                           "unthrottled access." % self.bucket.rate,
                           {"Retry-After": "%.1f" % self.throttle_retry,
                            "X-Shopify-Shop-Api-Call-Limit":
                            "%d/%d" % (self.bucket.size, self.bucket.size)})
        ok, v = self.bucket.take()
        limit = {"X-Shopify-Shop-Api-Call-Limit":
                 "%d/%d" % (v if ok else self.bucket.size,
                            self.bucket.size)}
        if not ok:
            limit["Retry-After"] = "%.1f" % max(v, 1.0 / self.bucket.rate)
            raise ApiError(429, "Exceeded %g calls per second for api "
                           "client. Reduce request rates to resume "
                           "unthrottled access." % self.bucket.rate, limit)
        return limit

    def list_orders(self, params):
        """orders.json: the filters, or a page_info cursor (which takes no
        other parameter but limit and fields), and the page's Link."""
        limit = params.get("limit", str(DEFAULT_LIMIT))
        try:
            limit = int(limit)
        except ValueError:
            raise ApiError(400, {"limit": "Invalid value."})
        if limit < 1:
            raise ApiError(400, {"limit": "Invalid value."})
        limit = min(limit, MAX_LIMIT)

        if "page_info" in params:
            extra = set(params) - {"page_info", "limit", "fields"}
            if extra:
                raise ApiError(400, {"page_info": "Invalid value, other "
                                     "parameters than limit and fields "
                                     "are not allowed: %s"
                                     % ", ".join(sorted(extra))})
            try:
                cur = json.loads(base64.urlsafe_b64decode(
                    params["page_info"].encode() + b"=="))
                filters, key, direction = cur["f"], cur["k"], cur["d"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, {"page_info": "Invalid value."})
        else:
            filters = {k: params[k] for k in
                       ("status", "updated_at_min", "updated_at_max",
                        "created_at_min", "created_at_max", "since_id",
                        "ids", "order", "financial_status")
                       if k in params}
            key, direction = None, "next"

        rows = self.select(filters)
        sort_field, desc = self.sort_of(filters)
        keyed = [(self.sort_value(o, sort_field), o["id"], o) for o in rows]
        keyed.sort(key=lambda r: (r[0], r[1]), reverse=desc)

        # keyset pagination: a page starts after (or ends before) the
        # sort key and id of the row the cursor names
        has_prev = False
        if key is not None:
            k = (key[0], key[1])
            if desc:
                after = [r for r in keyed if (r[0], r[1]) < k]
                before = [r for r in keyed if (r[0], r[1]) > k]
            else:
                after = [r for r in keyed if (r[0], r[1]) > k]
                before = [r for r in keyed if (r[0], r[1]) < k]
        if key is None:
            page = keyed[:limit]
            has_more = len(keyed) > limit
        elif direction == "next":
            page = after[:limit]
            has_more = len(after) > limit
            has_prev = True
        else:
            page = before[-limit:]
            has_more = True
            has_prev = len(before) > limit

        fields = params.get("fields")
        out = [self.pick(r[2], fields) for r in page]

        links = []
        if page and has_prev:
            links.append(("previous", self.cursor(filters, page[0], "prev")))
        if page and has_more:
            links.append(("next", self.cursor(filters, page[-1], "next")))
        return out, links, limit

    @staticmethod
    def cursor(filters, row, direction):
        raw = json.dumps({"f": filters, "k": [row[0], row[1]],
                          "d": direction}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def sort_of(self, filters):
        """order=<field> asc|desc; unsure of Shopify's default order for
        orders.json, the simulator's is id ascending."""
        spec = filters.get("order", "id asc").replace("+", " ").split()
        field = spec[0] if spec else "id"
        if field not in ("id", "updated_at", "created_at"):
            raise ApiError(400, {"order": "Invalid value."})
        desc = len(spec) > 1 and spec[1].lower() == "desc"
        return field, desc

    def sort_value(self, o, field):
        if field == "id":
            return o["id"]
        return parse_time(o[field]) or 0

    def select(self, f):
        status = f.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            raise ApiError(400, {"status": "Invalid value."})
        bounds = {}
        for k in ("updated_at_min", "updated_at_max", "created_at_min",
                  "created_at_max"):
            if k in f:
                v = parse_time(f[k])
                if v is None:
                    raise ApiError(400, {k: "Invalid value."})
                bounds[k] = v
        ids = None
        if "ids" in f:
            try:
                ids = {int(i) for i in f["ids"].split(",") if i}
            except ValueError:
                raise ApiError(400, {"ids": "Invalid value."})
        since = int(f.get("since_id", 0) or 0)
        out = []
        for o in self.orders.values():
            if status == "open" and (o.get("closed_at")
                                     or o.get("cancelled_at")):
                continue
            if status == "closed" and not o.get("closed_at"):
                continue
            if status == "cancelled" and not o.get("cancelled_at"):
                continue
            u = parse_time(o["updated_at"])
            c = parse_time(o["created_at"])
            if "updated_at_min" in bounds and u < bounds["updated_at_min"]:
                continue
            if "updated_at_max" in bounds and u > bounds["updated_at_max"]:
                continue
            if "created_at_min" in bounds and c < bounds["created_at_min"]:
                continue
            if "created_at_max" in bounds and c > bounds["created_at_max"]:
                continue
            if ids is not None and o["id"] not in ids:
                continue
            if o["id"] <= since:
                continue
            if ("financial_status" in f and f["financial_status"] != "any"
                    and o.get("financial_status") != f["financial_status"]):
                continue
            out.append(o)
        return out

    @staticmethod
    def pick(o, fields):
        if not fields:
            return o
        want = [x.strip() for x in fields.split(",") if x.strip()]
        return {k: o[k] for k in want if k in o}


class Sim:
    """Every shop, the id counter, and the thread that sends webhooks."""

    def __init__(self, retries=3, retry_delay=0.2, timeout=5.0):
        self.lock = threading.RLock()
        self.shops = {}
        self.tokens = {}
        self._next_id = 5000000000
        self.outbox = queue.Queue()
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        # queued or being sent: counted before the put, so that pending()
        # never sees 0 between the sender's get() and its delivery
        self.unsent = 0
        self.sender = threading.Thread(target=self.send_loop, daemon=True)
        self.sender.start()

    def next_id(self):
        self._next_id += 1
        return self._next_id

    def add_shop(self, domain, token, **kw):
        if domain in self.shops:
            old = self.shops[domain]
            self.tokens.pop(old.token, None)
        shop = Shop(self, domain, token, **kw)
        self.shops[domain] = shop
        self.tokens[token] = shop
        return shop

    def pending(self):
        with self.lock:
            return self.unsent

    def send_loop(self):
        while True:
            item = self.outbox.get()
            if item is None:
                return
            shop, w, body = item
            try:
                self.deliver(shop, w, body)
            finally:
                with self.lock:
                    self.unsent -= 1

    def deliver(self, shop, w, body):
        """POST it; Shopify tries a failed delivery again (19 times over
        48 hours; here `retries` times, `retry_delay` apart)."""
        u = urllib.parse.urlsplit(shop.webhook_url)
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        for attempt in range(self.retries + 1):
            w["attempts"] = attempt + 1
            try:
                c = http.client.HTTPConnection(u.hostname, u.port or 80,
                                               timeout=self.timeout)
                c.request("POST", path, body=body,
                          headers=shop.headers(w, body))
                r = c.getresponse()
                r.read()
                c.close()
                w["status"] = r.status
                if 200 <= r.status < 300:
                    w["state"] = "sent"
                    return
            except (OSError, http.client.HTTPException) as e:
                w["status"] = str(e)
            time.sleep(self.retry_delay * (attempt + 1))
        w["state"] = "failed"

    def stop(self):
        self.outbox.put(None)
