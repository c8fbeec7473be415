"""The client's own clock for the benches: a run that the machine
stalled (a VM paused for a snapshot) is told from one that nginx slowed.

On 2026-12-07 a bench/dispatch run measured 0.810 of the bound: NetSuite's
simulator got no request for 6.4 s.  The run's poller had slept through
those 6.4 s as well, and the kernel said "crng reseeded due to virtual
machine fork" at that second: the VM was paused, not the dispatcher.
"""

import threading
import time


class StallWatch(threading.Thread):
    """The client's own clock: wakes every tick and notes each wake-up
    late by `late` seconds or more, as (wall time it went to sleep,
    seconds lost).  Nothing else runs on this thread, and no answer of
    nginx or the simulator is waited for, so a late wake-up means this
    process was not run at all: the machine stalled (a VM paused for a
    snapshot, the host busy), nginx and the simulator with it.  Both
    clocks are read: a paused VM's wall clock jumps on resume while its
    monotonic clock may not, and the simulator's log is in wall time."""

    def __init__(self, tick=0.02, late=0.5):
        super().__init__(daemon=True)
        self.tick, self.late = tick, late
        self.stalls = []
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            w0, m0 = time.time(), time.monotonic()
            self.stop_ev.wait(self.tick)
            lost = max(time.time() - w0,
                       time.monotonic() - m0) - self.tick
            if lost >= self.late:
                self.stalls.append((w0, round(lost, 3)))

    def stop(self):
        self.stop_ev.set()
        self.join(5)


def stalled_in(stalls, first, last):
    """Seconds of the (start, seconds) stalls that fall in [first, last],
    and those stalls."""
    inside = [(s, d) for s, d in stalls if s + d > first and s < last]
    total = sum(min(s + d, last) - max(s, first) for s, d in inside)
    return total, inside
