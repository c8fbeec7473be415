"""Shopify's answers to reconciliation and the mismatch report (an
orders.json page is hundreds of KB at page_size=250) parsed on nginx's
thread pool, not in the dispatching worker's event loop, as NetSuite's
are (test_parse_pool.py): with order_edit_curl parse_threshold=1 every
page goes there (the debug log says so), and reconciliation and the
report end exactly as they do inline; a reload while a page's parse is
out (slowed by build/slowparse.so) cancels it without a crash, and the
new worker's run lists the page again and queues its orders."""

import os
import re

import test_reconcile
import test_report
import test_report_yields
from test_parse_pool import with_slowparse
from test_reconcile import SHOP


PAGE = re.compile(r'order_edit: Shopify\'s "orders" of (\d+) bytes are '
                  r'parsed on the thread pool')


class OnThePool:
    """A mixin: every answer parsed on the thread pool, a debug log."""

    curl = "order_edit_curl parse_threshold=1;"

    def conf(self):
        self.ngx.extra_main = "error_log logs/debug.log debug;"
        http = super().conf()
        assert "order_edit_dispatch edits" in http
        return http.replace("order_edit_dispatch edits",
                            self.curl + "\n    order_edit_dispatch edits")

    def debug_log(self):
        with open(os.path.join(self.ngx.dir, "logs", "debug.log")) as f:
            return f.read()

    def pages_on_the_pool(self):
        return [int(n) for n in PAGE.findall(self.debug_log())]


def on_the_pool(base, keep):
    """base's test "keep" (its others run in its own file) with every
    answer on the pool; and its Shopify pages were parsed there."""

    def test(self):
        getattr(super(cls, self), keep)()
        self.assertTrue(self.pages_on_the_pool(), "no page on the pool")

    cls = type(base.__name__ + "OnThePool", (OnThePool, base), {keep: test})
    for name in dir(cls):
        if name.startswith("test_") and name != keep:
            setattr(cls, name, None)
    return cls


ReconcileOnThePool = on_the_pool(
    test_reconcile.Reconcile,
    "test_dropped_webhooks_reach_netsuite_once_by_reconciliation")
ReportOnThePool = on_the_pool(
    test_report.Report,
    "test_the_report_lists_exactly_the_seeded_differences")
RaisedOnThePool = on_the_pool(
    test_report.Raised,
    "test_actionable_rows_are_raised_and_retry_rewrites")
YieldsOnThePool = on_the_pool(
    test_report_yields.ReportYields,
    "test_a_freed_slot_goes_to_a_queued_webhook_first")
BesideOnThePool = on_the_pool(
    test_report_yields.ReportRunsBeside,
    "test_a_slot_nobody_wants_goes_to_the_report")


class ReloadMidPage(OnThePool, test_reconcile.Base):
    """A reload while reconciliation's page is parsed on a thread: the
    old worker cancels the parse (the run ends "cancelled", the watermark
    where it was), nothing crashes, and the new worker's run lists the
    page again and queues the orders whose webhooks were lost."""

    # more than a tick's slice (25): the page is queued over two ticks
    ORDERS = range(7300, 7330)

    def conf(self):
        # one page of all thirty (about 39 KB), a quick shutdown
        http = super().conf()
        http = re.sub(r"page_size=\d+", "page_size=50", http)
        return http.replace("interval=50ms;",
                            "interval=50ms shutdown_timeout=300ms;")

    def test_a_reload_mid_parse_cancels_and_the_next_run_redoes_it(self):
        # every webhook lost: only reconciliation brings the orders
        self.shopify.ctl("POST", "shops/%s/drop" % SHOP, {"fraction": 1.0})
        want = {}
        for oid in self.ORDERS:
            self.create(oid, 3, ns_qty=1)
            want[oid] = 3
        self.shopify.drain()

        # the page (39 KB) is slow on a thread, NetSuite's answers not
        with_slowparse(self, 15000, 3000, self.start_nginx)

        self.wait(lambda: any(n >= 15000 for n in self.pages_on_the_pool()),
                  "the page's parse on the pool", 20)
        log = self.ngx.error_log()
        old = [int(p) for p in re.findall(
            r"\[notice\] (\d+)#\d+: order_edit: dispatching zone", log)]
        self.assertTrue(old, log[-2000:])

        before = set(self.ngx.worker_pids())
        os.kill(self.ngx.master_pid(), 1)
        self.wait(lambda: set(self.ngx.worker_pids()) - before,
                  "new workers", 20)
        self.assertTrue(self.ngx.wait_gone(old, 20))

        self.wait(lambda: self.converged(want, [])[0],
                  "the orders in NetSuite by the new worker's run", 60)

        debug = self.debug_log()
        self.assertIn("order_edit: the parse of an answer of", debug)
        self.assertRegex(self.ngx.error_log(),
                         r'reconcile of "%s" cancelled' % re.escape(SHOP))
        self.assertRegex(self.ngx.error_log(),
                         r'reconcile of "%s" done: 30 orders' %
                         re.escape(SHOP))
        self.assertNotIn("exited on signal", self.ngx.error_log())
        self.assertNotIn("[alert]", self.ngx.error_log())
