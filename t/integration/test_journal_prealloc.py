"""Preallocated journal segments: the next segment's file is zero-filled
and fdatasynced on the thread pool while the current one fills ("<name>
.jnl.zero" while it is filled, then a spare "<name>.jnl.free"), so that
no worker writes into a fresh file on the hot path.  A spare that cannot
be made (a full disk) is no error for ingest; a spare left half-filled by
a process killed meanwhile, or a zero-filled file that became a segment
whose first record never reached the disk, never replays anything.

Every test runs through the fault injector (build/jfault.so): its faults
may name the spare only ("pwritev=ENOSPC@.zero"), and "pwritev=SLOW:ms"
makes the fill slow enough to kill nginx in the middle of it.
"""

import glob
import os
import time
import unittest

from test_journal_faults import FaultBase, HTTP as FAULTS_HTTP

# test_journal_faults' server, its segments of 128k (max_size / 8) and
# spares of 192k
HTTP = FAULTS_HTTP.replace("__FSYNC__", "batch").replace(
    "__JOURNAL__", "batch_window=1ms max_size=1m")

# a dead generation's names: no lock file, so nobody alive owns them
DEAD = "edits-00000000000000ab-"


class PreallocBase(FaultBase):

    faults = ""

    def tmpfs(self):
        return False

    def server(self):
        # the faults are in place before the master forks its workers
        self.fault(self.faults)
        ngx = super().server()
        ngx.write_conf(HTTP.replace("__DIR__", self.dir))
        return ngx

    def files(self, suffix):
        return sorted(glob.glob(os.path.join(self.dir, "edits-*" + suffix)))

    def wait_for(self, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = what()
            if v:
                return v
            time.sleep(0.05)
        return what()

    def post_all(self, first, n, pad=4000):
        ids = []
        for i in range(first, first + n):
            wid = "pre-%d" % i
            status, answer = self.post(i, wid, pad)
            self.assertEqual(status, 200, answer)
            ids.append(wid)
        return ids

    def replayed_clean(self, ids):
        j = self.journal()
        self.assertEqual(self.queued_ids(), sorted(ids))
        self.assertEqual((j["corrupt"], j["torn"], j["errors"]), (0, 0, 0), j)
        self.assertEqual(self.files(".bad"), [])
        # a spare of this nginx may be being filled: it is not left so
        self.assertTrue(self.wait_for(lambda: not self.files(".zero")),
                        self.files(".zero"))


class SpareAheadTest(PreallocBase, unittest.TestCase):

    def test_a_spare_is_ready_at_start_and_the_next_segment_takes_it(self):
        j = self.wait_for(lambda: self.journal()["spare_files"] >= 1
                          and self.journal())
        self.assertTrue(j, "no spare made at start: %r" % self.journal())
        self.assertGreaterEqual(j["preallocated_segments"], 1)
        _, _, prom = self.ngx.request("GET", "/status?format=prometheus")
        self.assertRegex(prom.decode(), r'order_edit_journal_events_total'
                         r'\{zone="edits",event="preallocated"\} [1-9]')
        free = self.files(".jnl.free")
        self.assertEqual(len(free), 1, free)
        # zero-filled past the segment size, and on disk
        self.assertEqual(os.path.getsize(free[0]), 192 * 1024)
        with open(free[0], "rb") as f:
            self.assertEqual(f.read(), b"\0" * 192 * 1024)

        # 60 records of ~4.6k, two rotations: the segments are spares,
        # although nothing was ever settled to recycle
        ids = self.post_all(0, 60)
        j = self.journal()
        self.assertGreaterEqual(j["recycled_segments"], 1, j)
        self.assertEqual(j["errors"], 0, j)
        self.assertNotIn("cannot preallocate", self.ngx.error_log())

        # and the records in it replay, the zeros past them do not
        self.restart()
        self.replayed_clean(ids)


class KilledWhileFillingTest(PreallocBase, unittest.TestCase):

    # about 3 s for the spare's single 192k write
    faults = "pwritev=SLOW:3000@.zero\n"

    def test_kill_9_while_a_spare_is_filled_leaves_nothing_to_replay(self):
        zero = self.wait_for(lambda: self.files(".zero"))
        self.assertEqual(len(zero), 1, "no spare being filled: %r"
                         % os.listdir(self.dir))
        ids = self.post_all(0, 20)

        self.ngx.kill_all()
        self.assertTrue(os.path.exists(zero[0]))

        self.fault("")
        self.restart()

        # the master removed the half-filled file; a new spare follows
        self.assertFalse(os.path.exists(zero[0]))
        self.replayed_clean(ids)
        j = self.wait_for(lambda: self.journal()["spare_files"] >= 1
                          and self.journal())
        self.assertTrue(j, self.journal())

        # nothing of it comes back at the next start either
        ids += self.post_all(20, 40)
        self.restart()
        self.replayed_clean(ids)


class HalfFilledSpareTest(PreallocBase, unittest.TestCase):

    def test_half_filled_spares_and_a_zeroed_segment_replay_nothing(self):
        ids = self.post_all(0, 10)
        self.ngx.kill_all()

        # a dead maker's half-filled spare
        with open(os.path.join(self.dir, DEAD + "00000007.jnl.zero"),
                  "wb") as f:
            f.write(b"\0" * 65536)
        # a spare that became a segment whose first record a power cut
        # lost: its name is a segment's, its content still zeros
        with open(os.path.join(self.dir, DEAD + "00000008.jnl"), "wb") as f:
            f.write(b"\0" * 192 * 1024)
        # and a short one: a segment's first 8 bytes and no more
        with open(os.path.join(self.dir, DEAD + "00000009.jnl"), "wb") as f:
            f.write(b"\0" * 8)

        self.restart()

        self.replayed_clean(ids)
        self.assertFalse(os.path.exists(
            os.path.join(self.dir, DEAD + "00000008.jnl")))
        self.assertFalse(os.path.exists(
            os.path.join(self.dir, DEAD + "00000009.jnl")))
        self.assertNotIn(".bad", self.ngx.error_log())


class SpareOnFullDiskTest(PreallocBase, unittest.TestCase):

    faults = "pwritev=ENOSPC@.zero\n"

    def test_enospc_on_the_spare_is_no_error_for_ingest(self):
        self.wait_for(lambda: self.journal()["preallocate_errors"] >= 1)

        # three rotations: each tries a spare again, and goes on without
        ids = self.post_all(0, 100)
        j = self.journal()
        self.assertGreaterEqual(j["preallocate_errors"], 3, j)
        self.assertEqual((j["errors"], j["spare_files"],
                          j["preallocated_segments"]), (0, 0, 0), j)
        self.assertEqual(self.files(".zero"), [])
        self.assertEqual(
            self.ngx.error_log().count("cannot preallocate a journal "
                                       "segment"), 1, self.ngx.error_log())

        # room again: the next rotation makes one, and it is taken
        self.fault("")
        ids += self.post_all(100, 60)
        j = self.wait_for(lambda: self.journal()["preallocated_segments"] >= 1
                          and self.journal())
        self.assertTrue(j, self.journal())
        ids += self.post_all(160, 60)
        self.assertGreaterEqual(self.journal()["recycled_segments"], 1)

        self.restart()
        self.replayed_clean(ids)


if __name__ == "__main__":
    unittest.main()
