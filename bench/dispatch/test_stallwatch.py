"""bench/dispatch/stallwatch.py: a process the machine does not run (here
stopped with SIGSTOP, as a VM paused for a snapshot stops all of them) is
told by its clock watch, once per stall; one that runs is told nothing.

    python3 -m unittest discover -s bench/dispatch -p 'test_*.py'
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

from stallwatch import stalled_in

HERE = os.path.dirname(os.path.abspath(__file__))

# the watch in a process of its own, its stalls printed when stdin closes
CHILD = """
import json, sys
sys.path.insert(0, %r)
from stallwatch import StallWatch
w = StallWatch()
w.start()
print("up", flush=True)
sys.stdin.read()
w.stop()
print(json.dumps(w.stalls), flush=True)
""" % HERE


def watch_child(stops):
    """Run the watch in a child, stopped `stops` times for 1.5 s each
    (0.5 s apart); its stalls."""
    p = subprocess.Popen([sys.executable, "-c", CHILD],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "up"
        time.sleep(0.5)
        for _ in range(stops):
            os.kill(p.pid, signal.SIGSTOP)
            time.sleep(1.5)
            os.kill(p.pid, signal.SIGCONT)
            time.sleep(0.5)
        out, _ = p.communicate("", timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return json.loads(out)


class StallWatchTest(unittest.TestCase):

    def test_each_stop_is_one_stall(self):
        self.assertEqual(len(watch_child(2)), 2)

    def test_a_process_run_has_none(self):
        self.assertEqual(watch_child(0), [])

    def test_stalled_in_counts_what_is_in_the_window(self):
        # the 0.810 run: 1.37 s and 6.42 s, and one before the window
        stalls = [(5.0, 1.0), (41.93, 1.37), (53.39, 6.42)]
        total, inside = stalled_in(stalls, 10.0, 56.0)
        self.assertEqual(inside, stalls[1:])
        # the second clipped at the window's end
        self.assertAlmostEqual(total, 1.37 + (56.0 - 53.39))


if __name__ == "__main__":
    unittest.main()
