#!/usr/bin/env python3
"""Where the time goes: perf profiles of nginx workers for the benches.

  perf_profile.py check
      prints "ok", or why perf cannot profile here (exit 1).  As root,
      a kernel.perf_event_paranoid that forbids it is lowered to 1 first.
  perf_profile.py record --pids P[,P] --seconds S --out FILE
      perf record -e cpu-clock -g of those processes for S seconds
      (run in the background around a measured run; cpu-clock because
      these VMs expose no hardware counters).
  perf_profile.py report FILE [--json OUT] [--top N] [--cpu-us US]
      perf report --stdio --no-children --sort dso,symbol, summarised:
      the share of each group (module, nginx, libcrypto, libc, kernel,
      other) and the top symbols.  With --cpu-us (the workers' CPU time
      per request) each share is also given in microseconds per request.

The benches import summarise() and table() to put the profile of each
configuration into their own output.
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PERF = os.environ.get("PERF", "/usr/bin/perf")
PARANOID = "/proc/sys/kernel/perf_event_paranoid"
GROUPS = ("module", "nginx", "libcrypto", "libc", "kernel", "other")
# always reported, in or out of the top: waiting for the zone's lock
# (nginx's shmtx spins, then yields) and the dedup lookup under it
WATCH = ("ngx_shmtx_lock", "sched_yield", "__sched_yield",
         "ngx_str_rbtree_lookup")

# "    12.34%  nginx   [.] ngx_http_parse_request_line"
LINE = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*?)\s*$")
HEX = re.compile(r"^0x[0-9a-f]+$")


def group_of(dso, kind):
    if kind == "k" or dso.startswith("[kernel") or dso == "[vdso]":
        return "kernel"
    if "order_edit" in dso:
        return "module"
    if dso == "nginx" or dso.endswith("/nginx"):
        return "nginx"
    if dso.startswith("libcrypto"):
        return "libcrypto"
    if dso.startswith("libc.so") or dso.startswith("libc-"):
        return "libc"
    return "other"


def check():
    """None when perf can profile a process here, else the reason."""
    if not os.access(PERF, os.X_OK):
        found = shutil.which("perf")
        if not found:
            return "perf not found (apt-get install linux-perf)"
        globals()["PERF"] = found

    def probe():
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([PERF, "record", "-q", "-e", "cpu-clock",
                                "-o", os.path.join(d, "p"), "--", "true"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            return p.returncode == 0, p.stderr.strip()

    ok, err = probe()
    if ok:
        return None
    try:
        level = open(PARANOID).read().strip()
    except OSError:
        level = "?"
    if os.geteuid() == 0 and level not in ("-1", "0", "1"):
        try:
            with open(PARANOID, "w") as f:
                f.write("1\n")
            sys.stderr.write("perf_profile: kernel.perf_event_paranoid "
                             "was %s, set to 1 to profile\n" % level)
            ok, err = probe()
            if ok:
                return None
        except OSError as e:
            err = "%s (and %s is not writable: %s)" % (err, PARANOID, e)
    return ("perf may not profile here (kernel.perf_event_paranoid=%s; "
            "as root, or with sysctl kernel.perf_event_paranoid=1): %s"
            % (level, err.splitlines()[-1] if err else "refused"))


def record_cmd(pids, seconds, out):
    """The command that profiles pids for seconds into out."""
    return [PERF, "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g",
            "-p", ",".join(str(p) for p in pids), "-o", out,
            "--", "sleep", str(seconds)]


def record_run_cmd(cmd, out):
    """The command that runs cmd under the same profile as record_cmd."""
    return [PERF, "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g",
            "-o", out, "--"] + list(cmd)


def summarise(path, top=12):
    """The profile in path, grouped: a dict ready for JSON, or None."""
    p = subprocess.run([PERF, "report", "-i", path, "--stdio",
                        "--no-children", "--sort", "dso,symbol",
                        "-g", "none", "--percent-limit", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1:] or "failed"}
    m = re.search(r"# Samples: (\S+)", p.stdout)
    samples = m.group(1) if m else "?"
    groups = collections.Counter()
    symbols = collections.Counter()
    unnamed = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), \
            m.group(4)
        sym = sym.split()[0] if sym else "?"
        g = group_of(dso, kind)
        groups[g] += pct
        if HEX.match(sym):
            # stripped code (libcrypto's SHA-256 among it): one line per
            # library, with the address range it covers
            a = int(sym, 16)
            lo, hi = unnamed.get(dso, (a, a))
            unnamed[dso] = (min(lo, a), max(hi, a))
            sym = "(unnamed code in %s)" % dso
        symbols[(g, sym)] += pct
    total = sum(groups.values())
    watch = {}
    for (g, sym), v in symbols.items():
        if sym in WATCH:
            watch[sym] = round(watch.get(sym, 0.0) + v, 2)
    return {
        "watch": watch,
        "samples": samples,
        "groups": {g: round(groups.get(g, 0.0), 2) for g in GROUPS},
        "top": [{"group": g, "symbol": s, "pct": round(v, 2)}
                for (g, s), v in symbols.most_common(top)],
        "unnamed_ranges": {d: "0x%x-0x%x" % r for d, r in unnamed.items()},
        "total_pct": round(total, 1),
        # every symbol by name, whichever program it ran in: two
        # profiles' symbols can be set against each other (diff())
        "symbols": by_name(symbols),
    }


def by_name(symbols, least=0.01):
    """{symbol: %} from {(group, symbol): %}, the smallest left out."""
    out = collections.Counter()
    for (_, sym), v in symbols.items():
        out[sym] += v
    return {s: round(v, 3) for s, v in out.items() if v >= least}


def diff(a, a_us, b, b_us, c, c_us):
    """Per symbol, in us per request: what profile a spends over b,
    against what c spends: [(symbol, a - b, c, a - b - c)], largest
    excess first.  Each profile's shares are scaled by the CPU per
    request given with it (the caller's choice: the profiled run's, or
    the same configuration's measured without perf)."""
    def us(prof, cpu):
        return {s: v / 100.0 * cpu
                for s, v in (prof.get("symbols") or {}).items()}
    ua, ub, uc = us(a, a_us), us(b, b_us), us(c, c_us)
    rows = []
    for s in set(ua) | set(ub) | set(uc):
        d = ua.get(s, 0.0) - ub.get(s, 0.0)
        rows.append((s, d, uc.get(s, 0.0), d - uc.get(s, 0.0)))
    rows.sort(key=lambda r: -r[3])
    return rows


def table(name, prof, cpu_us=None, indent="  "):
    """Lines: "where the time goes" for one configuration."""
    if prof is None:
        return [indent + "%s: no profile" % name]
    if "error" in prof:
        return [indent + "%s: perf report failed: %s" % (name,
                                                          prof["error"])]
    out = [indent + "%s (%s samples, cpu-clock%s)" % (
        name, prof["samples"],
        "; %.1f us of worker CPU per request" % cpu_us if cpu_us else "")]
    head = "%-10s %6s" % ("group", "%")
    if cpu_us:
        head += " %8s" % "us/req"
    out.append(indent + "  " + head)
    for g in GROUPS:
        v = prof["groups"].get(g, 0.0)
        if not v:
            continue
        line = "%-10s %6.1f" % (g, v)
        if cpu_us:
            line += " %8.1f" % (v / 100.0 * cpu_us)
        out.append(indent + "  " + line)
    out.append(indent + "  top symbols:")
    for t in prof["top"]:
        out.append(indent + "    %5.1f%%  %-9s %s" % (t["pct"], t["group"],
                                                    t["symbol"]))
    for d, r in sorted(prof.get("unnamed_ranges", {}).items()):
        out.append(indent + "    (unnamed code in %s: addresses %s)" % (d, r))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check")
    r = sub.add_parser("record")
    r.add_argument("--pids", required=True)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--out", required=True)
    s = sub.add_parser("report")
    s.add_argument("file")
    s.add_argument("--json")
    s.add_argument("--top", type=int, default=12)
    s.add_argument("--cpu-us", type=float)
    s.add_argument("--name", default="profile")
    a = ap.parse_args()
    if a.cmd == "check":
        why = check()
        print(why or "ok")
        return 1 if why else 0
    if a.cmd == "record":
        pids = [p for p in a.pids.split(",") if p]
        os.execv(PERF, record_cmd(pids, a.seconds, a.out))
    prof = summarise(a.file, a.top)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(prof, f)
    print("\n".join(table(a.name, prof, a.cpu_us)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
