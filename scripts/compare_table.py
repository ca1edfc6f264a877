#!/usr/bin/env python3
"""Markdown tables comparing two runs of the same quantization matrix (two folders of --json
summaries, e.g. two learning rates): per (data, model), rows = methods, columns = bit settings,
cells = "top-1 in A → top-1 in B" over the seeds present in both (their means, and B's standard
deviation, when n > 1).
Usage: scripts/compare_table.py DIR_A[,DIR_A2...] DIR_B[,DIR_B2...] > table.md (runs of the listed
folders are pooled)"""
import statistics
import sys

from results_table import BITS, METHODS, load


FIELDS = ("data", "model", "method", "wbits", "abits", "seed", "quant_top1")


def runs_of(dirs):  # the summaries of `nwq quantize --json`; other JSON files are skipped
    return [r for r in load(dirs) if isinstance(r, dict) and all(f in r for f in FIELDS)]


def key(r):
    return (r["data"], r["model"], r["method"], f"w{r['wbits']}a{r['abits']}", r["seed"])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare_table.py DIR_A[,DIR_A2...] DIR_B[,DIR_B2...]")
    a = {key(r): r for r in runs_of(sys.argv[1].split(","))}
    b = {key(r): r for r in runs_of(sys.argv[2].split(","))}
    both = sorted(set(a) & set(b))
    if not both:
        sys.exit(f"compare_table.py: no run is in both {sys.argv[1]} and {sys.argv[2]}")
    for data, model in sorted({k[:2] for k in both}):
        mine = [k for k in both if k[:2] == (data, model)]
        bits = [x for x in BITS if any(k[3] == x for k in mine)]
        print(f"\n### {model} on {data}\n")
        print("| method | " + " | ".join(x.upper() for x in bits) + " |")
        print("|---" * (len(bits) + 1) + "|")
        for m in METHODS:
            if not any(k[2] == m for k in mine):
                continue
            cells = []
            for x in bits:
                ks = [k for k in mine if k[2] == m and k[3] == x]
                if not ks:
                    cells.append("-")
                    continue
                va = statistics.mean(a[k]["quant_top1"] for k in ks)
                bs = [b[k]["quant_top1"] for k in ks]
                vb = statistics.mean(bs)
                n = f" ± {statistics.stdev(bs):.2f} (n={len(ks)})" if len(ks) > 1 else ""
                cells.append(f"{va:.2f} → **{vb:.2f}**{n}" if vb > va else f"{va:.2f} → {vb:.2f}{n}")
            print(f"| {m} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
