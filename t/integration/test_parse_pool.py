"""NetSuite's answers parsed on nginx's thread pool, not in the dispatching
worker's event loop (ngx_http_order_edit_parse.c): order_edit_curl's
parse_thread_pool= and parse_threshold=.  The dispatch tests run again
with every answer parsed on the pool, and end as they do inline; the
debug log says where each answer was parsed; a reload while a parse is
out (slowed by build/slowparse.so) hands the webhook over, and the
account's slot back."""

import os
import re
import tempfile
import unittest

import test_dispatch
import test_fold
import test_report
from test_dispatch import SO_EID

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SLOWPARSE = os.path.abspath(os.path.join(TOP, "build", "slowparse.so"))

POSTED = re.compile(r"order_edit: an answer of (\d+) bytes goes to the "
                    r"thread pool")
PARSED = re.compile(r"order_edit: an answer of (\d+) bytes parsed on the "
                    r"thread pool$", re.M)
CANCELLED = "order_edit: the parse of an answer of"


def with_slowparse(test, min_bytes, ms, start, loop_log=None,
                   rename_ms=None):
    """start() (nginx's) with build/slowparse.so preloaded: a parse of
    min_bytes or more on a thread takes ms longer; on an event loop, it
    is written down in loop_log, if given; a rename of a .tmp file on a
    thread takes rename_ms longer, if given."""
    saved = {k: os.environ.get(k) for k in
             ("LD_PRELOAD", "OE_SLOWPARSE_MIN", "OE_SLOWPARSE_MS",
              "OE_LOOPPARSE_LOG", "OE_SLOWRENAME_MS")}

    if not os.path.exists(SLOWPARSE):
        test.fail("build/slowparse.so is missing: run make")

    os.environ["LD_PRELOAD"] = " ".join(
        p for p in (saved["LD_PRELOAD"], SLOWPARSE) if p)
    os.environ["OE_SLOWPARSE_MIN"] = str(min_bytes)
    os.environ["OE_SLOWPARSE_MS"] = str(ms)
    if loop_log:
        os.environ["OE_LOOPPARSE_LOG"] = loop_log
    if rename_ms:
        os.environ["OE_SLOWRENAME_MS"] = str(rename_ms)
    try:
        start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def many_lines(n):
    return [{"item": {"id": "1001"}, "quantity": 1 + i % 7, "rate": 199,
             "description": "line %d of a large order" % i}
            for i in range(n)]


class OnThePool(test_dispatch.Dispatch):
    """Every answer parsed on the thread pool (parse_threshold=1): each
    dispatch test ends as it does with the inline parse."""

    curl = "order_edit_curl parse_threshold=1;"

    def nginx_with_keys(self):
        ngx = super().nginx_with_keys()
        ngx.extra_main = "error_log logs/debug.log debug;"
        write_conf = ngx.write_conf
        ngx.write_conf = lambda block: write_conf(block.replace(
            "order_edit_dispatch edits",
            self.curl + "\n    order_edit_dispatch edits"))
        return ngx

    def debug_log(self):
        with open(os.path.join(self.ngx.dir, "logs", "debug.log")) as f:
            return f.read()

    def test_the_read_and_the_read_back_are_parsed_on_the_pool(self):
        self.sim.seed_order(SO_EID, lines=many_lines(40))

        self.post("01-us-tax-exclusive.json", "p1")

        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        log = self.debug_log()
        sizes = [int(n) for n in PARSED.findall(log)]
        # the read with 40 lines, and the read back (sent and got)
        self.assertEqual(len(sizes), 2, log[-3000:])
        self.assertGreater(sizes[0], 8000)
        self.assertEqual(self.shop()["exceptions"], 0)
        # and the read's record is freed there too, when the job ends
        self.wait(lambda: re.search(r"order_edit: a parse of \d{4,} bytes "
                                    r"freed on the thread pool",
                                    self.debug_log()),
                  "the record freed on the pool")


    def test_a_burst_of_edits_is_one_write_of_the_newest(self):
        # Dispatch's own test counts 10:21 and 10:22 as coalesced, which
        # needs them leased before 10:24 once the first write is done; a
        # snapshot handed back busy waits 200 ms, and whether 10:24 came
        # in before or after that lease is timing (the parses' hand-offs
        # move it).  Either way: two writes, the newest last, the other
        # three not sent (coalesced, or stale against the newest).
        shop = self.burst()
        self.assertEqual(shop["coalesced"] + shop["stale"], 3)
        self.assertEqual(shop["acked"], 5)
        self.assertEqual(self.sim.counters()["writes"]["salesOrder"], 2)
        self.assertTrue(self.order()["custbody_shopify_updated_at"]
                        .startswith("2024-03-05T10:24:00"))

    def test_kept_lines_are_fitted_with_the_read(self):
        # the order's lines carry Shopify's line ids: the write names them
        # by "line" (fitted on the thread with the read), and NetSuite
        # updates them in place instead of adding new ones
        self.sim.seed_order(SO_EID, lines=[
            {"item": {"id": "1001"}, "quantity": 3, "rate": 199,
             "custcol_shopify_line_id": "466157049"},
            {"item": {"id": "1002"}, "quantity": 1, "rate": 24.5,
             "custcol_shopify_line_id": "518995019"}] + many_lines(40))
        before = {l["custcol_shopify_line_id"]: l["line"]
                  for l in self.order()["item"]["items"]
                  if "custcol_shopify_line_id" in l}

        self.post("01-us-tax-exclusive.json", "f1")

        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        after = {l["custcol_shopify_line_id"]: l["line"]
                 for l in self.order()["item"]["items"]}
        self.assertEqual(after, before)
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])


class Inline(OnThePool):
    """parse_thread_pool=off: every answer in the event loop."""

    curl = "order_edit_curl parse_thread_pool=off;"

    test_the_read_and_the_read_back_are_parsed_on_the_pool = None

    def test_nothing_is_parsed_on_the_pool(self):
        self.sim.seed_order(SO_EID, lines=many_lines(40))

        self.post("01-us-tax-exclusive.json", "i1")

        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        log = self.debug_log()
        self.assertEqual(POSTED.findall(log) + PARSED.findall(log), [])
        # the answers came (the log is the debug one), parsed here
        self.assertIn("order_edit: curl done", log)


class BelowTheThreshold(Inline):
    """The default threshold: small answers are parsed inline, large
    ones on the pool."""

    curl = "order_edit_curl parse_threshold=16k;"

    test_nothing_is_parsed_on_the_pool = None

    def test_only_the_large_read_goes_to_the_pool(self):
        self.sim.seed_order(SO_EID, lines=many_lines(150))

        self.post("01-us-tax-exclusive.json", "t1")

        self.wait(lambda: self.shop()["acked"] == 1, "the ack")
        sizes = [int(n) for n in PARSED.findall(self.debug_log())]
        # the 150-line read; the read back of the 2 lines written is not
        self.assertEqual(len(sizes), 1, sizes)
        self.assertGreaterEqual(sizes[0], 16384)


class ReloadMidParse(OnThePool):
    """A reload while the read's answer is being parsed on a thread: the
    old worker cancels the parse and hands the webhook back, nothing
    crashes, the account's slot comes back, and the new worker delivers
    the edit."""

    curl = "order_edit_curl parse_threshold=1;"

    def setUp(self):
        # the 150-line read (tens of KB) is slow, the webhook's 3 KB not
        with_slowparse(self, 20000, 2000, super().setUp)

    def nginx_with_keys(self):
        ngx = super().nginx_with_keys()
        write_conf = ngx.write_conf
        ngx.write_conf = lambda block: write_conf(block.replace(
            "interval=50ms;", "interval=50ms shutdown_timeout=300ms;"))
        return ngx

    def accounts(self):
        return self.ngx.status()["netsuite"]

    def test_a_reload_mid_parse_hands_the_webhook_over(self):
        self.sim.seed_order(SO_EID, lines=many_lines(150))

        self.post("01-us-tax-exclusive.json", "r1")

        self.wait(lambda: any(int(n) >= 20000 for n in
                              POSTED.findall(self.debug_log())),
                  "the read's parse on the pool")
        log = self.ngx.error_log()
        old = [int(p) for p in re.findall(
            r"\[notice\] (\d+)#\d+: order_edit: dispatching zone", log)]

        before = set(self.ngx.worker_pids())
        os.kill(self.ngx.master_pid(), 1)
        self.wait(lambda: set(self.ngx.worker_pids()) - before,
                  "new workers")
        self.assertTrue(self.ngx.wait_gone(old, 20))

        self.wait(lambda: self.shop()["acked"] == 1, "the ack", 30)

        self.assertIn(CANCELLED, self.debug_log())
        self.assertEqual(self.lines(self.order()), [("1001", 1),
                                                    ("1002", 2)])
        self.assertEqual(self.shop()["queue_depth"], 0)
        self.assertEqual(self.shop()["exceptions"], 0)
        # the slot the cancelled job held is back
        self.wait(lambda: self.accounts()["main"]["in_flight"] == 0,
                  "the account's slots back")
        self.assertNotIn("exited on signal", self.ngx.error_log())

    test_the_read_and_the_read_back_are_parsed_on_the_pool = None
    test_kept_lines_are_fitted_with_the_read = None


class FoldOnThePool(test_fold.FoldedReadback):
    """A large order (a 30 KB field every read returns): the folded read
    back's compare, and a replay's check_held, run on the lock read's own
    task on the pool; the event loop parses nothing of the order."""

    def setUp(self):
        fd, self.loop_log = tempfile.mkstemp(prefix="loopparse.")
        os.close(fd)
        # the workers' user (nobody, under a root master) appends to it
        os.chmod(self.loop_log, 0o666)
        self.addCleanup(os.unlink, self.loop_log)
        with_slowparse(self, 20000, 0, super().setUp, self.loop_log)

    def nginx_with_keys(self):
        ngx = super().nginx_with_keys()
        write_conf = ngx.write_conf
        ngx.write_conf = lambda block: write_conf(block.replace(
            "order_edit_dispatch edits",
            "order_edit_curl parse_threshold=1;\n"
            "    order_edit_dispatch edits"))
        return ngx

    def seed_large(self):
        self.sim.seed_order(SO_EID, custbody_bulk="b" * 30000)

    def parsed_on_the_loop(self):
        with open(self.loop_log) as f:
            return [int(n) for n in f.read().split()]

    def test_the_folded_check_is_compared_on_the_pool(self):
        self.seed_large()
        self.sim.admin("POST", "faults", {"once": [
            {"fault": "drift", "method": "PATCH", "path": "salesOrder"}]})

        self.burst_of_two()

        exc = self.wait(self.exceptions, "the discrepancy")
        self.wait(lambda: self.shop()["acked"] == 1, "the second edit")
        self.assertEqual(exc[0]["webhook_id"], "f0")
        self.assertEqual(exc[0]["netsuite_error"], test_fold.DRIFT)
        self.assertEqual([m for m, _ in self.calls()],
                         ["GET", "PATCH", "GET", "PATCH", "GET"])
        self.assertEqual(self.parsed_on_the_loop(), [])

    def test_check_held_is_compared_on_the_pool(self):
        self.seed_large()
        self.drift_then_hang()
        self.post_at(20, "k0")
        self.kill_dispatcher_when_held("the read back, held")

        exc = self.wait(self.exceptions, "the discrepancy", timeout=30)
        self.assertEqual(exc[0]["webhook_id"], "k0")
        self.assertEqual(exc[0]["netsuite_error"], test_fold.DRIFT)
        self.assertEqual([m for m, _ in self.calls()],
                         ["GET", "PATCH", "GET", "GET"])
        self.assertEqual(self.parsed_on_the_loop(), [])


# FoldedReadback's own tests run once, in test_fold
for _name in unittest.TestLoader().getTestCaseNames(test_fold.FoldedReadback):
    if not _name.endswith("_on_the_pool"):
        setattr(FoldOnThePool, _name, None)


class ReportOnThePool(test_report.Report):
    """The mismatch report with every SuiteQL page parsed on the thread
    pool (parse_threshold=1): the same report, and the pages were parsed
    there."""

    def conf(self):
        self.ngx.extra_main = "error_log logs/debug.log debug;"
        return super().conf().replace(
            "order_edit_dispatch edits",
            "order_edit_curl parse_threshold=1;\n    order_edit_dispatch edits")

    def test_the_report_lists_exactly_the_seeded_differences(self):
        super().test_the_report_lists_exactly_the_seeded_differences()

        with open(os.path.join(self.ngx.dir, "logs", "debug.log")) as f:
            log = f.read()
        suiteql = re.findall(r'curl done \S+ "[^"]*/query/v1/suiteql\?limit='
                             r'[^"]*" outcome:0 status:200 code:0 '
                             r'body:(\d+)', log)
        self.assertTrue(suiteql, "no SuiteQL page was read")
        pooled = set(PARSED.findall(log))
        # each page's answer went to the pool
        self.assertTrue(set(suiteql) <= pooled, (suiteql, pooled))


class ReportOnTheBackgroundPool(ReportOnThePool):
    """The same with background_thread_pool=: the pages go to that pool,
    whose thread turned itself SCHED_IDLE; the event loop did not."""

    def conf(self):
        conf = super().conf().replace(
            "parse_threshold=1;",
            "parse_threshold=1 background_thread_pool=oe_bg;")
        self.ngx.extra_main += "\nthread_pool oe_bg threads=1;"
        return conf

    def test_the_report_lists_exactly_the_seeded_differences(self):
        super().test_the_report_lists_exactly_the_seeded_differences()

        idle, loops = [], []
        for pid in self.ngx.worker_pids():
            for tid in map(int, os.listdir("/proc/%d/task" % pid)):
                if os.sched_getscheduler(tid) == os.SCHED_IDLE:
                    idle.append(tid)
                if tid == pid:
                    loops.append(os.sched_getscheduler(tid))
        # the background pool's one thread: the pages' parses went there
        self.assertEqual(len(idle), 1, idle)
        self.assertNotIn(os.SCHED_IDLE, loops)


# the report's other tests run on the pool once, in ReportOnThePool
for _name in unittest.TestLoader().getTestCaseNames(test_report.Report):
    if _name != "test_the_report_lists_exactly_the_seeded_differences":
        setattr(ReportOnTheBackgroundPool, _name, None)


# the dispatch tests run once, in test_dispatch, with the default settings
for name in [n for n in dir(test_dispatch.Dispatch)
             if n.startswith("test_")]:
    for cls in (Inline, BelowTheThreshold, ReloadMidParse):
        setattr(cls, name, None)
