# The PyTorch reference harness (issue #13): quantizes an nwq checkpoint with the official QDrop
# semantics (qdrop_ref.py, recon_ref.py) on exactly nwq's input tensors (written by `nwq data`).
#   golden: observer ranges, RTN top-1 and the first reconstruction steps, for nwq's CI tests
#   run:    one full RTN / QDrop / BRECQ-style / NWQ run, its top-1 as one JSON line
# Run with /usr/bin/python3 (Debian's torch, CPU) or the GPU machine's python3. See README.md.
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import st_io  # noqa: E402
from qdrop_ref import QuantModel  # noqa: E402
from recon_ref import brecq, evaluate, nwq, qdrop, reconstruct_unit  # noqa: E402

GENERATOR = "tests/reference/harness.py"


def read_nwq_data(path, device="cpu"):
    """(images F32, labels I64, indices I64) from a file written by `nwq data`."""
    t, meta = st_io.read(path)
    if meta.get("format") != "nwq-data-v1":
        raise SystemExit(f"{path}: not written by `nwq data` (format {meta.get('format')!r})")
    return t["images"].to(device), t["labels"].to(device), t["indices"], meta


def bits_pairs(text):
    out = []
    for item in text.split(","):
        w, a = item.lower().lstrip("w").split("a")
        out.append((int(w), int(a)))
    return out


def default_lambda(model_name):
    return 0.1 if "mobilenet" in model_name else 0.01  # BRECQ/QDrop's configs


def prepare(fp, wbits, abits, calib, init_images, device):
    qm = QuantModel(fp, wbits, abits, calib[:2]).to(device)
    qm.calibrate(calib[:init_images], device)
    return qm


# ---------------------------------------------------------------- golden

def golden_ranges(qm, prefix, tensors):
    tensors[f"{prefix}.act_scale"] = torch.cat([q.scale.detach().cpu() for q in qm.acts_in_order])
    tensors[f"{prefix}.act_zero_point"] = torch.cat([q.zero_point.cpu() for q in qm.acts_in_order])
    for i, l in enumerate(qm.layers):
        tensors[f"{prefix}.layer{i}.scale"] = l.wq.scale.cpu()
        tensors[f"{prefix}.layer{i}.zero_point"] = l.wq.zero_point.cpu()


def first_step(qm, unit, calib, iters, weight, batches, record=None, steps=1):
    """Runs unit `unit`'s reconstruction for `steps` iterations on fixed batches; returns the
    first step's alpha gradients (per layer) and step-size gradients, and fills `record`."""
    out = {}
    layers, acts = qm.layers_of_unit(unit), qm.unit_acts[unit]

    def on_step(i, loss, rec, reg):
        if record is not None:
            record["loss"].append(loss), record["rec"].append(rec), record["reg"].append(reg)
        if i == 0:
            out["alpha"] = [l.wq.alpha.grad.detach().clone() for l in layers]
            out["scale"] = torch.cat([a.scale.grad.detach().clone() for a in acts])
        if i + 1 == steps:
            raise StopIteration

    try:
        reconstruct_unit(qm, unit, calib, iters, 1.0, weight, batches=batches, on_step=on_step)
    except StopIteration:
        pass
    return out


def golden_recon(make_qm, unit, calib, steps, iters, weight, tensors):
    """The first `steps` iterations of unit `unit`'s reconstruction without dropping, on batches
    calib[32 k : 32 (k + 1)], the units before it left at round-to-nearest. Computed in float64
    (ranges from the float32 calibration), the value a float32 implementation approaches; the
    float32 run's first-step gradients are stored too (".f32"): float32 gradients of AdaRound's
    alpha and of the LSQ steps deviate from float64 by up to ~3e-4 of their largest value (sums
    of many cancelling terms, activations within rounding of a grid boundary), and nwq's test
    asks its own deviation to be no larger than PyTorch's."""
    batches = [torch.arange(32 * k, 32 * (k + 1)) % calib.shape[0] for k in range(iters)]
    g32 = first_step(make_qm(), unit, calib, iters, weight, batches)
    qm = make_qm().double()
    record = {"loss": [], "rec": [], "reg": []}
    g64 = first_step(qm, unit, calib.double(), iters, weight, batches, record, steps)
    for j, (a64, a32) in enumerate(zip(g64["alpha"], g32["alpha"])):
        tensors[f"recon.grad_alpha{j}"] = a64.float()
        tensors[f"recon.grad_alpha{j}.f32"] = a32
    tensors["recon.grad_scale"] = g64["scale"].float()
    tensors["recon.grad_scale.f32"] = g32["scale"]
    for k, v in record.items():
        tensors[f"recon.{k}"] = torch.tensor(v, dtype=torch.float64)


def cmd_golden(a):
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    fp, meta = models.load_nwq(a.weights)
    name = meta["model"]
    calib, _, calib_idx, cmeta = read_nwq_data(a.calib)
    test, labels, test_idx, _ = read_nwq_data(a.test)
    calib = calib[:a.init_images]
    tensors = {"calib.indices": calib_idx[:a.init_images], "test.indices": test_idx}
    pairs = bits_pairs(a.configs)
    for wbits, abits in pairs:
        t0 = time.time()
        qm = prepare(fp, wbits, abits, calib, a.init_images, "cpu")
        prefix = f"w{wbits}a{abits}"
        golden_ranges(qm, prefix, tensors)
        tensors[f"{prefix}.rtn_top1"] = torch.tensor([evaluate(qm, test, labels)], dtype=torch.float64)
        with torch.no_grad():
            tensors[f"{prefix}.rtn_logits"] = qm(test[:a.logits]).detach()
        print(f"{prefix}: {len(qm.acts_in_order)} activation and {len(qm.layers)} weight ranges, "
              f"RTN top-1 {float(tensors[prefix + '.rtn_top1']):.2f}% ({time.time() - t0:.0f} s)")
    if a.recon_unit >= 0:
        wbits, abits = bits_pairs(a.recon_bits)[0]
        make_qm = lambda: prepare(fp, wbits, abits, calib, a.init_images, "cpu")  # noqa: E731
        golden_recon(make_qm, a.recon_unit, calib, a.recon_steps, a.recon_iters, default_lambda(name),
                     tensors)
        print("recon losses:", [round(float(x), 6) for x in tensors["recon.loss"]])
    st_io.write(a.out, tensors, {
        "generator": GENERATOR, "torch": torch.__version__, "model": name,
        "weights": os.path.basename(a.weights), "data": cmeta.get("data", ""),
        "configs": a.configs, "init_images": str(a.init_images), "test_images": str(test.shape[0]),
        "recon_unit": str(a.recon_unit), "recon_bits": a.recon_bits, "recon_iters": str(a.recon_iters),
        "recon_steps": str(a.recon_steps), "lambda": str(default_lambda(name))})
    print(f"wrote {a.out}")


# ---------------------------------------------------------------- run

def cmd_run(a):
    device = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    # PyTorch lets cuDNN convolutions use TF32 by default (10 mantissa bits); nwq's GPU path is
    # exact FP32 unless --tf32, so the harness matches it unless told otherwise.
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.manual_seed(a.seed)
    fp, meta = models.load_nwq(a.weights)
    name = meta["model"]
    calib, _, _, _ = read_nwq_data(a.calib, device)
    test, labels, _, _ = read_nwq_data(a.test, device)
    fp = fp.to(device)
    t0 = time.time()
    qm = prepare(fp, a.wbits, a.abits, calib, a.init_images, device)
    t_calib = time.time() - t0
    log = (lambda s: None) if a.quiet else (
        lambda s: print(f"[{time.time() - t0:.0f} s] {s}", file=sys.stderr, flush=True))
    weight = a.weight if a.weight is not None else default_lambda(name)
    if a.method == "qdrop":
        qdrop(qm, calib, a.iters, weight, drop_prob=0.5, log=log)
    elif a.method == "brecq_style":
        qdrop(qm, calib, a.iters, weight, drop_prob=1.0, log=log)
    elif a.method == "brecq":
        brecq(qm, calib, a.iters, weight, log=log)
    elif a.method == "nwq":
        nwq(qm, calib, a.iters, log=log)
    top1 = evaluate(qm, test, labels)
    result = {"harness": "pytorch", "model": name, "weights": os.path.basename(a.weights),
              "method": a.method, "wbits": a.wbits, "abits": a.abits, "iters": a.iters, "seed": a.seed,
              "fp_top1": evaluate(fp, test, labels), "quant_top1": top1, "device": device,
              "calibrate_seconds": t_calib, "seconds": time.time() - t0, "torch": torch.__version__,
              "tf32": a.tf32 and device == "cuda"}
    line = json.dumps(result)
    print(line, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write(line + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("golden", help="observer ranges, RTN top-1 and first reconstruction steps")
    g.add_argument("--weights", required=True)
    g.add_argument("--calib", required=True, help="`nwq data --split calib` output")
    g.add_argument("--test", required=True, help="`nwq data --split test` output")
    g.add_argument("--configs", default="W4A4,W2A2")
    g.add_argument("--init-images", type=int, default=256)
    g.add_argument("--logits", type=int, default=64, help="RTN logits stored for this many test images")
    g.add_argument("--recon-unit", type=int, default=1)
    g.add_argument("--recon-bits", default="W2A4")
    g.add_argument("--recon-iters", type=int, default=10)
    g.add_argument("--recon-steps", type=int, default=5)
    g.add_argument("--out", required=True)
    r = sub.add_parser("run", help="one full quantization run")
    r.add_argument("--weights", required=True)
    r.add_argument("--calib", required=True)
    r.add_argument("--test", required=True)
    r.add_argument("--method", choices=["rtn", "qdrop", "brecq_style", "brecq", "nwq"], required=True)
    r.add_argument("--wbits", type=int, default=4)
    r.add_argument("--abits", type=int, default=4)
    r.add_argument("--iters", type=int, default=3000, help="per unit (qdrop, brecq_style) or in all (nwq)")
    r.add_argument("--init-images", type=int, default=256)
    r.add_argument("--weight", type=float, default=None, help="AdaRound lambda (default 0.01; 0.1 MobileNetV2)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--tf32", action="store_true",
                   help="let cuDNN/cuBLAS use TF32 (PyTorch's default for convolutions; off here)")
    r.add_argument("--out", default="")
    a = p.parse_args()
    cmd_golden(a) if a.cmd == "golden" else cmd_run(a)


if __name__ == "__main__":
    main()
