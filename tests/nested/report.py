#!/usr/bin/env python3
"""The table of make check-kernels: kernel x target x mode, from each run's results.tsv."""
import json
import os
import sys


def main():
    root = sys.argv[1]
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    cells = {}  # (kernel, target, mode) -> [pass, fail, skip]
    failures = []
    runs = {}
    broken = 0
    for kernel in sorted(os.listdir(root)):
        for run in sorted(os.listdir(os.path.join(root, kernel))):
            d = os.path.join(root, kernel, run)
            tsv = os.path.join(d, "results.tsv")
            release = kernel
            probe = os.path.join(d, "probe.json")
            if os.path.exists(probe):
                try:
                    release = json.load(open(probe)).get("kernel_release", kernel)
                except ValueError:
                    pass
            status = open(os.path.join(d, "status")).read().strip() if os.path.exists(
                os.path.join(d, "status")) else "?"
            counts = [0, 0, 0]
            if not os.path.exists(tsv) or not os.path.getsize(tsv):
                broken += 1
                failures.append((kernel, run, "-", "-", "matrix", "no results (status %s): see %s"
                                 % (status, os.path.join(d, "output.txt"))))
            else:
                for line in open(tsv):
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) < 5:
                        continue
                    target, mode, test, result, detail = parts[:5]
                    i = {"pass": 0, "fail": 1}.get(result, 2)
                    cells.setdefault((kernel, target, mode), [0, 0, 0])[i] += 1
                    counts[i] += 1
                    if i == 1:
                        failures.append((kernel, run, target, mode, test, detail))
            runs.setdefault(kernel, []).append({"run": run, "release": release, "status": status,
                                                "passed": counts[0], "failed": counts[1],
                                                "skipped": counts[2]})
    print("%-8s %-12s %-8s %8s %8s %8s" % ("kernel", "target", "mode", "passed", "failed", "skipped"))
    for (kernel, target, mode), (p, f, s) in sorted(cells.items()):
        print("%-8s %-12s %-8s %8d %8d %8d" % (kernel, target, mode, p, f, s))
    print()
    for kernel, rs in sorted(runs.items()):
        for r in rs:
            print("%s %s (%s): %d passed, %d failed, %d skipped, status %s"
                  % (kernel, r["run"], r["release"], r["passed"], r["failed"], r["skipped"],
                     r["status"]))
    for f in failures:
        print("FAIL %s %s %s/%s %s: %s" % f)
    total = [sum(c[i] for c in cells.values()) for i in range(3)]
    total[1] += broken
    if json_out:
        with open(json_out, "w") as fh:
            json.dump({"runs": runs,
                       "cells": [{"kernel": k, "target": t, "mode": m, "passed": c[0],
                                  "failed": c[1], "skipped": c[2]}
                                 for (k, t, m), c in sorted(cells.items())],
                       "failures": [dict(zip(("kernel", "run", "target", "mode", "test", "detail"),
                                             f)) for f in failures],
                       "totals": {"passed": total[0], "failed": total[1], "skipped": total[2]}},
                      fh, indent=1)
    print("check-kernels: %d passed, %d failed, %d skipped" % tuple(total))
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
