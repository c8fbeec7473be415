"""The report's day's file is written on the thread pool (opened,
written, renamed, the files past keep removed, in one task): a reload
while that task is out (its rename slowed by build/slowparse.so) cuts
the old worker's run short without a crash, a leak or a double free;
the new worker redoes the run, and the day's file is whole, with
exactly the run's rows, and no temporary file is left."""

import glob
import json
import os
import re
import signal
import unittest

import shopmodel
import test_parse_pool
import test_report
from test_reconcile import SHOP

DISPATCHING = re.compile(r"\[notice\] (\d+)#\d+: order_edit: dispatching "
                         r"zone")


class WriteMidReload(test_report.ReportBase):

    def start_nginx(self):
        # no parse slowed; the day's file's rename 3 s late on its thread
        test_parse_pool.with_slowparse(self, 1 << 62, 0, super().start_nginx,
                                       rename_ms=3000)

    def reports(self, pattern):
        return glob.glob(os.path.join(self.ngx.dir, "reports", pattern))

    def test_a_reload_mid_write_redoes_the_run_whole(self):
        self.start_nginx()
        oids = [7301, 7302, 7303]
        for oid in oids:
            self.quiet_order(shopmodel.order(oid, 2))

        self.ask()
        # the rows written, the rename held up on the thread
        self.wait(lambda: self.reports("*.tmp"), "the file's write out", 20)
        self.assertEqual(self.runs_done(), 0)

        old = [int(p) for p in DISPATCHING.findall(self.ngx.error_log())]
        before = set(self.ngx.worker_pids())
        os.kill(self.ngx.master_pid(), 1)
        self.wait(lambda: set(self.ngx.worker_pids()) - before,
                  "new workers", 10)
        self.assertTrue(self.ngx.wait_gone(old, 20))

        log = self.ngx.error_log()
        self.assertIn('report of "%s" cut short' % SHOP, log)
        self.assertNotIn("exited on signal", log)

        # the new worker's run, whole
        self.wait(lambda: self.runs_done() == 1, "the run redone", 30)
        doc = json.loads(self.report("?shop=" + SHOP))
        self.assertEqual(sorted((r["order"], r["kind"], r["what"])
                                for r in doc["rows"]),
                         [(str(o), "missing_in_netsuite", "order")
                          for o in oids], doc)

        files = self.reports("report-*.jsonl")
        self.assertEqual(len(files), 1, files)
        with open(files[0]) as f:
            lines = [json.loads(l) for l in f.read().splitlines()]
        self.assertEqual([list(l) for l in lines[:1]], [["run"]], lines)
        self.assertEqual(lines[0]["run"]["missing_in_netsuite"], 3, lines)
        self.assertEqual(sorted(l["order"] for l in lines[1:]),
                         [str(o) for o in oids], lines)

        # the old worker's thread renamed its own file; nothing left
        self.wait(lambda: not self.reports("*.tmp"), "no temporary file",
                  10)
        self.assertNotIn("exited on signal", self.ngx.error_log())
        self.assertNotIn("[alert]", self.ngx.error_log())


class KilledMidRun(WriteMidReload):
    """The dispatching worker killed during a run (its day's file being
    written): no finish() put the run back as a reload's does, and the
    day's report (or the operator's ask) was lost until the next day's
    time, the status saying "running" meanwhile.  The worker that takes
    its place redoes it."""

    def test_a_killed_run_is_redone(self):
        self.start_nginx()
        oids = [7311, 7312]
        for oid in oids:
            self.quiet_order(shopmodel.order(oid, 2))

        self.ask()
        self.wait(lambda: self.reports("*.tmp"), "the file's write out", 20)
        self.assertEqual(self.runs_done(), 0)

        pid = int(DISPATCHING.findall(self.ngx.error_log())[-1])
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(self.ngx.wait_gone([pid]))

        self.wait(lambda: self.runs_done() == 1, "the run redone", 30)
        self.assertIn("a run its worker did not finish (killed) is done "
                      "again", self.ngx.error_log())
        doc = json.loads(self.report("?shop=" + SHOP))
        self.assertEqual(sorted((r["order"], r["kind"], r["what"])
                                for r in doc["rows"]),
                         [(str(o), "missing_in_netsuite", "order")
                          for o in oids], doc)


# the reload's test runs once, in its own class
for _name in unittest.TestLoader().getTestCaseNames(WriteMidReload):
    setattr(KilledMidRun, _name, None)


if __name__ == "__main__":
    unittest.main()
