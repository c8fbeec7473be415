#!/usr/bin/env python3
"""Summarise a bench/ingest run: per-config table, ratios, validity.

  summarise.py bench/results/ingest-YYYYmmdd-HHMMSS.jsonl

Reads the JSON lines run.sh wrote (one per measured run), prints the table
and the ratios module/baseline and module/njs (from the median req/s of
each config, plus the per-round ratios to show the spread), and writes
the same numbers next to the input as .summary.json.

Exit status 1 when a run is not a valid measurement: non-2xx answers or
socket errors reported by wrk, alerts or crashes in the error log, or (for
the module) a status output showing rejections or fewer queued items than
requests made.
"""

import json
import pathlib
import statistics
import sys

AIMS = {"module/baseline": 0.5, "module/njs": 3.0}
ORDER = ["module", "baseline", "njs"]


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
    if run["config"] == "module":
        st = run.get("status")
        if not st or "_error" in st:
            out.append("status output unavailable: %s"
                       % (st or {}).get("_error", "none"))
        else:
            s = find_store(st, shop)
            if s is None:
                out.append("status output has no store %s" % shop)
            else:
                for k in ("queue_full", "rate_limited", "duplicate",
                          "rejected_signature", "rejected_request",
                          "ignored"):
                    if s.get(k):
                        out.append("status %s=%s" % (k, s[k]))
                if "queued" in s and s["queued"] < w["requests"]:
                    out.append("queued %s < %d requests"
                               % (s["queued"], w["requests"]))
    return out


def main():
    path = pathlib.Path(sys.argv[1])
    lines = [json.loads(l) for l in path.read_text().splitlines()
             if l.strip()]
    meta = next((l["meta"] for l in lines if "meta" in l), {})
    runs = [l for l in lines if "meta" not in l]
    if not runs:
        sys.exit("no runs in %s" % path)
    configs = [c for c in ORDER if any(r["config"] == c for r in runs)]
    rounds = sorted({r["round"] for r in runs})
    by = {(r["config"], r["round"]): r for r in runs}

    summary = {"source": str(path), "body_bytes": runs[0]["body_bytes"],
               "zone": runs[0].get("zone"), "configs": {}, "ratios": {},
               "invalid": []}
    hdr = "%-9s" % "config" + "".join("%11s" % ("round %d" % n)
                                      for n in rounds)
    hdr += "%12s%11s%11s%11s" % ("median r/s", "p99 ms", "p99 max",
                                 "faults/req")
    print()
    print(hdr)
    print("-" * len(hdr))
    for c in configs:
        rps = [by[(c, n)]["wrk"]["rps"] for n in rounds if (c, n) in by]
        p99 = [by[(c, n)]["wrk"]["lat_p99_us"] / 1000.0
               for n in rounds if (c, n) in by]
        line = "%-9s" % c
        for n in rounds:
            line += "%11.0f" % by[(c, n)]["wrk"]["rps"] if (c, n) in by \
                else "%11s" % "-"
        fpr = [by[(c, n)].get("worker_minor_faults", 0) /
               max(by[(c, n)]["wrk"]["requests"], 1)
               for n in rounds if (c, n) in by]
        line += "%12.0f%11.2f%11.2f%11.2f" % (statistics.median(rps),
                                              statistics.median(p99),
                                              max(p99),
                                              statistics.median(fpr))
        print(line)
        summary["configs"][c] = {"rps": rps, "p99_ms": p99,
                                 "faults_per_request": fpr,
                                 "median_rps": statistics.median(rps),
                                 "median_p99_ms": statistics.median(p99)}
        for n in rounds:
            if (c, n) in by:
                for p in problems(by[(c, n)]):
                    summary["invalid"].append("%s round %d: %s" % (c, n, p))
    print()

    med = {c: summary["configs"][c]["median_rps"] for c in configs}
    for other in ("baseline", "njs"):
        if "module" in med and other in med:
            name = "module/" + other
            ratio = med["module"] / med[other]
            per_round = ["%.2f" % (by[("module", n)]["wrk"]["rps"] /
                                   by[(other, n)]["wrk"]["rps"])
                         for n in rounds
                         if ("module", n) in by and (other, n) in by]
            verdict = "meets" if ratio >= AIMS[name] else "BELOW"
            print("%-16s %5.2f   (aim >= %.1f: %s; per round: %s)"
                  % (name, ratio, AIMS[name], verdict, " ".join(per_round)))
            summary["ratios"][name] = {"median": ratio,
                                       "per_round": [float(x) for x in
                                                     per_round],
                                       "aim": AIMS[name]}
    if "njs" in med and "baseline" in med:
        print("%-16s %5.2f   (what the njs HMAC check costs)"
              % ("njs/baseline", med["njs"] / med["baseline"]))
        summary["ratios"]["njs/baseline"] = {
            "median": med["njs"] / med["baseline"]}

    # The module cannot beat "baseline + one HMAC over the body": say how
    # close to that ceiling the aim and the result are.
    if meta.get("hmac_us") and "baseline" in med:
        base_us = 1e6 / med["baseline"]
        ceiling = base_us / (base_us + meta["hmac_us"])
        print("\nbaseline spends %.1f us per request; one HMAC-SHA256 of the "
              "%d-byte body costs %.1f us,\nso hashing alone caps "
              "module/baseline at %.2f on this machine"
              % (base_us, summary["body_bytes"], meta["hmac_us"], ceiling))
        if "module" in med:
            mod_us = 1e6 / med["module"]
            print("module spends %.1f us per request: %.1f us over baseline,"
                  " of which %.1f us is the HMAC"
                  % (mod_us, mod_us - base_us, meta["hmac_us"]))
        summary["hmac_us"] = meta["hmac_us"]
        summary["module_baseline_ceiling"] = ceiling

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


if __name__ == "__main__":
    sys.exit(main())
