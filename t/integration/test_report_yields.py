"""The mismatch report yields NetSuite to queued edits (issue 15: the
report never crowds out webhook deliveries).  With one request slot in
the account and webhooks waiting in the shop's queue (fewer than
reconcile's queue_max, so the report may run), a slot that comes free
goes to the next webhook, not to the report's SuiteQL query: the query
is sent once no webhook waits, and the run still completes; and with
slots nobody wants, the report does not wait for the queue."""

import unittest

import test_report
from test_reconcile import SHOP

ORDERS = (7101, 7102, 7103, 7104, 7105)


class Base(test_report.ReportBase):

    def api_calls(self):
        """NetSuite's API calls: (start, end, is SuiteQL), in order."""
        out = []
        for r in self.ns.admin("GET", "requests")["requests"]:
            end = float(r["time"])
            out.append((end - float(r["ms"]) / 1000, end,
                        "/query/v1/suiteql" in (r.get("path") or "")))
        return sorted(out)


class ReportYields(Base):

    def conf(self):
        # one request at a time: who gets a freed slot is all that counts
        http = super().conf()
        assert "concurrency 4;" in http
        return http.replace("concurrency 4;", "concurrency 1;")

    def test_a_freed_slot_goes_to_a_queued_webhook_first(self):
        self.start_nginx()
        for oid in ORDERS:
            self.create(oid, 2)
        self.shopify.drain()

        # every NetSuite call takes a while: the edits queue up behind
        # the one slot (3 calls each: lock read, write, read-back)
        self.ns.admin("POST", "faults", {"latency_ms": 250})
        self.next_second()
        for oid in ORDERS:
            self.edit(oid, 3)
        self.shopify.drain()
        self.ask()

        self.wait(lambda: self.runs_done() == 1, "the report's run", 40)
        self.wait(lambda: self.status()["stores"][SHOP]["queue_depth"] == 0,
                  "the queue to drain", 20)

        calls = self.api_calls()
        edits = [(s, e) for s, e, q in calls if not q]
        queries = [s for s, e, q in calls if q]
        self.assertGreaterEqual(len(edits), 3 * len(ORDERS), calls)
        self.assertTrue(queries, calls)
        last_edit_end = max(e for s, e in edits)
        # the sim's clock on both sides; a millisecond of rounding
        self.assertGreaterEqual(
            min(queries), last_edit_end - 0.005,
            "a SuiteQL query was sent while webhooks waited for the "
            "slot: %r" % calls)



class ReportRunsBeside(Base):
    """Yielding is not waiting for an empty queue: with slots to spare
    (four, and one webhook at a time per order), the report's query goes
    out while webhooks are still being delivered."""

    def test_a_slot_nobody_wants_goes_to_the_report(self):
        self.start_nginx()
        for oid in ORDERS[:2]:
            self.create(oid, 2)
        self.shopify.drain()

        # two orders' calls, one after another each, leave two slots idle
        self.ns.admin("POST", "faults", {"latency_ms": 400})
        self.next_second()
        for oid in ORDERS[:2]:
            self.edit(oid, 3)
        self.shopify.drain()
        self.ask()

        self.wait(lambda: self.runs_done() == 1, "the report's run", 40)
        calls = self.api_calls()
        edits = [e for s, e, q in calls if not q]
        queries = [s for s, e, q in calls if q]
        self.assertTrue(queries, calls)
        self.assertLess(min(queries), max(edits),
                        "the report waited for every webhook although "
                        "slots were free: %r" % calls)

if __name__ == "__main__":
    unittest.main()
