#!/usr/bin/env python3
"""Markdown tables of the ablation set (scripts/matrix_jobs.sh ablation: NWQ W2A2 on CIFAR-10
resnet20, one axis changed at a time) from the --json summaries abl_<variant>_s<seed>.json that
scripts/quant_matrix.sh leaves in a folder: one table per axis, mean +- std of top-1 over seeds.
Usage: scripts/ablation_table.py DIR > ablation.md"""
import glob
import json
import os
import re
import sys

from results_table import cell  # mean ± std (n) of a list of top-1 values

# (axis, [(variant, what it changes)]); "nwq" is the preset itself (500 iterations unless noted).
AXES = [
    ("Reconstruction scope (ASoftmax rounding, QDrop mixing: AMixup needs scope network)", [
        ("scope_layer_qdrop", "layer (`--scope layer --mix qdrop`)"),
        ("scope_block_qdrop", "block (`--scope block --mix qdrop`)"),
        ("mix_qdrop", "network (`--mix qdrop`)")]),
    ("Rounding (network scope, AMixup)", [
        ("nwq", "annealed softmax, candidates 0..1 (default)"),
        ("candidates_m1to2", "annealed softmax, candidates -1..2 (`--candidates -1:2`)"),
        ("rounding_adaround", "AdaRound rectified sigmoid (`--rounding adaround`)"),
        ("rounding_adaround_2000", "AdaRound rectified sigmoid, 2,000 iterations"),
        ("rounding_adaround_5000", "AdaRound rectified sigmoid, 5,000 iterations"),
        ("rounding_adaround_20000", "AdaRound rectified sigmoid, 20,000 iterations"),
        ("iters_20000", "annealed softmax, 20,000 iterations")]),
    ("Mixing (network scope, ASoftmax)", [
        ("mix_none", "none (`--mix none`)"),
        ("mix_qdrop", "QDrop, p = 0.5 (`--mix qdrop`)"),
        ("nwq", "AMixup, FP share 0.5 -> 0 (default)")]),
    ("AMixup schedule (FP share of block inputs, annealed linearly)", [
        ("mix_share_1to0", "1 -> 0 (`--mix-share 1:0`)"),
        ("nwq", "0.5 -> 0 (default)"),
        ("mix_share_0.25to0", "0.25 -> 0 (`--mix-share 0.25:0`)"),
        ("mix_share_0.5to0.5", "constant 0.5 (`--mix-share 0.5:0.5`)")]),
    ("Calibration set size", [
        ("calib_128", "128 images (`--calib 128`)"),
        ("nwq", "1024 images (default)")]),
    ("Iterations (network scope: the whole network's iterations)", [
        ("nwq", "500"),
        ("iters_5000", "5,000"),
        ("iters_10000", "10,000"),
        ("iters_20000", "20,000")]),
]


def load(folder):
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "abl_*_s[0-9]*.json"))):
        if path.endswith(".report.json"):
            continue
        m = re.match(r"abl_(.+)_s(\d+)\.json$", os.path.basename(path))
        with open(path) as f:
            runs.setdefault(m.group(1), []).append(json.loads(f.read()))
    return runs


def main():
    runs = load(sys.argv[1])
    shown = set()
    for axis, variants in AXES:
        print(f"\n**{axis}**\n\n| variant | top-1 | seeds |\n|---|---|---|")
        for variant, what in variants:
            rs = runs.get(variant, [])
            shown.add(variant)
            seeds = ", ".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
            print(f"| {what} | {cell([r['quant_top1'] for r in rs])} | {seeds or '-'} |")
    rest = sorted(set(runs) - shown)
    if rest:
        print("\n**Other variants**\n\n| variant | top-1 |\n|---|---|")
        for variant in rest:
            print(f"| {variant} | {cell([r['quant_top1'] for r in runs[variant]])} |")


if __name__ == "__main__":
    main()
