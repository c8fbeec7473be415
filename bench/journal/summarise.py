#!/usr/bin/env python3
"""Summarise a bench/journal run: bench/journal/summarise.py RESULTS.jsonl

Prints, per state (steady: the zone filled and drained before; cold: a
fresh zone and journal) and concurrency, the table of req/s per round,
median req/s, the ratio to nojournal, latency, the worker's CPU (and per
request) and the journal's counters; the ratios with their per-round
spread; the aim (batch >= 0.7 of nojournal with p99 < 10 ms, judged in
the steady state at the first concurrency); whether every answer was 200
queued; where the time goes (the perf profile of each configuration).
Writes RESULTS.summary.json and RESULTS.txt (the same text). Exit status
1 when a run was not valid.
"""

import io
import json
import os
import pathlib
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import perf_profile  # noqa: E402

ORDER = ("nojournal", "off", "batch", "always")
AIM_RATIO = 0.7
AIM_P99_MS = 10.0


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-q * len(v) // 100)) - 1))
    return v[k]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec, width):
    return ("%" + str(width) + "s") % "-" if v is None else \
        ("%" + str(width) + spec) % v


def above_floor(p, summary, floors, floor, conns, top=12):
    """batch's cost over no journal set against floor.c's batch, symbol
    by symbol: where the module spends more than a journal's floor, and
    whether any one thing stands out.  The shares come from the
    profiles; each is scaled to its configuration's CPU measured without
    perf (the figures floor/used compares), because perf costs nginx's
    runs more than floor.c's (its work at each context switch lands in
    finish_task_switch), and the profiled runs' own totals would
    overstate the difference."""
    fp = [f for f in floors if f.get("batch_perf") and
          "symbols" in f["batch_perf"]]
    prof = summary["profiles"]
    sc = (summary["by_state"].get("steady") or {}).get(str(conns)) or {}
    us = {cfg: (sc.get("configs", {}).get(cfg) or {}).get(
        "worker_cpu_us_per_request") for cfg in ("batch", "nojournal")}
    b, n = ("%s c=%s steady" % (cfg, conns) for cfg in ("batch",
                                                         "nojournal"))
    fu = ((floor or {}).get("batch") or {}).get("cpu_us_per_record")
    if not fp or b not in prof or n not in prof or not fu \
            or not us["batch"] or not us["nojournal"] \
            or "symbols" not in prof[b][0]:
        return
    f = sorted(fp, key=lambda f: f.get("batch_perf_us") or 0)[
        (len(fp) - 1) // 2]
    bu, nu = us["batch"], us["nojournal"]
    rows = perf_profile.diff(prof[b][0], bu, prof[n][0], nu,
                             f["batch_perf"], fu)
    p()
    p("batch above its floor, by symbol (us a request: each profile's "
      "shares of the CPU measured without perf):")
    p("  batch %.1f - nojournal %.1f = %.1f us; floor.c batch %.1f a record;"
      " above the floor %.1f us" % (bu, nu, bu - nu, fu, bu - nu - fu))
    p("    %-44s %9s %7s %7s" % ("symbol", "batch-noj", "floor", "above"))
    for s, d, c, e in rows[:top]:
        p("    %-44s %9.2f %7.2f %+7.2f" % (s[:44], d, c, e))
    rest = rows[top:]
    if rest:
        p("    the other %d symbols: %+.2f us in all, none above %+.2f"
          % (len(rest), sum(r[3] for r in rest), rest[0][3]))
    p("  (finish_task_switch holds perf's own work at each context switch "
      "too,\n   more of it in nginx's profiled runs than in floor.c's)")
    summary["above_floor"] = {
        "batch_us": bu, "nojournal_us": nu, "floor_us": fu,
        "above_us": round(bu - nu - fu, 2),
        "top": [{"symbol": s, "batch_minus_nojournal": round(d, 3),
                 "floor": round(c, 3), "above": round(e, 3)}
                for s, d, c, e in rows[:top]]}


def main(argv):
    path = pathlib.Path(argv[0])
    lines = [json.loads(l) for l in path.read_text().splitlines()
             if l.strip()]
    meta = next((l["meta"] for l in lines if "meta" in l), {})
    changed = any(l.get("module_changed") for l in lines)
    runs = [l for l in lines if "meta" not in l and l.get("config")]
    if not runs:
        sys.exit("no runs in %s" % path)
    out = io.StringIO()

    def p(s=""):
        out.write(s + "\n")

    conns = [c for c in meta.get("connections", [])
             if any(r["connections"] == c for r in runs)] or \
        sorted({r["connections"] for r in runs})
    configs = [c for c in ORDER if any(r["config"] == c for r in runs)]
    rounds = sorted({r["round"] for r in runs})
    for r in runs:
        r.setdefault("state", "cold")   # runs before the steady state
    states = [s for s in ("steady", "cold")
              if any(r["state"] == s for r in runs)]

    fs = meta.get("filesystem", {})
    probe = meta.get("fsync_probe")
    # floor.c's runs, one a round: their medians, and each round's own
    floors = [l["floor"] for l in lines if "floor" in l]
    floor_by_round = {f.get("round"): f for f in floors}
    floor = None
    floor_conns = floors[0].get("connections") if floors else None
    if floors:
        floor = {}
        for mode in ("off", "batch"):
            fs_ = [f[mode] for f in floors if mode in f]
            if fs_:
                floor[mode] = dict(sorted(
                    fs_, key=lambda x: x["cpu_us_per_record"])[
                        (len(fs_) - 1) // 2])
                floor[mode]["per_round_us"] = [x["cpu_us_per_record"]
                                               for x in fs_]
    summary = {"source": str(path), "meta": meta, "by_connections": {},
               "by_state": {}, "aim": None, "invalid": [], "profiles": {}}

    p()
    p("journal on %s: %s %s (%s), block device %s, rotational=%s, "
      "write cache: %s" % (fs.get("mount"), fs.get("source"),
                           fs.get("fstype"), fs.get("options"),
                           fs.get("block"), fs.get("rotational"),
                           fs.get("write_cache")))
    if probe:
        p("disk alone: fdatasync after one record-sized append: p50 %.0f us,"
          " p99 %.0f us, max %.0f us (%d samples)" % (
              probe["p50_us"], probe["p99_us"], probe["max_us"],
              probe["n"]))
        if probe.get("append"):
            p("            a record-sized append to the page cache, no "
              "fsync: %.1f us" % probe["append"]["us_per_append"])
        if probe.get("overwrite"):
            p("            the same written over a file written and synced "
              "before (a recycled segment): %.1f us"
              % probe["overwrite"]["us_per_write"])
    if floor and floor.get("off") and floor.get("batch"):
        fo, fb = floor.get("off"), floor.get("batch")
        p("floor (floor.c, no nginx%s): the module's record "
          "encoder and one pwritev a record\n            over a recycled "
          "file: %.2f us of CPU a record; batch: one pwritev and one "
          "fdatasync a\n            window (on a thread), %.1f records a "
          "fsync as the batch runs: %.2f us\n            (an fdatasync: "
          "%.0f us, %.0f us of "
          "its thread's CPU); medians of %d runs, one a round\n"
          "            (batch per round: %s us)"
          % (", pinned as nginx" if meta.get("pinned") else "",
             fo["cpu_us_per_record"], fb["records_per_fsync"],
             fb["cpu_us_per_record"], fb["fsync_us_mean"],
             fb.get("sync_thread_us_per_fsync", 0), len(floors),
             " ".join("%.2f" % x for x in fb["per_round_us"])))
        summary["floor"] = floor
    p("cpu%: the worker's event loop (main thread) during the measured "
      "run; the fsyncs run on its thread pool;\nus/req: the worker's CPU "
      "time (all threads) per request")
    for r in runs:
        if r.get("prepared"):
            pr = r["prepared"]
            p("%s %s round %d: zone filled with %d webhooks, drained in "
              "%.1f s; journal after the drain: %d files, %.0f MB" % (
                  r["config"], r["state"], r["round"], pr["filled"],
                  pr["drain"]["seconds"], pr["journal_files_after_drain"],
                  pr["journal_bytes_after_drain"] / 2 ** 20))

    for state, c in [(s, c) for s in states for c in conns]:
        by = {(r["config"], r["connections"], r["round"]): r for r in runs
              if r["state"] == state}
        if not any(k[1] == c for k in by):
            continue
        sc = {"configs": {}, "ratios": {}}
        summary["by_state"].setdefault(state, {})[str(c)] = sc
        if state == states[0]:
            summary["by_connections"][str(c)] = sc
        p()
        hdr = "%-13s" % ("c=%d %s" % (c, state if state == "steady"
                                      else "COLD")) + \
            "".join("%9s" % ("round %d" % n) for n in rounds)
        hdr += "%11s%7s%8s%8s%8s%6s%7s%10s%9s%17s" % (
            "median r/s", "ratio", "p50 ms", "p99 ms", "p99 max", "cpu%",
            "us/req", "rec/fsync", "fsync/s", "fsync ms p50/max")
        p(hdr)
        p("-" * len(hdr))
        base_rps = None
        for cfg in configs:
            rs = [by[(cfg, c, n)] for n in rounds if (cfg, c, n) in by]
            if not rs:
                continue
            rps = [r["wrk"]["rps"] for r in rs]
            p50 = [r["wrk"]["lat_p50_us"] / 1000.0 for r in rs]
            p99 = [r["wrk"]["lat_p99_us"] / 1000.0 for r in rs]
            cpu = [r.get("worker_main_cpu_pct") for r in rs]
            cpu_all = [r.get("worker_cpu_pct") for r in rs]
            usr = [r.get("worker_cpu_us_per_request") for r in rs]
            rpf, fps, last = [], [], []
            samples = []
            bpr = []
            for r in rs:
                d = r.get("journal_delta")
                if d and d["fsyncs"]:
                    rpf.append(d["writes"] / d["fsyncs"])
                    fps.append(d["fsyncs"] / r["seconds"])
                j = (r.get("status_after") or {}).get("journal")
                if j:
                    if j.get("fsyncs"):
                        last.append(j.get("last_fsync_us"))
                    # (after a drain, bytes no longer hold every write)
                    if j.get("writes") and r["state"] == "cold":
                        bpr.append(j["bytes"] / j["writes"])
                samples += [s for s in r.get("fsync_samples_us", [])
                            if s is not None]
            m = med(rps)
            if cfg == "nojournal":
                base_rps = m
            ratio = m / base_rps if base_rps else None
            line = "%-13s" % cfg
            for n in rounds:
                line += fmt(by[(cfg, c, n)]["wrk"]["rps"], ".0f", 9) \
                    if (cfg, c, n) in by else "%9s" % "-"
            fs_ms = "-"
            if samples:
                fs_ms = "%.2f/%.2f" % (pct(samples, 50) / 1000.0,
                                       max(samples) / 1000.0)
            line += fmt(m, ".0f", 11) + fmt(ratio, ".2f", 7) + \
                fmt(med(p50), ".2f", 8) + fmt(med(p99), ".2f", 8) + \
                fmt(max(p99), ".2f", 8) + fmt(med(cpu), ".0f", 6) + \
                fmt(med(usr), ".1f", 7) + \
                fmt(med(rpf), ".1f", 10) + fmt(med(fps), ".0f", 9) + \
                "%17s" % fs_ms
            p(line)
            sc["configs"][cfg] = {
                "rps": rps, "median_rps": m, "ratio_to_nojournal": ratio,
                "p50_ms": p50, "p99_ms": p99, "median_p99_ms": med(p99),
                "max_p99_ms": max(p99), "event_loop_cpu_pct": cpu,
                "worker_cpu_pct": cpu_all,
                "worker_cpu_us_per_request": med(usr),
                "loop_sleeps_per_request": med(
                    [r["loop_sleeps_per_request"] for r in rs
                     if r.get("loop_sleeps_per_request") is not None]),
                "tcp_segments_per_request": med(
                    [r["tcp_segments_per_request"] for r in rs
                     if r.get("tcp_segments_per_request") is not None]),
                "records_per_fsync": rpf, "fsyncs_per_s": fps,
                "last_fsync_us": last,
                "fsync_samples_us": {"n": len(samples),
                                     "p50": pct(samples, 50),
                                     "p90": pct(samples, 90),
                                     "max": max(samples) if samples
                                     else None},
                "journal_bytes_per_record": med(bpr),
                "dirty_kb_after": [r.get("dirty_kb_after") for r in rs]}
            for r in rs:
                for pr in r.get("problems", []):
                    summary["invalid"].append("c=%d %s %s round %d: %s"
                                              % (c, cfg, state, r["round"],
                                                 pr))
            # the median round's profile
            prof_run = sorted(rs, key=lambda r: r["wrk"]["rps"])[
                (len(rs) - 1) // 2]
            if prof_run.get("perf"):
                # the profile's own run: its CPU per request, under perf
                pr = prof_run.get("profiled_run") or {}
                summary["profiles"]["%s c=%d %s" % (cfg, c, state)] = (
                    prof_run["perf"],
                    pr.get("worker_cpu_us_per_request",
                           prof_run.get("worker_cpu_us_per_request")))
        p()
        for cfg in configs:
            if cfg == "nojournal" or "nojournal" not in sc["configs"] \
                    or cfg not in sc["configs"]:
                continue
            per = ["%.2f" % (by[(cfg, c, n)]["wrk"]["rps"] /
                             by[("nojournal", c, n)]["wrk"]["rps"])
                   for n in rounds
                   if (cfg, c, n) in by and ("nojournal", c, n) in by]
            r = sc["configs"][cfg]["ratio_to_nojournal"]
            # in worker CPU per request: what a busy machine (the worker
            # below ~95% of its CPU) does not blur
            nu = sc["configs"]["nojournal"]["worker_cpu_us_per_request"]
            cu = sc["configs"][cfg]["worker_cpu_us_per_request"]
            rc = nu / cu if nu and cu else None
            p("%-17s %5.2f   (per round: %s)%s" % (
                cfg + "/nojournal", r, " ".join(per),
                "   in CPU per request: %.2f (%.1f us against %.1f)"
                % (rc, cu, nu) if rc else ""))
            sc["ratios"][cfg] = {"median": r, "cpu": rc,
                                 "per_round": [float(x) for x in per]}
            # the physical floor of a journaled webhook: the module's own
            # work plus one write of the record to the page cache, into a
            # recycled segment (written before) or a new file's end
            pr = probe or {}
            app = (pr.get("overwrite") or {}).get("us_per_write")
            how = "written over a recycled segment"
            if not app:
                app = (pr.get("append") or {}).get("us_per_append")
                how = "appended"
            if state == "cold":
                # new files: the probe's appends, not floor.c's recycled
                # file
                app = (pr.get("append") or {}).get("us_per_append") \
                    if cfg == "off" else None
                how = "appended"
            elif floor and cfg in floor and floor_conns in (None, c):
                # floor.c: the record as the module encodes it, made
                # durable as the module's batch runs did (no probe's
                # Python in it)
                app = floor[cfg]["cpu_us_per_record"]
                how = ("written by floor.c" if cfg == "off" else
                       "written and synced by floor.c, %.1f a fsync,"
                       % floor[cfg]["records_per_fsync"])
            elif cfg != "off":
                app = None
            if cfg in ("off", "batch") and nu and cu and app:
                p("%-17s %5.2f   (floor: nojournal %.1f us + one record %s"
                  " %.1f us, against %.1f us used)"
                  % (cfg + " floor/used", (nu + app) / cu, nu, how, app,
                     cu))
                sc["ratios"][cfg + " floor/used"] = {
                    "median": (nu + app) / cu, "floor_us": app}
                # each round against its own nojournal and floor run
                per = []
                for n in rounds:
                    fr = (floor_by_round.get(n) or {}).get(cfg)
                    a_, b_ = by.get(("nojournal", c, n)), by.get((cfg, c, n))
                    if state == "cold" or not fr or not a_ or not b_ \
                            or not a_.get("worker_cpu_us_per_request") \
                            or not b_.get("worker_cpu_us_per_request"):
                        continue
                    per.append((a_["worker_cpu_us_per_request"]
                                + fr["cpu_us_per_record"])
                               / b_["worker_cpu_us_per_request"])
                if per:
                    p("%-17s %5.2f   (median of each round against its own "
                      "nojournal and floor run: %s)"
                      % ("", statistics.median(per),
                         " ".join("%.2f" % x for x in per)))
                    sc["ratios"][cfg + " floor/used"]["per_round"] = per
                if cfg == "batch":
                    p("%-17s %5.2f   (in CPU, what a journal costing only "
                      "its floor would reach: %.1f / %.1f)"
                      % ("batch best/nojrn", nu / (nu + app), nu, nu + app))
                    sc["ratios"]["batch floor bound"] = {
                        "cpu": nu / (nu + app)}
        # each sleep of the event loop in epoll_wait is a wake-up later:
        # on a VM an IPI and a halt exit, not free
        def per_config(key, spec):
            return ["%s %s" % (cfg, format(sc["configs"][cfg][key], spec))
                    for cfg in configs if cfg in sc["configs"]
                    and sc["configs"][cfg].get(key) is not None]

        sl = per_config("loop_sleeps_per_request", ".3f")
        if sl:
            fb = (floor or {}).get("batch") if state != "cold" else None
            p("%-17s %s%s" % ("loop sleeps/req", ", ".join(sl),
                              "; floor.c batch %.3f a record"
                              % fb["loop_sleeps_per_record"]
                              if fb and "loop_sleeps_per_record" in fb
                              else ""))
        # an answer sent later than its request was read may cost the
        # loopback a segment of its own (an ACK the answer no longer
        # carries): both sides' CPU
        sg = per_config("tcp_segments_per_request", ".2f")
        if sg:
            p("%-17s %s" % ("TCP segments/req", ", ".join(sg)))
        # pause.c beside each run: how long the machine itself stopped
        # (a real-time thread a CPU woken late), whatever nginx did
        stops = []
        for cfg in configs:
            st = [r["machine_stops"] for r in runs
                  if r["connections"] == c and r["state"] == state
                  and r["config"] == cfg and r.get("machine_stops")]
            if st:
                stops.append("%s %s, max %.1f ms" % (
                    cfg, "/".join(str(t["over_5ms"]) for t in st),
                    max(t["max_ms"] for t in st)))
        if stops:
            p("%-17s %s" % ("stops >5ms/run", "; ".join(stops)))
        # off writes every record but never waits for the disk: the
        # ceiling for batch and always; below it is the fsync policy
        for cfg in ("batch", "always"):
            if cfg in sc["configs"] and "off" in sc["configs"]:
                r = sc["configs"][cfg]["median_rps"] / \
                    sc["configs"]["off"]["median_rps"]
                p("%-17s %5.2f   (what waiting for the fsync costs on top "
                  "of writing the record)" % (cfg + "/off", r))
                sc["ratios"][cfg + "/off"] = {"median": r}

    # the aim, at the first concurrency, in the steady state (or what was
    # measured); the others for information
    for i, c in enumerate(conns):
        if str(c) not in summary["by_connections"]:
            continue
        sc = summary["by_connections"][str(c)]["configs"]
        if "batch" not in sc or "nojournal" not in sc:
            continue
        ratio = sc["batch"]["ratio_to_nojournal"]
        p99 = sc["batch"]["median_p99_ms"]
        met = ratio >= AIM_RATIO and p99 < AIM_P99_MS
        why = []
        if meta.get("flush_sim") is not None:
            # nothing was durable: the disk's part taken out, not the aim
            met = False
            why.append("not judged: fdatasync simulated (%d us, no flush)"
                       % meta["flush_sim"])
        if ratio < AIM_RATIO:
            why.append("ratio %.2f < %.1f" % (ratio, AIM_RATIO))
        if p99 >= AIM_P99_MS:
            why.append("p99 %.2f ms >= %.0f ms" % (p99, AIM_P99_MS))
        text = ("aim: batch >= %.1f of nojournal with p99 < %.0f ms "
                "(c=%d, %s): %s  (batch/nojournal %.2f, batch p99 %.2f ms,"
                " median of rounds%s)"
                % (AIM_RATIO, AIM_P99_MS, c, states[0],
                   "met" if met else "MISSED",
                   ratio, p99, "; " + ", ".join(why) if why else ""))
        if i == 0:
            p()
            p(text)
            summary["aim"] = {"connections": c, "met": met, "ratio": ratio,
                              "p99_ms": p99}
        else:
            p("     (for information at c=%d: %s, batch/nojournal %.2f, "
              "p99 %.2f ms)" % (c, "met" if met else "missed", ratio, p99))
            summary.setdefault("aim_other", []).append(
                {"connections": c, "met": met, "ratio": ratio,
                 "p99_ms": p99})

    # every answer, counted by count.lua
    tot = {"responses": 0, "ok200": 0, "queued": 0, "other": 0}
    wrk_err = 0
    for r in runs:
        for w in (r["wrk"], r.get("warmup")):
            if not w:
                continue
            for k in tot:
                tot[k] += w["answers"][k]
            wrk_err += sum(w[k] for k in ("err_connect", "err_read",
                                          "err_write", "err_status",
                                          "err_timeout"))
    all_ok = (tot["other"] == 0 and tot["ok200"] == tot["responses"]
              and tot["queued"] == tot["ok200"] and wrk_err == 0)
    p()
    p("answers: %s: %d of %d responses in %d runs (warm-ups included) were "
      "200 {\"status\":\"queued\"}; %d other statuses; wrk non-2xx and "
      "socket errors: %d" % ("every one 200 queued" if all_ok else "NOT ALL 200",
                             tot["queued"], tot["responses"], len(runs),
                             tot["other"], wrk_err))
    summary["answers"] = dict(tot, wrk_errors=wrk_err, all_200=all_ok)
    dirty = [r.get("dirty_kb_after") for r in runs if r["config"] == "off"]
    if dirty:
        p("fsync=off: %.0f MB dirty in the page cache at the end of an off "
          "run (median), i.e. not yet on disk" % (med(dirty) / 1024.0))
    bpr = [cfgd.get("journal_bytes_per_record")
           for st in summary["by_state"].values()
           for sc in st.values()
           for cfgd in sc["configs"].values()
           if cfgd.get("journal_bytes_per_record")]
    if bpr:
        p("journal: %.0f bytes on disk per %d-byte webhook" % (
            med(bpr), runs[0]["body_bytes"]))

    if summary["profiles"]:
        p()
        p("where the time goes (perf, the worker's threads, the median "
          "round's run):")
        for name, (prof, us) in summary["profiles"].items():
            p("\n".join(perf_profile.table(name, prof, us)))
        above_floor(p, summary, floors, floor, floor_conns)
    elif meta.get("perf") and meta.get("perf") != "ok":
        p()
        p("no profiles: %s" % meta["perf"])

    if changed:
        summary["invalid"].append(
            "the module (%s) changed during the run: runs may mix two "
            "builds" % meta.get("module"))
    if summary["invalid"]:
        p()
        p("NOT A VALID MEASUREMENT:")
        for pr in summary["invalid"]:
            p("  " + pr)
    sj = path.with_suffix(".summary.json")
    sj.write_text(json.dumps(summary, indent=2) + "\n")
    p()
    p("summary: %s" % sj)
    text = out.getvalue()
    path.with_suffix(".txt").write_text(text)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 1 if summary["invalid"] else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
