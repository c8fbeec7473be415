#!/usr/bin/env python3
"""Summarise a bench/ingest run: per-config table, ratios, validity.

  summarise.py bench/results/ingest-YYYYmmdd-HHMMSS.jsonl

Reads the JSON lines run.sh wrote (one per measured run), prints the table
(the module steady and cold, the baseline, njs; each worker count), the
ratios (from the median req/s of each, plus the per-round ratios to show
the spread): module against its physical bound (the baseline plus one
HMAC of the body), against the baseline and njs, 2 workers against 1;
then "where the time goes" (the perf profile of each configuration, in
microseconds of worker CPU per request, and the module's remainder over
the floor), and writes the same numbers next to the input as
.summary.json.

Exit status 1 when a run is not a valid measurement: non-2xx answers or
socket errors reported by wrk, alerts or crashes in the error log, or (for
the module) status counters over the measured run showing rejections or
fewer queued items than requests made.
"""

import json
import os
import pathlib
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import perf_profile  # noqa: E402

BOUND_AIM = 0.9         # issue 17: steady state within 0.9 of the bound
SCALING_AIM = 1.8       # issue 17: 2 workers >= 1.8 x one
COUNTERS = ("received", "queued", "queue_full", "rate_limited", "duplicate",
            "rejected_signature", "rejected_request", "ignored")


def find_store(obj, shop):
    """The per-store counters for shop, wherever the status JSON puts them."""
    if isinstance(obj, dict):
        if obj.get("shop") == shop or obj.get("name") == shop:
            return obj
        if shop in obj and isinstance(obj[shop], dict):
            return obj[shop]
        for v in obj.values():
            found = find_store(v, shop)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = find_store(v, shop)
            if found is not None:
                return found
    return None


def delta(after, before, shop):
    """The store's counters over the measured run (after - before)."""
    a = find_store(after, shop) if after else None
    if a is None:
        return None
    b = (find_store(before, shop) if before else None) or {}
    return {k: (a.get(k) or 0) - (b.get(k) or 0) for k in COUNTERS}


def problems(run, shop="bench.myshopify.com"):
    w = run["wrk"]
    out = []
    if w["err_status"]:
        out.append("%d non-2xx answers" % w["err_status"])
    socket = w["err_connect"] + w["err_read"] + w["err_write"] + \
        w["err_timeout"]
    if socket:
        out.append("%d socket errors/timeouts" % socket)
    if not run.get("log_ok", True):
        out.append("alert/crit/crash lines in error.log")
    if run.get("base", run["config"]) == "module":
        st = run.get("status")
        if not st or "_error" in st:
            out.append("status output unavailable: %s"
                       % (st or {}).get("_error", "none"))
            return out
        d = delta(st, run.get("status_before"), shop)
        if d is None:
            out.append("status output has no store %s" % shop)
            return out
        for k in COUNTERS[2:]:
            if d[k]:
                out.append("status %s=%s over the run%s" % (
                    k, d[k], " (the zone is too small for the steady run:"
                    " --zone)" if k == "queue_full" else ""))
        if d["queued"] < w["requests"]:
            out.append("queued %s < %d requests" % (d["queued"],
                                                    w["requests"]))
    return out


def label_order(label):
    base, _, w = label.partition("@")
    order = ["module", "module-cold", "baseline", "njs"]
    return (int(w.rstrip("w") or 1),
            order.index(base) if base in order else 9, label)


def median_run(runs):
    """The run with the median req/s (the profile shown for a label)."""
    runs = sorted(runs, key=lambda r: r["wrk"]["rps"])
    return runs[(len(runs) - 1) // 2]


def cpu_us(run, clk_tck):
    t = run.get("worker_cpu_ticks")
    n = run["wrk"]["requests"]
    if not t or not n:
        return None
    return t / float(clk_tck) / n * 1e6


def main():
    path = pathlib.Path(sys.argv[1])
    lines = [json.loads(l) for l in path.read_text().splitlines()
             if l.strip()]
    meta = next((l["meta"] for l in lines if "meta" in l), {})
    runs = [l for l in lines if "meta" not in l]
    if not runs:
        sys.exit("no runs in %s" % path)
    clk = meta.get("clk_tck", 100)
    labels = sorted({r["config"] for r in runs}, key=label_order)
    rounds = sorted({r["round"] for r in runs})
    by = {(r["config"], r["round"]): r for r in runs}

    summary = {"source": str(path), "body_bytes": runs[0]["body_bytes"],
               "zone": runs[0].get("zone"), "machine": meta.get("machine"),
               "cpus": meta.get("cpus"), "configs": {}, "ratios": {},
               "profiles": {}, "invalid": []}
    hdr = "%-16s" % "config" + "".join("%10s" % ("round %d" % n)
                                       for n in rounds)
    hdr += "%11s%8s%8s%8s%8s%7s" % ("median r/s", "p99 ms", "p99 max",
                                    "flt/req", "cpu us", "busy%")
    print()
    print(hdr)
    print("-" * len(hdr))
    for c in labels:
        mine = [by[(c, n)] for n in rounds if (c, n) in by]
        rps = [r["wrk"]["rps"] for r in mine]
        p99 = [r["wrk"]["lat_p99_us"] / 1000.0 for r in mine]
        line = "%-16s" % c
        for n in rounds:
            line += "%10.0f" % by[(c, n)]["wrk"]["rps"] if (c, n) in by \
                else "%10s" % "-"
        fpr = [r.get("worker_minor_faults", 0) / max(r["wrk"]["requests"], 1)
               for r in mine]
        cpus = [x for x in (cpu_us(r, clk) for r in mine) if x]
        # how busy the workers were: below ~90% they waited (for the
        # client, or for a CPU that other work on the machine held)
        busy = [r["wrk"]["rps"] * cpu_us(r, clk) / 1e4
                / max(r.get("workers", 1), 1) for r in mine
                if cpu_us(r, clk)]
        line += "%11.0f%8.2f%8.2f%8.2f%8s%7s" % (
            statistics.median(rps), statistics.median(p99), max(p99),
            statistics.median(fpr),
            "%.1f" % statistics.median(cpus) if cpus else "-",
            "%.0f" % statistics.median(busy) if busy else "-")
        print(line)
        summary["configs"][c] = {
            "rps": rps, "p99_ms": p99, "faults_per_request": fpr,
            "median_rps": statistics.median(rps),
            "median_p99_ms": statistics.median(p99),
            "cpu_us_per_request": statistics.median(cpus) if cpus else None,
            "busy_pct": statistics.median(busy) if busy else None,
            "state": mine[0].get("state"), "workers": mine[0].get("workers"),
            "filled": [r.get("filled") for r in mine if r.get("filled")]}
        for r in mine:
            for p in problems(r):
                summary["invalid"].append("%s round %d: %s"
                                          % (c, r["round"], p))
    print("(module: steady state, the zone filled and drained before;"
          " module-cold: a fresh zone;\n cpu us: the workers' CPU time per"
          " request; busy%: of the workers' CPUs, r/s x cpu us)")
    print()

    med = {c: summary["configs"][c]["median_rps"] for c in labels}

    def ratio(name, a, b, aim=None, aim_text=None, note=""):
        if a not in med or b not in med:
            return None
        r = med[a] / med[b]
        per = ["%.2f" % (by[(a, n)]["wrk"]["rps"] / by[(b, n)]["wrk"]["rps"])
               for n in rounds if (a, n) in by and (b, n) in by]
        verdict = ""
        if aim is not None:
            verdict = "aim %s: %s; " % (aim_text or ">= %.2f" % aim,
                                        "met" if r >= aim else "MISSED")
        print("%-22s %5.2f   (%sper round: %s)%s"
              % (name, r, verdict, " ".join(per), note))
        summary["ratios"][name] = {"median": r, "aim": aim,
                                   "per_round": [float(x) for x in per]}
        return r

    hmac_us = meta.get("hmac_us")
    workers = sorted({r.get("workers", 1) for r in runs})
    for w in workers:
        sfx = "" if w == 1 else "@%dw" % w
        if len(workers) > 1:
            print("%d worker%s:" % (w, "s" if w > 1 else ""))
        base = "baseline" + sfx
        bcpu = summary["configs"].get(base, {}).get("cpu_us_per_request")
        if hmac_us and bcpu:
            # the bound in CPU time: what the module's worker spends per
            # webhook against nginx's own work on it plus one HMAC; immune
            # to a client or a machine that keeps the workers from being
            # busy, so the aim is judged on it
            floor_us = bcpu + hmac_us
            print("%-22s %5.1f us of worker CPU per request (baseline %.1f"
                  " + one HMAC %.1f)" % ("floor" + sfx, floor_us, bcpu,
                                         hmac_us))
            for m, aim, note in (("module", BOUND_AIM, "steady state"),
                                 ("module-cold", None, "COLD: fresh zone")):
                mcpu = summary["configs"].get(m + sfx, {}).get(
                    "cpu_us_per_request")
                if not mcpu:
                    continue
                r = floor_us / mcpu
                print("%-22s %5.2f   (%s%.1f us per request)  %s" % (
                    "%s%s cpu floor/used" % (m, sfx), r,
                    "aim >= %.2f: %s; " % (aim, "met" if r >= aim
                                           else "MISSED") if aim else "",
                    mcpu, note))
                summary["ratios"]["%s%s cpu floor/used" % (m, sfx)] = {
                    "median": r, "aim": aim}
                if meta.get("copy_us") and m == "module":
                    # the floor of issue 17's remainder: one HMAC, one
                    # copy (into the queue), and nginx's own work
                    fc = floor_us + meta["copy_us"]
                    print("%-22s %5.2f   (floor with one copy of the body,"
                          " %.1f us: %.1f)" % ("  with the copy", fc / mcpu,
                                               meta["copy_us"], fc))
                    summary["ratios"]["module%s cpu floor+copy/used"
                                      % sfx] = {"median": fc / mcpu}
        if hmac_us and base in med:
            # the physical bound: nginx receiving the body, plus one HMAC
            # of it, with the worker's CPUs fully busy
            base_us = 1e6 / med[base] * w
            bound = 1e6 / (base_us + hmac_us) * w
            med["bound" + sfx] = bound
            by.update({("bound" + sfx, n): {"wrk": {
                "rps": 1e6 / (1e6 / by[(base, n)]["wrk"]["rps"] * w
                              + hmac_us) * w}}
                for n in rounds if (base, n) in by})
            print("%-22s %5.0f r/s (baseline %.1f us + one HMAC %.1f us per"
                  " request per worker)" % ("physical bound" + sfx, bound,
                                             base_us, hmac_us))
            ratio("module%s/bound" % sfx, "module" + sfx, "bound" + sfx,
                  None, None, "  steady state, throughput")
            ratio("module-cold%s/bound" % sfx, "module-cold" + sfx,
                  "bound" + sfx, None, None, "  COLD: fresh zone")
        ratio("module%s/baseline" % sfx, "module" + sfx, base)
        ratio("module-cold%s/baseline" % sfx, "module-cold" + sfx, base)
        ratio("module%s/njs" % sfx, "module" + sfx, "njs" + sfx, 1.0,
              "> 1 (#17; #2 asked 3)")
        ratio("njs%s/baseline" % sfx, "njs" + sfx, base,
              note="  (what the njs HMAC check costs)")
        if len(workers) > 1:
            print()
    for w in workers:
        if w == 1:
            continue
        sfx = "@%dw" % w
        print("%d workers against 1 (aim >= %.1f for the module):" %
              (w, SCALING_AIM if w == 2 else 0.9 * w))
        m = ratio("module %d/1" % w, "module" + sfx, "module",
                  SCALING_AIM if w == 2 else 0.9 * w)
        b = ratio("baseline %d/1" % w, "baseline" + sfx, "baseline")
        ratio("module-cold %d/1" % w, "module-cold" + sfx, "module-cold")
        if m and b:
            print("%-22s %5.2f   (the module's scaling over what nginx alone"
                  " scales to here)" % ("module/baseline scaling", m / b))
            summary["ratios"]["scaling_vs_baseline_%dw" % w] = m / b
        spin = []
        for lab in ("module", "module" + sfx):
            mine = [by[(lab, n)] for n in rounds if (lab, n) in by]
            prof = median_run(mine).get("perf") if mine else None
            if prof and "watch" in prof:
                spin.append("%.2f%% with %s" % (
                    sum(v for k, v in prof["watch"].items()
                        if k != "ngx_str_rbtree_lookup"), lab))
        if spin:
            print("  waiting for the zone's lock (ngx_shmtx_lock +"
                  " sched_yield, share of the workers' CPU): %s"
                  % ", ".join(spin))
        if meta.get("cpus", 0) <= w:
            print("  note: %d CPUs for %d workers and wrk: the second worker"
                  " shares a CPU with wrk,\n  so the baseline's own scaling"
                  " is the most this machine can show" %
                  (meta.get("cpus", 0), w))
        print()

    # where the time goes
    print("\nwhere the time goes (perf, workers only, the median round's"
          " run):")
    if meta.get("perf") not in (None, "ok"):
        print("  no profiles: %s" % meta["perf"])
    for c in labels:
        mine = [by[(c, n)] for n in rounds if (c, n) in by]
        r = median_run(mine)
        prof = r.get("perf")
        if not prof:
            if meta.get("perf") == "ok":
                print("  %s: no profile (perf record failed)" % c)
            continue
        summary["profiles"][c] = prof
        print("\n".join(perf_profile.table(c, prof, cpu_us(r, clk))))
    floor = floor_table(summary, hmac_us)
    if floor:
        print()
        print("\n".join(floor))

    out = path.with_suffix(".summary.json")
    out.write_text(json.dumps(summary, indent=2) + "\n")
    if summary["invalid"]:
        print("\nNOT A VALID MEASUREMENT:")
        for p in summary["invalid"]:
            print("  " + p)
        print("summary: %s" % out)
        return 1
    print("\nsummary: %s" % out)
    return 0


def floor_table(summary, hmac_us):
    """The module's steady-state CPU per request against the floor (the
    baseline's own work, one HMAC of the body), group by group."""
    cf, pr = summary["configs"], summary["profiles"]
    out = []
    for m in ("module", "module-cold"):
        if m not in pr or "baseline" not in pr or not hmac_us:
            continue
        mu, bu = cf[m]["cpu_us_per_request"], \
            cf["baseline"]["cpu_us_per_request"]
        if not mu or not bu:
            continue
        out.append("%s against the floor (us of worker CPU per request;"
                   " floor = baseline + one HMAC %.1f us):" % (m, hmac_us))
        out.append("  %-10s %8s %8s %8s" % ("group", m, "baseline",
                                            "over"))
        rows = {}
        for g in perf_profile.GROUPS:
            a = pr[m]["groups"].get(g, 0) / 100.0 * mu
            b = pr["baseline"]["groups"].get(g, 0) / 100.0 * bu
            rows[g] = a - b
            if a or b:
                out.append("  %-10s %8.1f %8.1f %+8.1f" % (g, a, b, a - b))
        out.append("  %-10s %8.1f %8.1f %+8.1f   (floor %.1f: remainder"
                   " over the floor %+.1f us, %.0f%% of the module's time)"
                   % ("total", mu, bu, mu - bu, bu + hmac_us,
                      mu - bu - hmac_us, (mu - bu - hmac_us) / mu * 100))
        summary.setdefault("floor", {})[m] = {
            "module_us": mu, "baseline_us": bu, "hmac_us": hmac_us,
            "remainder_us": mu - bu - hmac_us, "over_by_group": rows}
    return out


if __name__ == "__main__":
    sys.exit(main())
