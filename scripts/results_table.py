#!/usr/bin/env python3
"""Markdown tables (shaped like the NWQ paper's Table 1) from the --json summaries that
scripts/quant_matrix.sh leaves in a folder: one table per (data, model), rows = methods,
columns = bit settings, cells = mean +- std of quantized top-1 over seeds (n), plus FP top-1 and
the median wall time per run (runs of several folders, e.g. GPU and CPU, are pooled). Usage: scripts/results_table.py DIR [DIR...] > table.md"""
import glob
import json
import os
import statistics
import sys

METHODS = ["rtn", "adaround", "brecq", "qdrop", "nwq"]
BITS = ["w4a4", "w2a4", "w3a3", "w2a2"]


def load(dirs):
    runs = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.json"))):
            if path.endswith(".report.json"):
                continue
            with open(path) as f:
                line = f.read().strip()
            if line:
                runs.append(json.loads(line))
    return runs


def cell(values):
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f} (n=1)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} (n={len(values)})"


def main():
    runs = load(sys.argv[1:])
    groups = {}
    for r in runs:
        groups.setdefault((r["data"], r["model"]), []).append(r)
    for (data, model), rs in sorted(groups.items()):
        bits_present = [b for b in BITS if any(f"w{r['wbits']}a{r['abits']}" == b for r in rs)]
        fp = [r["fp_top1"] for r in rs if r["fp_top1"] >= 0]
        print(f"\n### {model} on {data} (FP top-1 {statistics.mean(fp):.2f}%)\n" if fp
              else f"\n### {model} on {data}\n")
        print("| method | " + " | ".join(b.upper() for b in bits_present) + " | median wall time per run |")
        print("|---" * (len(bits_present) + 2) + "|")
        for m in METHODS:
            mine = [r for r in rs if r["method"] == m]
            if not mine:
                continue
            cells = [cell([r["quant_top1"] for r in mine if f"w{r['wbits']}a{r['abits']}" == b])
                     for b in bits_present]
            wall = statistics.median(r["seconds"] for r in mine)
            print(f"| {m} | " + " | ".join(cells) + f" | {wall:.0f} s |")


if __name__ == "__main__":
    main()
