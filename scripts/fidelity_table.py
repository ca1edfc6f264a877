#!/usr/bin/env python3
"""The fidelity table of docs/RESULTS.md: nwq against the PyTorch harness (tests/reference) on the
same checkpoints, mean ± std over the seeds each side has, from the one-line JSON results in DIR
(nwq_<tag>_<method>_w<W>a<A>_s<seed>.json from `nwq quantize --json`, torch_<...>.json from
`harness.py run`). Usage: scripts/fidelity_table.py DIR > table.md"""
import json
import os
import re
import statistics
import sys

NAME = re.compile(r"^(nwq|torch)_(r20|mb)_(rtn|qdrop|brecq_style|brecq|nwq)_w(\d)a(\d)_s(\d+)\.json$")
MODELS = {"r20": "ResNet-20", "mb": "MobileNetV2-CIFAR"}
METHODS = [("rtn", "RTN"), ("qdrop", "QDrop"), ("brecq_style", "BRECQ-style (QDrop, no dropping)"),
           ("nwq", "NWQ"), ("brecq", "`brecq` preset (BRECQ's two passes)")]
BITS = [("4", "4"), ("2", "4"), ("2", "2")]


def load(directory):
    runs = {}
    for name in sorted(os.listdir(directory)):
        m = NAME.match(name)
        if not m:
            continue
        with open(os.path.join(directory, name)) as f:
            lines = [line for line in f.read().splitlines() if line.strip().startswith("{")]
        if not lines:
            continue
        side, model, method, w, a, _ = m.groups()
        runs.setdefault((side, model, method, w, a), []).append(json.loads(lines[-1])["quant_top1"])
    return runs


def cell(values):
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f} (n=1)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} (n={len(values)})"


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: fidelity_table.py DIR (a folder of nwq_*.json / torch_*.json results)")
    runs = load(sys.argv[1])
    for model, title in MODELS.items():
        if not any(k[1] == model for k in runs):
            continue
        print(f"**{title}** (top-1 %, CIFAR-10 test split, 10,000 images)\n")
        print("| method | bits | harness (PyTorch) | nwq | nwq − harness |")
        print("|---|---|---|---|---|")
        for method, label in METHODS:
            for w, a in BITS:
                t, n = runs.get(("torch", model, method, w, a), []), runs.get(("nwq", model, method, w, a), [])
                if not t and not n:
                    continue
                diff = f"{statistics.mean(n) - statistics.mean(t):+.2f}" if t and n else "—"
                print(f"| {label} | W{w}A{a} | {cell(t)} | {cell(n)} | {diff} |")
        print()


if __name__ == "__main__":
    main()
