"""Durability end to end: an acknowledged webhook reaches NetSuite whatever
happens to nginx after its 200.

nginx (two workers, the dispatcher on, order_edit_journal fsync=batch in
its prefix) takes a steady load of signed webhooks from a few Shopify-like
client threads while the NetSuite simulator answers slowly enough for a
backlog to build.  Meanwhile

- CrashTest kills the master and every worker with SIGKILL at random
  moments and starts nginx again in the same prefix;
- UpgradeTest does binary upgrades (USR2, both generations serving for a
  while, then QUIT to the old master).

The client keeps every webhook that got a 200 ("queued" or "duplicate");
anything else (refused connection, reset, timeout, 5xx) is retried later
under the same webhook id, as Shopify does.  Once the client is done and
the dispatcher has drained, NetSuite must show

- for every acknowledged refund exactly one Credit Memo, with Shopify's
  amounts and lines to the cent;
- for every order the lines of its newest acknowledged snapshot;
- in the simulator's request log, no Sales Order ever written an older
  snapshot after a newer one, and Credit Memos only PUT by external id;
- no exception parked on the way (status, exception list, no 4xx but 429
  from NetSuite);

and, after upgrades (no crash, so no write can have been cut short),
nothing applied twice: each Credit Memo written once, no snapshot of an
order written twice.

The RNG seed is printed; OE_JOURNAL_SEED=<n> replays a run (the same plan
and trouble moments; the interleaving still varies).  On failure the error
log, the simulator's log and the journal directory are copied to a
/tmp/oe-journal-* directory, named in the failure.  Without the
order_edit_journal directive in the module the tests are skipped;
OE_JOURNAL_BASELINE=1 runs them anyway, without the directive, to show what
is lost without a journal (they are then expected to fail).
"""

import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from decimal import Decimal, ROUND_HALF_UP

from ngxctl import MODULE, NGINX, NginxServer, sign

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(TOP, "tools", "tests"))

import simhelper  # noqa: E402

FIX = os.path.join(TOP, "t", "fixtures", "shopify")

BASELINE = os.environ.get("OE_JOURNAL_BASELINE") == "1"
SHOP = "acme.myshopify.com"
SECRET = "acme"

# the load
ORDERS = 60
THREADS = 3
PACE = 0.2                 # s between two webhooks of one client thread
SNAPSHOTS = (4, 6)         # orders/updated per order
REFUNDS = (0, 0, 1, 1, 2)  # refunds/create per order, picked from
CLIENT_TIMEOUT = 5.0       # s per webhook request
LOAD_DEADLINE = 75.0       # s: the client gives up on what is left
DRAIN_DEADLINE = 75.0      # s: for the queue to empty afterwards
QUIET = 1.5                # s without a NetSuite request: drained

# NetSuite: slow enough for a backlog to build
SIM_ARGS = ("--latency-range-ms", "40,90", "--concurrency", "2")

# shopify sku, NetSuite item (skus.map), unit price
CATALOGUE = (
    ("IPOD2008GREEN", "1001", "199.00"), ("IPOD2008RED", "1002", "24.50"),
    ("HOODIE-GREY", "2002", "55.00"), ("MUG-CERAMIC", "3001", "12.00"),
    ("TEA-EARLGREY", "3002", "8.75"), ("SPOON-STEEL", "3003", "3.10"),
    ("KETTLE-ELECTRIC", "3010", "49.99"), ("TEA-MATCHA", "4001", "17.30"),
    ("TEA-SENCHA", "4002", "11.45"), ("PERFUME-OUD", "5001", "89.00"),
    ("CANDLE-AMBER", "5002", "21.99"), ("DATES-MEDJOOL", "5003", "14.25"),
)
TAX_RATE = Decimal("0.06")
CENT = Decimal("0.01")

HTTP = """
    order_edit_zone edits:16m;
    __JOURNAL__
    order_edit_netsuite main {
        account 1234567_SB1;
        endpoint http://127.0.0.1:__SIM__;
        consumer_key_file __DIR__/ck;
        consumer_secret_file __DIR__/cs;
        token_id_file __DIR__/ti;
        token_secret_file __DIR__/ts;
        concurrency 2;
        timeout 5s;
        retry_backoff 100ms 500ms;
    }
    order_edit_store acme.myshopify.com {
        secret acme;
        netsuite main;
        sku_map __DIR__/skus.map;
    }
    order_edit_dispatch edits interval=50ms;
    server {
        listen 127.0.0.1:__PORT__;
        client_body_buffer_size 64k;
        location = /wh { order_edit_webhook edits; }
        location = /status { order_edit_status edits; }
        location /exc { order_edit_exceptions edits; }
    }
"""

JOURNAL = "order_edit_journal __DIR__/journal fsync=batch;"


def module_has_journal():
    """Whether the module knows the directive (its symbols alone would
    match a grep of the .so): nginx -t says."""
    d = tempfile.mkdtemp(prefix="oe-jt-")
    try:
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("load_module %s;\nerror_log %s/error.log;\npid %s/pid;\n"
                    "events {}\nhttp { order_edit_zone z:1m; "
                    "order_edit_journal %s/j fsync=batch; }\n"
                    % (os.path.abspath(MODULE), d, d, d))
        r = subprocess.run([NGINX, "-t", "-p", d + "/", "-c",
                            d + "/nginx.conf", "-e", d + "/error.log"],
                           capture_output=True, text=True, timeout=30)
        return 'unknown directive "order_edit_journal"' not in r.stderr
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(d, ignore_errors=True)


def money(d):
    return str(d.quantize(CENT, rounding=ROUND_HALF_UP))


def tax_of(amount):
    return (amount * TAX_RATE).quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------
# Shopify payloads


class Event:
    """One webhook as Shopify would deliver it, and what became of it."""

    def __init__(self, kind, order, wid, topic, body, expect):
        self.kind = kind            # "snapshot" | "refund"
        self.order = order          # Order
        self.wid = wid
        self.topic = topic
        self.body = body
        self.expect = expect        # lines (snapshot), memo (refund)
        self.attempts = 0
        self.answer = None          # "queued" | "duplicate" once 200


class Order:
    def __init__(self, oid, n):
        self.oid = oid
        self.number = n
        self.eid = "shopify-acme-%d" % oid
        self.events = []
        self.next = 0               # index of the next event to deliver
        self.blocked_until = 0.0    # a failed webhook waits for its retry


def order_body(order, minute, qty, lines):
    """An orders/updated snapshot: consistent to the cent (no discounts,
    6% tax per line, no shipping)."""
    items = []
    subtotal = Decimal(0)
    tax_total = Decimal(0)
    for j, (sku, _, price) in enumerate(lines):
        q = qty[j]
        if q == 0:
            continue
        amount = Decimal(price) * q
        tax = tax_of(amount)
        subtotal += amount
        tax_total += tax
        lid = order.oid * 10 + j
        items.append({
            "id": lid, "admin_graphql_api_id":
                "gid://shopify/LineItem/%d" % lid,
            "variant_id": 39000000 + j, "product_id": 632910392,
            "title": sku.title(), "sku": sku, "vendor": None,
            "quantity": q, "current_quantity": q, "fulfillable_quantity": q,
            "price": price, "total_discount": "0.00", "gift_card": False,
            "taxable": True, "requires_shipping": True, "properties": [],
            "discount_allocations": [],
            "tax_lines": [{"title": "State Tax", "price": money(tax),
                           "rate": 0.06}]})
    total = subtotal + tax_total
    updated = "2024-05-%02dT%02d:%02d:00-04:00" % (
        1 + minute // 1440, (minute // 60) % 24, minute % 60)
    body = {
        "id": order.oid,
        "admin_graphql_api_id": "gid://shopify/Order/%d" % order.oid,
        "email": "customer%d@mail.example.com" % order.number,
        "created_at": "2024-04-30T09:00:00-04:00",
        "updated_at": updated,
        "name": "#%d" % order.number, "order_number": order.number,
        "currency": "USD", "presentment_currency": "USD",
        "financial_status": "paid", "fulfillment_status": None,
        "taxes_included": False,
        "total_line_items_price": money(subtotal),
        "subtotal_price": money(subtotal), "total_discounts": "0.00",
        "total_tax": money(tax_total), "total_price": money(total),
        "current_subtotal_price": money(subtotal),
        "current_total_discounts": "0.00",
        "current_total_tax": money(tax_total),
        "current_total_price": money(total),
        "total_tip_received": "0.00", "discount_applications": [],
        "line_items": items, "shipping_lines": [], "refunds": [],
    }
    expect = sorted((item, q, Decimal(price) * q)
                    for (_, item, price), q in zip(lines, qty) if q)
    return json.dumps(body, indent=1).encode(), expect


def refund_body(order, rid, minute, j, line):
    sku, item, price = line
    amount = Decimal(price)
    tax = tax_of(amount)
    when = "2024-05-%02dT%02d:%02d:30-04:00" % (
        1 + minute // 1440, (minute // 60) % 24, minute % 60)
    lid = order.oid * 10 + j

    def mset(v):
        return {"shop_money": {"amount": money(v), "currency_code": "USD"},
                "presentment_money": {"amount": money(v),
                                      "currency_code": "USD"}}
    body = {
        "id": rid, "order_id": order.oid, "created_at": when,
        "processed_at": when, "note": "refund %d" % rid, "user_id": None,
        "restock": True,
        "admin_graphql_api_id": "gid://shopify/Refund/%d" % rid,
        "refund_line_items": [{
            "id": rid + 500000000, "quantity": 1, "line_item_id": lid,
            "location_id": 487838322, "restock_type": "return",
            "subtotal": float(amount), "total_tax": float(tax),
            "subtotal_set": mset(amount), "total_tax_set": mset(tax),
            "line_item": {"id": lid, "variant_id": 39000000 + j,
                          "title": sku.title(), "quantity": 1, "sku": sku,
                          "price": price, "gift_card": False,
                          "taxable": True,
                          "tax_lines": [{"title": "State Tax",
                                         "price": money(tax),
                                         "rate": 0.06}]}}],
        "transactions": [{
            "id": rid + 700000000, "order_id": order.oid, "kind": "refund",
            "gateway": "shopify_payments", "status": "success",
            "message": None, "created_at": when, "test": False,
            "authorization": "re_%d" % rid, "currency": "USD",
            "parent_id": 801038806, "amount": money(amount + tax)}],
        "order_adjustments": [],
    }
    expect = {"eid": "shopify-acme-refund-%d" % rid,
              "total": amount + tax,
              "lines": [(item, 1, amount)]}
    return json.dumps(body, indent=1).encode(), expect


def make_plan(rng, seed):
    """ORDERS orders, each a sequence of snapshots (increasing updated_at,
    lines added, removed, changed) with refunds in between."""
    orders = []
    rid = 930000000
    for n in range(ORDERS):
        order = Order(7100000000 + n, 2000 + n)
        lines = rng.sample(CATALOGUE, 5)
        qty = [0] * 5
        for j in rng.sample(range(5), rng.randint(1, 3)):
            qty[j] = rng.randint(1, 3)
        minute = rng.randint(0, 600)
        n_snap = rng.randint(*SNAPSHOTS)
        refund_at = sorted(rng.randint(1, n_snap) for _ in
                           range(rng.choice(REFUNDS)))
        k = 0
        for s in range(n_snap):
            if s:
                # an edit: a line removed, added or its quantity changed
                live = [j for j in range(5) if qty[j]]
                j = rng.randrange(5)
                if qty[j] and len(live) > 1 and rng.random() < 0.3:
                    qty[j] = 0
                else:
                    qty[j] = rng.choice([q for q in range(1, 5)
                                         if q != qty[j]])
            minute += rng.randint(1, 30)
            body, expect = order_body(order, minute, qty, lines)
            order.events.append(Event(
                "snapshot", order, "jt%d-%d-%d" % (seed, n, k),
                "orders/updated", body, expect))
            k += 1
            while refund_at and refund_at[0] == s + 1:
                refund_at.pop(0)
                live = [j for j in range(5) if qty[j]]
                j = rng.choice(live)
                rid += rng.randint(1, 9)
                body, expect = refund_body(order, rid, minute, j, lines[j])
                order.events.append(Event(
                    "refund", order, "jt%d-%d-%d" % (seed, n, k),
                    "refunds/create", body, expect))
                k += 1
        orders.append(order)
    return orders


# ---------------------------------------------------------------------------
# the Shopify side: a few threads, each delivering its orders' webhooks in
# order, retrying a failed one later


class Client:

    def __init__(self, port, orders, seed):
        self.port = port
        self.orders = orders
        self.seed = seed
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0               # requests made
        self.failed = 0             # of which not a 200 (to be retried)
        self.failures = {}          # what they were, counted
        self.unexpected = []        # a 200 that is neither queued nor dup
        self.threads = []

    def start(self):
        for i in range(THREADS):
            mine = [o for o in self.orders if o.number % THREADS == i]
            t = threading.Thread(target=self.run, args=(i, mine),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def done(self):
        return not any(t.is_alive() for t in self.threads)

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return self.done()

    def post(self, ev):
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=CLIENT_TIMEOUT)
        try:
            c.request("POST", "/wh", body=ev.body, headers={
                "Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": sign(SECRET, ev.body),
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Topic": ev.topic,
                "X-Shopify-Webhook-Id": ev.wid,
                "X-Shopify-API-Version": "2024-10",
                "X-Shopify-Triggered-At": "2024-05-01T10:00:00Z",
            })
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def run(self, i, orders):
        rng = random.Random(self.seed * 31 + i)
        while not self.stop.is_set():
            now = time.monotonic()
            pending = [o for o in orders if o.next < len(o.events)]
            if not pending:
                return
            ready = [o for o in pending if o.blocked_until <= now]
            if not ready:
                self.stop.wait(0.02)
                continue
            order = rng.choice(ready)
            ev = order.events[order.next]
            ev.attempts += 1
            try:
                status, body = self.post(ev)
                what = str(status)
            except (OSError, http.client.HTTPException) as e:
                status, body, what = None, b"", type(e).__name__
            with self.lock:
                self.sent += 1
            answer = None
            if status == 200:
                try:
                    answer = json.loads(body).get("status")
                except ValueError:
                    answer = None
                if answer not in ("queued", "duplicate"):
                    with self.lock:
                        self.unexpected.append((ev.wid, body[:200]))
            if answer in ("queued", "duplicate"):
                ev.answer = answer
                order.next += 1
            else:
                # Shopify retries later; this order's later webhooks wait
                with self.lock:
                    self.failed += 1
                    self.failures[what] = self.failures.get(what, 0) + 1
                order.blocked_until = time.monotonic() + rng.uniform(
                    0.2, 0.4) * 2 ** min(ev.attempts - 1, 3)
            self.stop.wait(PACE)


# ---------------------------------------------------------------------------


needs_journal = unittest.skipUnless(
    module_has_journal() or BASELINE,
    "the module has no order_edit_journal yet (OE_JOURNAL_BASELINE=1 runs "
    "the load without it)")


class JournalLoad:
    """The load, the drain and the proof; the test classes bring the
    trouble.  (A mixin, so that unittest does not run it alone.)"""

    def setUp(self):
        env = os.environ.get("OE_JOURNAL_SEED")
        self.seed = int(env) if env else random.SystemRandom().randrange(
            1, 1 << 31)
        print("\n%s: seed %d (OE_JOURNAL_SEED=%d replays it)%s"
              % (self.id(), self.seed, self.seed,
                 ", BASELINE: no journal" if BASELINE else ""),
              flush=True)
        self.rng = random.Random(self.seed)

        tmp = tempfile.TemporaryDirectory(prefix="oe-jt-sim-")
        self.addCleanup(tmp.cleanup)
        conf = os.path.join(tmp.name, "sim.json")
        with open(conf, "w") as f:
            # every request kept: the proof reads the whole history
            json.dump({"request_log_size": 200000}, f)
        self.sim = simhelper.Sim(*SIM_ARGS, "--seed", str(self.seed),
                                 "--config", conf)
        self.addCleanup(self.sim.stop)

        self.ngx = NginxServer("", workers=2)
        self.addCleanup(self.ngx.stop)
        # whatever a failure leaves (an old master, orphans) is gone before
        # stop() removes the prefix: TERM to every master, then SIGKILL
        self.addCleanup(self.ngx.kill_all)
        self.addCleanup(self.terminate)

        d = self.ngx.dir
        simhelper.write_key_files(d)
        with open(os.path.join(FIX, "skus.map"), "rb") as src, \
                open(os.path.join(d, "skus.map"), "wb") as out:
            out.write(src.read())

        self.journal = not BASELINE
        self.ngx.write_conf(
            HTTP.replace("__JOURNAL__", JOURNAL if self.journal else "")
            .replace("__SIM__", str(self.sim.port))
            .replace("__DIR__", d))

        self.orders = make_plan(self.rng, self.seed)
        for o in self.orders:
            # what NetSuite has before any edit: matches no snapshot
            self.sim.seed_order(o.eid, lines=[
                {"item": {"id": "9999"}, "quantity": 1, "rate": 1}],
                custbody_shopify_order_id=str(o.oid),
                # as the module writes it: what a refund reads
                custbody_shopify_taxes_included=False)

        self.generations = []       # the journal object of each start
        self.replayed = [0]         # the most each generation replayed
        self.max_parked = 0
        self.ngx.start()
        self.note_generation("start")

    # -- nginx's side -------------------------------------------------------

    def terminate(self):
        procs = self.ngx.processes()
        for pid, role in procs.items():
            if role == "master":
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        self.ngx.wait_gone(procs, 10)

    def status(self, timeout=2.0):
        """The status JSON, or None while nginx does not answer."""
        c = http.client.HTTPConnection("127.0.0.1", self.ngx.port,
                                       timeout=timeout)
        try:
            c.request("GET", "/status")
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                return None
            return json.loads(body)
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            c.close()

    def observe(self, st=None):
        """Keep what must be seen before a kill loses it."""
        st = st or self.status(1.0)
        if st is None:
            return None
        shop = st.get("stores", {}).get(SHOP, {})
        self.max_parked = max(self.max_parked, shop.get("parked", 0),
                              shop.get("exceptions", 0),
                              st.get("zone", {}).get("exceptions", 0))
        j = st.get("journal") or {}
        self.replayed[-1] = max(self.replayed[-1], j.get("replayed", 0))
        return st

    @staticmethod
    def depth(st):
        shop = st.get("stores", {}).get(SHOP, {})
        return shop.get("queue_depth", 0), shop.get("in_flight", 0)

    def note_generation(self, why):
        if self.generations:
            self.replayed.append(0)
        deadline = time.monotonic() + 10
        st = None
        while st is None and time.monotonic() < deadline:
            st = self.observe()
            if st is None:
                time.sleep(0.05)
        self.assertIsNotNone(st, "no status after " + why)
        j = st.get("journal")
        if self.journal:
            self.assertIsInstance(j, dict, "status has no journal object")
            for k in ("dir", "fsync", "bytes", "segments", "pending",
                      "fsyncs", "last_fsync_us", "replayed", "torn",
                      "corrupt", "holder"):
                self.assertIn(k, j)
            self.assertEqual(j["fsync"], "batch")
        self.generations.append((why, j, self.depth(st)))
        print("  %-8s depth %s journal %s" % (why, self.depth(st), j),
              flush=True)

    # -- the trouble (subclasses) -------------------------------------------

    def trouble(self, client, t0):
        raise NotImplementedError

    def idle_until(self, t, client):
        """Watch the status until monotonic time t (or the client ends)."""
        while time.monotonic() < t and not client.done():
            self.observe()
            time.sleep(0.25)

    # -- the run ------------------------------------------------------------

    def test_every_acknowledged_webhook_reaches_netsuite(self):
        client = Client(self.ngx.port, self.orders, self.seed)
        self.addCleanup(client.stop.set)
        events = [e for o in self.orders for e in o.events]
        print("  plan: %d webhooks over %d orders (%d refunds)"
              % (len(events), len(self.orders),
                 sum(e.kind == "refund" for e in events)), flush=True)

        t0 = time.monotonic()
        client.start()
        self.trouble(client, t0)
        while not client.join(0.25):
            self.observe()
            if time.monotonic() - t0 > LOAD_DEADLINE:
                client.stop.set()
                client.join(CLIENT_TIMEOUT + 1)
                break
        load_s = time.monotonic() - t0

        drained, st = self.drain()
        self.report(client, events, load_s, drained, st)
        self.prove(client, events, drained, st)

    def drain(self):
        """Until the queue is empty, the journal has nothing pending and
        NetSuite has been quiet for a while; bounded."""
        deadline = time.monotonic() + DRAIN_DEADLINE
        last_n, quiet_since = None, time.monotonic()
        st = None
        while time.monotonic() < deadline:
            st = self.observe() or st
            n = self.sim.counters()["requests"]
            if n != last_n:
                last_n, quiet_since = n, time.monotonic()
            if st is not None and self.depth(st) == (0, 0) \
                    and (not self.journal
                         or (st.get("journal") or {}).get("pending") == 0) \
                    and time.monotonic() - quiet_since >= QUIET:
                return True, st
            time.sleep(0.2)
        return False, st

    def report(self, client, events, load_s, drained, st):
        acked = [e for e in events if e.answer]
        dup = sum(e.answer == "duplicate" for e in events)
        memos = self.sim.admin("GET", "records/creditMemo")
        memos = memos.get("items", memos) if isinstance(memos, dict) \
            else memos
        replayed = sum(self.replayed)
        c = self.sim.counters()
        print("  load %.1fs: sent %d requests for %d webhooks, acknowledged "
              "%d (%d as duplicate), retried %d %s, unexpected %d"
              % (load_s, client.sent, len(events), len(acked), dup,
                 client.failed, client.failures, len(client.unexpected)))
        print("  %s; replayed (the status's, each generation's most) %d "
              "%s; "
              "drained %s, status at the end %s journal %s"
              % (self.trouble_summary(), replayed, self.replayed, drained,
                 self.depth(st) if st else None,
                 (st or {}).get("journal")))
        print("  NetSuite: %d requests %s, writes %s, credit memos %d, "
              "orders %d" % (c["requests"], c["by_status"], c["writes"],
                             len(memos), len(self.orders)), flush=True)

    def trouble_summary(self):
        return ""

    # -- the proof ----------------------------------------------------------

    def sim_records(self, rtype):
        r = self.sim.admin("GET", "records/" + rtype)
        if isinstance(r, dict):
            r = r.get("items", r.get("records", []))
        return r

    @staticmethod
    def lines(rec):
        return sorted((l["item"]["id"], int(l["quantity"]),
                       Decimal(str(l["amount"])))
                      for l in rec["item"]["items"])

    def prove(self, client, events, drained, st):
        problems = []

        # the client: only queued / duplicate, and nothing left unsent
        for wid, body in client.unexpected:
            problems.append("webhook %s answered 200 %r" % (wid, body))
        left = [e for e in events if not e.answer]
        if left:
            problems.append("%d webhooks never acknowledged (first: %s, %d "
                            "attempts)" % (len(left), left[0].wid,
                                           left[0].attempts))

        # Credit Memos: one per acknowledged refund, to the cent
        memos = {}
        for m in self.sim_records("creditMemo"):
            memos.setdefault(m.get("externalId"), []).append(m)
        refunds = [e for e in events if e.kind == "refund"]
        known = {e.expect["eid"] for e in refunds}
        missing = dup = wrong = 0
        for e in refunds:
            got = memos.get(e.expect["eid"], [])
            if len(got) > 1:
                dup += 1
                problems.append("refund %s: %d credit memos"
                                % (e.expect["eid"], len(got)))
            if not got:
                if e.answer:
                    missing += 1
                    problems.append("acknowledged refund %s (%s, webhook %s)"
                                    " has no credit memo"
                                    % (e.expect["eid"], e.answer, e.wid))
                continue
            m = got[0]
            total = Decimal(str(m.get("custbody_shopify_total")))
            if total != e.expect["total"] \
                    or self.lines(m) != e.expect["lines"]:
                wrong += 1
                problems.append("credit memo %s: total %s lines %s, "
                                "expected %s %s"
                                % (e.expect["eid"], total, self.lines(m),
                                   e.expect["total"], e.expect["lines"]))
        for eid in set(memos) - known:
            problems.append("a credit memo for no refund sent: %s" % eid)

        # Sales Orders: the newest acknowledged snapshot of each
        behind = 0
        for o in self.orders:
            snaps = [e for e in o.events if e.kind == "snapshot"]
            acked = [e for e in snaps if e.answer]
            rec = self.sim.admin("GET", "records/salesOrder/eid:" + o.eid)
            have = self.lines(rec)
            if acked:
                want = acked[-1]
                ok = [want.expect]
            else:
                want = None
                ok = [[("9999", 1, Decimal(1))]]
            # a snapshot sent but never answered may have been kept too
            ok += [e.expect for e in snaps[len(acked):] if e.attempts]
            if have not in ok:
                behind += 1
                which = [i for i, e in enumerate(snaps) if e.expect == have]
                problems.append(
                    "order %s: NetSuite has %s (snapshot %s of %d), the "
                    "newest acknowledged is %s (%s)"
                    % (o.oid, have, which or "none", len(snaps),
                       want and snaps.index(want), want and want.wid))

        # nothing parked on the way
        exc = json.loads(self.ngx.request("GET", "/exc")[2])["exceptions"]
        for x in exc:
            problems.append("exception: %s %s %s" % (
                x.get("reason"), x.get("webhook_id"),
                x.get("netsuite_error")))
        if self.max_parked:
            problems.append("the status showed %d parked / exceptions"
                            % self.max_parked)
        by_status = self.sim.counters()["by_status"]
        refused = {k: v for k, v in by_status.items()
                   if k.startswith("4") and k != "429"}
        if refused:
            problems.append("NetSuite refused requests: %s" % refused)

        if not drained:
            problems.append("the queue did not drain in %ds: %s"
                            % (DRAIN_DEADLINE, st))

        # drained and quiet: no request out, so no slot of the account
        # held (a killed worker's come back)
        for name, acct in ((st or {}).get("netsuite") or {}).items():
            if acct.get("in_flight"):
                problems.append("account %s holds %d request slots after "
                                "the drain" % (name, acct["in_flight"]))

        problems += self.history_problems(memos)

        print("  checked %d orders, %d refunds: %d credit memos missing, %d "
              "duplicated, %d wrong; %d orders not at their newest "
              "acknowledged snapshot" % (len(self.orders), len(refunds),
                                         missing, dup, wrong, behind),
              flush=True)
        if problems:
            kept = self.keep_logs()
            problems.append("logs kept in " + kept)
            log = self.ngx.error_log()
            alerts = [l for l in log.splitlines()
                      if "[alert]" in l or "[emerg]" in l or "[crit]" in l]
            self.fail("seed %d: %d problems:\n  %s\nerror log alerts/crit "
                      "(%d):\n  %s" % (self.seed, len(problems),
                                       "\n  ".join(problems[:40]),
                                       len(alerts),
                                       "\n  ".join(alerts[-20:])))

    strict_writes = False

    def netsuite_writes(self):
        """(method, type, ref, body) of every write NetSuite applied (2xx),
        in order, from the simulator's request log."""
        r = self.sim.admin("GET", "requests")
        reqs = r["requests"]
        if reqs and reqs[0]["seq"] != 1:
            return None         # the log wrapped: request_log_size
        out = []
        for q in reqs:
            m = re.match(r"/services/rest/record/v1/(salesOrder|creditMemo)"
                         r"(?:/(.+))?$", q["path"])
            if not m or q["method"] not in ("POST", "PUT", "PATCH"):
                continue
            if q["status"] is not None and 200 <= q["status"] < 300:
                out.append((q["method"], m.group(1), m.group(2),
                            q.get("request_body")))
        return out

    def keep_logs(self):
        """Copy nginx's error log, the journal directory and the simulator's
        log out of the prefixes cleanup removes."""
        dest = tempfile.mkdtemp(prefix="oe-journal-%s-%d-"
                                % (type(self).__name__, self.seed))
        shutil.copy(os.path.join(self.ngx.dir, "logs", "error.log"), dest)
        shutil.copy(self.sim.log_path, dest)
        jdir = os.path.join(self.ngx.dir, "journal")
        if os.path.isdir(jdir):
            shutil.copytree(jdir, os.path.join(dest, "journal"))
        return dest

    def history_problems(self, memos):
        """What NetSuite was sent, in order: a Sales Order never wound back
        to an older snapshot, Credit Memos only ever PUT by external id;
        with strict_writes nothing applied twice."""
        problems = []
        writes = self.netsuite_writes()
        if writes is None:
            return ["the simulator's request log wrapped: raise "
                    "request_log_size"]
        so, cm = {}, {}
        for method, rtype, ref, body in writes:
            if rtype == "creditMemo":
                if method != "PUT" or not (ref or "").startswith("eid:"):
                    problems.append("credit memo written by %s %s"
                                    % (method, ref))
                cm[ref] = cm.get(ref, 0) + 1
            else:
                at = (body or {}).get("custbody_shopify_updated_at") \
                    if isinstance(body, dict) else None
                so.setdefault(ref, []).append(at)
        for ref, ats in sorted(so.items()):
            for a, b in zip(ats, ats[1:]):
                if a and b and (b < a or (self.strict_writes and b == a)):
                    problems.append(
                        "sales order %s: snapshot of %s written after the "
                        "one of %s (%s)" % (ref, b, a,
                                            "an older one" if b < a
                                            else "the same one twice"))
        if self.strict_writes:
            for ref, n in sorted(cm.items()):
                if n > 1:
                    problems.append("credit memo %s: PUT %d times" % (ref, n))
            for eid, ms in sorted(memos.items()):
                for m in ms:
                    w = (m.get("_sim") or {}).get("writes")
                    if w != 1:
                        problems.append("credit memo %s: %s writes"
                                        % (eid, w))
        return problems


class KillsBase(JournalLoad):
    """kill -9 at random moments within the load (about 24 s), at least
    2 s apart; kill() does it and says what it killed."""

    KILLS = 4

    def trouble(self, client, t0):
        est = ORDERS * 5.8 / THREADS * (PACE + 0.01) * 0.8
        times, t = [], 1.0
        for i in range(self.KILLS):
            t = self.rng.uniform(t + 2.0,
                                 max(t + 2.5, est * (i + 1) / self.KILLS))
            times.append(t)
        self.kills = []
        for when in times:
            self.idle_until(t0 + when, client)
            if client.done():
                break
            st = self.observe()
            n = self.kill(t0, st and self.depth(st))
            self.kills.append((round(time.monotonic() - t0, 1), n,
                               st and self.depth(st)))

    def kill(self, t0, depth):
        raise NotImplementedError

    def trouble_summary(self):
        return "%d kills %s" % (len(self.kills), self.kills)


@needs_journal
class CrashTest(KillsBase, unittest.TestCase):
    """kill -9 of the master and every worker, at random moments, then
    nginx started again in the same prefix."""

    def kill(self, t0, depth):
        pids = self.ngx.kill_all()
        gap = self.rng.uniform(0.05, 1.0)
        print("  kill -9 at %.1fs: %d processes, depth before %s; "
              "down %.2fs" % (time.monotonic() - t0, len(pids), depth, gap),
              flush=True)
        time.sleep(gap)
        self.ngx.restart()
        self.note_generation("restart")
        return len(pids)


@needs_journal
class WorkerCrashTest(KillsBase, unittest.TestCase):
    """kill -9 of the workers only, at random moments: the master forks
    new ones in the same zone, which take back what the dead ones held
    (leases, the account's request slots, a segment being removed)."""

    def kill(self, t0, depth):
        pids = self.ngx.worker_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone(pids))
        print("  kill -9 of %d workers at %.1fs, depth before %s"
              % (len(pids), time.monotonic() - t0, depth), flush=True)
        self.note_generation("respawn")
        return len(pids)


@needs_journal
class UpgradeTest(JournalLoad, unittest.TestCase):
    """Binary upgrades under load: USR2, both generations serving for a
    moment, then QUIT to the old master."""

    UPGRADES = 2

    def wait(self, predicate, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            self.observe()
            time.sleep(0.05)
        self.fail("timed out waiting for %s\n%s"
                  % (what, self.ngx.error_log()[-3000:]))

    def trouble(self, client, t0):
        est = ORDERS * 5.8 / THREADS * (PACE + 0.01)
        self.upgrades = []
        for i in range(self.UPGRADES):
            when = self.rng.uniform(est * (i + 0.3) / (self.UPGRADES + 0.5),
                                    est * (i + 0.8) / (self.UPGRADES + 0.5))
            self.idle_until(t0 + when, client)
            old = self.ngx.master_pid()
            old_workers = self.ngx.worker_pids()
            self.ngx.send_signal(signal.SIGUSR2, old)

            def new_generation():
                if self.ngx.oldbin_pid() != old:
                    return None
                try:
                    new = self.ngx.master_pid()
                    workers = self.ngx.worker_pids()
                except (OSError, ValueError):
                    return None     # the pid file being written
                return new if new != old and len(workers) == 2 else None
            new = self.wait(new_generation, "the new master's workers", 15)
            both = self.rng.uniform(1.0, 3.0)
            print("  USR2 at %.1fs: master %d -> %d, both serving for "
                  "%.1fs" % (time.monotonic() - t0, old, new, both),
                  flush=True)
            self.idle_until(time.monotonic() + both, client)
            st = self.observe()
            self.ngx.send_signal(signal.SIGQUIT, old)
            gone = self.ngx.wait_gone([old] + old_workers, 30)
            self.assertTrue(gone, "the old master %d or its workers did not "
                            "exit after QUIT\n%s"
                            % (old, self.ngx.error_log()[-3000:]))
            self.upgrades.append((round(when, 1), old, new,
                                  st and self.depth(st)))
            print("  QUIT to %d at %.1fs: gone" % (old,
                                                  time.monotonic() - t0),
                  flush=True)
            self.note_generation("upgrade")

    def trouble_summary(self):
        return "%d upgrades %s" % (len(self.upgrades), self.upgrades)

    # no crash, so no write is cut short: whatever two generations do,
    # NetSuite never sees a webhook applied twice
    strict_writes = True


if __name__ == "__main__":
    unittest.main()
