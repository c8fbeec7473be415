"""Fewer NetSuite requests per applied edit (issue 17), no check lost.

REST mode: a write whose order has its next snapshot queued is read back
by that snapshot's lock read (the read back is folded into it); alone, it
reads back itself. The webhook is acknowledged only once checked, so a
worker dying in between leaves a replay that checks it on its own lock
read. RESTlet mode: one call per edit."""

import json
import os
import re
import signal
import time
import unittest

import test_dispatch as td

DRIFT = ("read back after the write: line 1 (item 1001) has another "
         "quantity than was sent")


def at(minute):
    return td.fixture("01-us-tax-exclusive.json").rstrip().replace(
        b"2024-03-05T10:15:30-05:00", b"2024-03-05T10:%02d:00-05:00" % minute)


class FoldedReadback(td.Dispatch):

    def wait(self, predicate, what, timeout=15.0):
        try:
            return super().wait(predicate, what, timeout)
        except AssertionError:
            # the module's own lines, not the keep-alive closes
            self.fail("timed out waiting for %s\n%s" % (what, "\n".join(
                l for l in self.ngx.error_log().splitlines()
                if "order_edit" in l or "signal" in l)[-4000:]))

    def exceptions(self):
        return json.loads(self.ngx.request("GET", "/exc")[2])["exceptions"]

    def calls(self):
        """(method, query) of every API call on the Sales Order, in order."""
        return [(r["method"], r.get("query") or "")
                for r in self.sim.admin("GET", "requests")["requests"]
                if "/salesOrder/" in (r.get("path") or "")]

    def post_at(self, minute, wid):
        s, _, b = self.ngx.post_webhook("acme", at(minute), wid)
        self.assertEqual(s, 200, b)

    def burst_of_two(self):
        """The first edit out (its lock read held at NetSuite), the second
        queued behind it: the first is written while the second waits."""
        self.sim.admin("POST", "faults", {"gate": True})
        self.post_at(20, "f0")
        self.wait(lambda: self.sim.counters()["in_flight"] == 1,
                  "the first lock read")
        self.post_at(21, "f1")
        self.sim.admin("POST", "faults", {"gate": False})

    def test_a_burst_folds_the_read_back_and_still_catches_drift(self):
        self.sim.seed_order(td.SO_EID)
        # NetSuite (a script on save) changes the first edit's write
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "drift", "method": "PATCH", "path": "salesOrder"}]})

        self.burst_of_two()

        exc = self.wait(self.exceptions, "the discrepancy")
        self.wait(lambda: self.shop()["acked"] == 1, "the second edit")
        # the first edit's snapshot is the one parked, as its own read
        # back would have parked it
        self.assertEqual(len(exc), 1, exc)
        self.assertEqual(exc[0]["webhook_id"], "f0")
        self.assertEqual(exc[0]["reason"], "discrepancy")
        self.assertEqual(exc[0]["netsuite_error"], DRIFT)
        # the second was written over the drift and read back by itself
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        # lock read, write, lock read (the first's read back), write,
        # read back: five requests for two edits, not six
        self.assertEqual([m for m, _ in self.calls()],
                         ["GET", "PATCH", "GET", "PATCH", "GET"])
        self.assertIn("the lock read of #", self.ngx.error_log())

    def test_a_folded_check_whose_read_fails_is_read_back_anyway(self):
        self.sim.seed_order(td.SO_EID)
        # the first write drifts; the next read of the order (the second
        # edit's lock read, which was to check it) answers 503
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "latency", "ms": 0, "method": "GET"},
            {"fault": "drift", "method": "PATCH", "path": "salesOrder"},
            {"fault": "error", "status": 503, "method": "GET"}]})

        self.burst_of_two()

        # the second is retried; the first reads back itself (or is
        # checked by the second's next lock read): the drift is caught
        exc = self.wait(self.exceptions, "the discrepancy")
        self.wait(lambda: self.shop()["acked"] == 1, "the second edit")
        self.assertEqual(exc[0]["webhook_id"], "f0")
        self.assertEqual(exc[0]["netsuite_error"], DRIFT)
        self.assertEqual(self.sim.counters()["faults"].get("error"), 1)
        self.assertEqual([m for m, _ in self.calls()].count("PATCH"), 2)
        self.assertNotIn("could not be read back", self.ngx.error_log())

    def test_a_single_edit_still_reads_back_by_itself(self):
        self.sim.seed_order(td.SO_EID)
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "drift", "method": "PATCH", "path": "salesOrder"}]})

        self.post_at(20, "s0")

        exc = self.wait(self.exceptions, "the discrepancy")
        self.assertEqual(exc[0]["netsuite_error"], DRIFT)
        self.assertEqual([m for m, _ in self.calls()],
                         ["GET", "PATCH", "GET"])
        self.assertNotIn("the lock read of #", self.ngx.error_log())

    def drift_then_hang(self):
        """The first lock read passes, the first write drifts, and the
        next read of the order never answers."""
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "latency", "ms": 0, "method": "GET"},
            {"fault": "drift", "method": "PATCH", "path": "salesOrder"},
            {"fault": "timeout", "method": "GET"}]})

    def kill_dispatcher_when_held(self, what):
        """SIGKILL to the dispatching worker once that read is held."""
        self.wait(lambda: self.sim.counters()["faults"].get("timeout"), what)
        pid = int(re.findall(r"\] (\d+)#\d+: order_edit: dispatching zone",
                             self.ngx.error_log())[-1])
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone([pid]))

    def test_a_worker_dying_before_the_folded_check_loses_no_check(self):
        self.sim.seed_order(td.SO_EID)
        # the read that hangs is the second's lock read, which is the
        # first's read back
        self.drift_then_hang()
        self.burst_of_two()
        self.kill_dispatcher_when_held("the second lock read, held")
        self.assertIn("the lock read of #", self.ngx.error_log())

        # the next worker takes both back: the first, written but not
        # checked, reads the order, finds its snapshot held and checks it
        exc = self.wait(self.exceptions, "the discrepancy", timeout=30)
        self.wait(lambda: self.shop()["acked"] == 1, "the second edit",
                  timeout=30)
        self.assertEqual(exc[0]["webhook_id"], "f0")
        self.assertEqual(exc[0]["reason"], "discrepancy")
        self.assertEqual(exc[0]["netsuite_error"], DRIFT)
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])

    def test_a_worker_dying_before_the_read_back_loses_no_check(self):
        self.sim.seed_order(td.SO_EID)
        # one edit: the read that hangs is its own read back
        self.drift_then_hang()
        self.post_at(20, "k0")
        self.kill_dispatcher_when_held("the read back, held")

        # not remembered as applied: the replay reads the order, finds
        # its own snapshot held, and compares it there
        exc = self.wait(self.exceptions, "the discrepancy", timeout=30)
        self.assertEqual(exc[0]["webhook_id"], "k0")
        self.assertEqual(exc[0]["reason"], "discrepancy")
        self.assertEqual(exc[0]["netsuite_error"], DRIFT)
        # written once: the replay does not write it again
        self.assertEqual([m for m, _ in self.calls()],
                         ["GET", "PATCH", "GET", "GET"])


# the Dispatch suite runs once, in its own class
for _name in unittest.TestLoader().getTestCaseNames(td.Dispatch):
    setattr(FoldedReadback, _name, None)


class UnfoldedBehindABacklog(FoldedReadback):
    """One slot, and a backlog of other orders' webhooks parsed and
    waiting for it.  A FOLDED write that no lock read claimed within
    FOLD_WAIT (its order's next snapshot was parked before reading)
    reads back itself: it waits in line with them, at the head, rather
    than looking for a free slot on a timer, which it never finds while
    each freed slot goes to the line at once."""

    extra = "concurrency 1;"
    zone = "8m"
    orders = 60

    def test_an_unclaimed_read_back_is_not_starved_by_a_backlog(self):
        first = 5200000000
        self.seed_orders(first, self.orders)
        self.sim.seed_order(td.SO_EID)
        so = "450789469"
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "drift", "method": "PATCH", "path": so}]})

        # the first holds the only slot while the rest queue behind it:
        # its order's next snapshot (an item no SKU maps: parked before
        # any read), then the backlog
        self.sim.admin("POST", "faults", {"gate": True})
        self.post_at(20, "f0")
        self.wait(lambda: self.sim.counters()["in_flight"] == 1,
                  "the first lock read")
        s, _, b = self.ngx.post_webhook(
            "acme", at(21).replace(b"IPOD2008RED", b"NO-SUCH-SKU"), "f1")
        self.assertEqual(s, 200, b)
        base = at(20)
        for i in range(self.orders):
            body = base.replace(so.encode(), b"%d" % (first + i))
            s, _, b = self.ngx.post_webhook("acme", body, "b%d" % i)
            self.assertEqual(s, 200, b)
        # each request takes a while: FOLD_WAIT (1 s) ends with most of
        # the backlog (60 orders, 3 requests each) still to come
        self.sim.admin("POST", "faults", {"latency_ms": 20})
        self.sim.admin("POST", "faults", {"gate": False})

        exc = self.wait(lambda: [e for e in self.exceptions()
                                 if e["webhook_id"] == "f0"],
                        "the discrepancy", timeout=60)
        self.wait(lambda: self.shop()["queue_depth"] == 0, "the backlog",
                  timeout=60)
        self.assertEqual(exc[0]["reason"], "discrepancy")
        self.assertEqual(exc[0]["netsuite_error"], DRIFT)
        # folded at first: its next snapshot was queued when it wrote
        self.assertIn("the lock read of #", self.ngx.error_log())

        # NetSuite's requests in order: the first write's own read back
        # came while the backlog's line was long, not after the line
        log = self.sim.admin("GET", "requests")["requests"]
        ours = [i for i, r in enumerate(log)
                if so in (r.get("path") or "")]
        methods = [log[i]["method"] for i in ours]
        # (the lock read held at the gate may have timed out and gone
        # again on a slow machine: GETs before the one write)
        self.assertEqual(methods.count("PATCH"), 1, methods)
        p = methods.index("PATCH")
        self.assertEqual(methods[p:], ["PATCH", "GET"], methods)
        after = [r for r in log[ours[p + 1]:]
                 if r["method"] == "PATCH" and so not in r["path"]]
        self.assertGreaterEqual(len(after), 10,
                                "read back only after the backlog's "
                                "line: %d writes of it after" % len(after))


# the FoldedReadback tests run once, in their own class
for _name in unittest.TestLoader().getTestCaseNames(FoldedReadback):
    setattr(UnfoldedBehindABacklog, _name, None)


class RestletOneCall(td.RestletMode):
    """The RESTlet reads, checks the lock, writes and compares on
    NetSuite's side: one request per edit, nothing read back here."""

    def test_an_edit_is_one_request(self):
        self.sim.seed_order(td.SO_EID)
        self.post("01-us-tax-exclusive.json", "o1")
        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        log = self.sim.admin("GET", "requests")["requests"]
        self.assertEqual([(r["method"], "restlet" in r["path"])
                          for r in log], [("POST", True)])


for _name in unittest.TestLoader().getTestCaseNames(td.RestletMode):
    setattr(RestletOneCall, _name, None)


class SuccessorInLine(FoldedReadback):
    """One slot, spares parsed and waiting for it.  A FOLDED write whose
    order's next snapshot was leased only after the write (the spares
    were full), and waits in line when FOLD_WAIT ends: that snapshot's
    lock read, moved to the head of the line, is the write's read back,
    rather than the write reading back first and the snapshot, finding
    its order busy, handed back and parsed again."""

    extra = "concurrency 1;"
    zone = "8m"
    ahead = 8          # the dispatcher's spares (DISPATCH_SPARE)

    def test_the_next_snapshot_in_line_reads_the_write_back(self):
        first = 5300000000
        self.seed_orders(first, self.ahead + 4)
        self.sim.seed_order(td.SO_EID)
        so = "450789469"

        # the first holds the only slot; the spares fill with other
        # orders before its next snapshot comes
        self.sim.admin("POST", "faults", {"gate": True})
        self.post_at(20, "f0")
        self.wait(lambda: self.sim.counters()["in_flight"] == 1,
                  "the first lock read")
        base = at(20)
        for i in range(self.ahead + 4):
            if i == self.ahead:
                self.post_at(21, "f1")
            body = base.replace(so.encode(), b"%d" % (first + i))
            s, _, b = self.ngx.post_webhook("acme", body, "b%d" % i)
            self.assertEqual(s, 200, b)
        time.sleep(0.3)     # none young: each may be leased as a spare
        # FOLD_WAIT (1 s) ends with the line still ahead of f1
        self.sim.admin("POST", "faults", {"latency_ms": 200})
        self.sim.admin("POST", "faults", {"gate": False})

        self.wait(lambda: self.shop()["queue_depth"] == 0, "the queue",
                  timeout=60)
        self.assertEqual(self.exceptions(), [])
        self.assertIn("the lock read of #", self.ngx.error_log())
        log = self.sim.admin("GET", "requests")["requests"]
        methods = [r["method"] for r in log if so in (r.get("path") or "")]
        # lock read, write, the next one's lock read (the read back),
        # its write, its read back: five, not six
        self.assertEqual(methods, ["GET", "PATCH", "GET", "PATCH", "GET"],
                         methods)
        self.assertIn("next in line, reads it back", self.ngx.error_log())


# the FoldedReadback tests run once, in their own class
for _name in unittest.TestLoader().getTestCaseNames(FoldedReadback):
    setattr(SuccessorInLine, _name, None)


class CoalescedReplays(FoldedReadback):
    """Snapshots of one order that a dead worker may have written come
    back to the next one, coalesced into the newest (each is checked by
    a read of the order, never skipped).  The newest claims one; the
    other reads for itself when FOLD_WAIT ends.  That read is a request
    of the order as any other: not while the newest one is out, or the
    older snapshot, not held, is written beside it and may land after
    it, winding the order back unseen."""

    # room for the older one's read beside the newest one's write, with a
    # slot to spare for the killed worker's until it is returned
    extra = "concurrency 3;"

    def test_an_older_replay_is_not_written_beside_the_newest(self):
        self.sim.seed_order(td.SO_EID)
        # the newest one's write is slow, the next write slower still:
        # an older snapshot written meanwhile would land after it
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "latency", "ms": 3000, "method": "PATCH"},
            {"fault": "latency", "ms": 4000, "method": "PATCH"}]})

        # three snapshots queued, the first's lock read out and held,
        # then the dispatching worker killed: all three are replays
        self.sim.admin("POST", "faults", {"gate": True})
        self.post_at(20, "r1")
        self.wait(lambda: self.sim.counters()["in_flight"] == 1,
                  "the first lock read")
        self.post_at(21, "r2")
        self.post_at(22, "n")
        pid = int(re.findall(r"\] (\d+)#\d+: order_edit: dispatching zone",
                             self.ngx.error_log())[-1])
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone([pid]))
        self.wait(lambda: len(re.findall(r"dispatching zone",
                                         self.ngx.error_log())) == 2,
                  "the next dispatching worker")
        self.sim.admin("POST", "faults", {"gate": False})

        self.wait(lambda: self.shop()["acked"] == 3, "all three",
                  timeout=30)
        self.assertEqual(self.exceptions(), [])
        # NetSuite holds the newest snapshot, written once
        self.assertIn("10:22:00",
                      self.order()["custbody_shopify_updated_at"])
        self.assertEqual([m for m, _ in self.calls()].count("PATCH"), 1,
                         self.calls())
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        # the older one waited for the newest one's requests
        self.assertIn("waits to read order 450789469: another of its "
                      "webhooks is out", self.ngx.error_log())


# the FoldedReadback tests run once, in their own class
for _name in unittest.TestLoader().getTestCaseNames(FoldedReadback):
    setattr(CoalescedReplays, _name, None)
