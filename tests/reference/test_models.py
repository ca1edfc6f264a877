# Checks of the reference harness's foundation: st_io round trips, blocks() composing to forward,
# strict loads of models/weights/, and (when build/nwq exists) equality with nwq's evaluation.
# Run: /usr/bin/python3 tests/reference/test_models.py   (env NWQ_CIFAR10_DIR=DIR adds CIFAR-10)
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import models  # noqa: E402
import ref_data  # noqa: E402
import st_io  # noqa: E402

NWQ = os.path.join(ROOT, "build", "nwq")
WEIGHTS = os.path.join(ROOT, "models", "weights")
TMP = tempfile.mkdtemp(prefix="nwq_ref_test_")


def tmp(name):
    return os.path.join(TMP, name)


def randomize_bn(model, seed):
    """Non-trivial BN affine parameters and running statistics, so BN mistakes show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    return model


# ---------------------------------------------------------------- st_io

def test_st_io_round_trip():
    g = torch.Generator().manual_seed(0)
    tensors = OrderedDict([
        ("f32", torch.randn(3, 5, generator=g)),
        ("f64", torch.randn(2, 2, 2, generator=g).double()),
        ("i64", torch.tensor([-3, 0, 2 ** 40], dtype=torch.int64)),
        ("i32", torch.tensor([[1, -2], [3, 2 ** 30]], dtype=torch.int32)),
        ("u8", torch.arange(0, 256, dtype=torch.int64).to(torch.uint8)),
        ("scalar", torch.tensor(7, dtype=torch.int64)),
        ("empty", torch.zeros(0, 4)),
        ("strided", torch.randn(4, 6, generator=g).t()),  # non-contiguous input
    ])
    meta = {"model": "x", "top1": 91.5, "note": "a, b"}
    st_io.write(tmp("rt.safetensors"), tensors, meta)
    back, back_meta = st_io.read(tmp("rt.safetensors"))
    assert list(back) == list(tensors), list(back)
    for k, t in tensors.items():
        assert back[k].dtype == t.dtype and back[k].shape == t.shape, k
        assert torch.equal(back[k], t), k
    assert back_meta == {"model": "x", "top1": "91.5", "note": "a, b"}, back_meta
    with open(tmp("rt.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
    assert n % 8 == 0, n
    # Same bytes as tests/golden/make_goldens.py's writer: reading and rewriting a golden file
    # (metadata first, tensors in order, compact JSON, space padding) reproduces it exactly.
    golden = os.path.join(ROOT, "tests", "golden", "resnet20.safetensors")
    t, m = st_io.read(golden)
    st_io.write(tmp("golden.safetensors"), t, m)
    with open(golden, "rb") as a, open(tmp("golden.safetensors"), "rb") as b:
        assert a.read() == b.read(), "rewritten golden file differs"
    print("st_io round trip: ok (dtypes F32 F64 I64 I32 U8, scalar, empty; golden file byte-identical)")


def test_golden_resnet20():
    """The golden ResNet-20 logits (PyTorch, make_goldens.py) from models.resnet20."""
    t, _ = st_io.read(os.path.join(ROOT, "tests", "golden", "resnet20.safetensors"))
    model = models.build("resnet20", 10, 1)
    model.load_state_dict({k: t[k] for k in model.state_dict()}, strict=True)
    with torch.no_grad():
        y = model.eval()(t["input.x"])
    assert torch.allclose(y, t["eval.logits"], atol=1e-5), (y - t["eval.logits"]).abs().max()
    print("golden resnet20 eval.logits: ok")


# ---------------------------------------------------------------- units

EXPECTED_UNITS = {
    "resnet20": ["stem"] + [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3)] + ["head"],
    "resnet56": ["stem"] + [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(9)] + ["head"],
    "mobilenetv2_cifar": ["stem"] + [f"features.{i}" for i in range(1, 19)] + ["head"],
}


def test_blocks_compose_to_forward():
    for name in models.MODELS:
        for in_ch, size in ((3, 32), (1, 28)):
            torch.manual_seed(1)
            model = randomize_bn(models.build(name, 10, in_ch), 2).eval()
            x = torch.randn(3, in_ch, size, size)
            with torch.no_grad():
                y = model(x)
                h = x
                for _, fn in models.blocks(model):
                    h = fn(h)
            assert torch.equal(h, y), f"{name}: blocks() != forward, {(h - y).abs().max()}"
            units = models.unit_modules(model)
            if name in EXPECTED_UNITS:
                assert list(units) == EXPECTED_UNITS[name], list(units)
            # Every state_dict entry belongs to exactly one unit.
            for key in model.state_dict():
                owners = [u for u, paths in units.items()
                          if any(key.startswith(p + ".") for p in paths)]
                assert len(owners) == 1, (name, key, owners)
    print("blocks() compose to forward, unit lists and ownership: ok "
          f"({', '.join(models.MODELS)}; 1 and 3 input channels)")


def test_mobilenet_strides():
    """mobilenetv2_cifar: 32x32 stays 32x32 through features.0-3, then 16, 8, 4 (docs/MODELS.md)."""
    model = models.build("mobilenetv2_cifar").eval()
    sizes, h = [], torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for _, fn in models.blocks(model)[:-1]:
            h = fn(h)
            sizes.append(h.shape[-1])
    assert sizes == [32] * 4 + [16] * 3 + [8] * 7 + [4] * 5, sizes
    assert isinstance(model.classifier[0], nn.Dropout) and model.classifier[0].p == 0.2
    print("mobilenetv2_cifar strides and dropout: ok")


# ---------------------------------------------------------------- checkpoints

CHECKPOINTS = ["fmnist_resnet20", "fmnist_mobilenetv2_cifar", "cifar10_resnet20",
               "cifar10_resnet56", "cifar10_mobilenetv2_cifar"]


def test_load_committed_weights():
    for ck in CHECKPOINTS:
        path = os.path.join(WEIGHTS, ck + ".safetensors")
        model, meta = models.load_nwq(path)  # strict
        tensors, _ = st_io.read(path)
        assert list(model.state_dict()) == list(tensors), f"{ck}: name order differs"
        in_ch = 1 if ck.startswith("fmnist") else 3
        first = "conv1.weight" if "resnet" in ck else "features.0.0.weight"
        assert model.state_dict()[first].shape[1] == in_ch, ck
        assert not model.training
    print(f"strict load of {len(CHECKPOINTS)} committed checkpoints: ok")


def test_save_load_round_trip():
    for name in ("resnet20", "mobilenetv2_cifar"):
        model = randomize_bn(models.build(name, 10, 3), 3)
        meta = {"mean": ref_data.IMAGENET_MEAN, "std": ref_data.IMAGENET_STD, "data": "cifar10",
                "top1": "12.34", "trained_by": "test"}
        models.save_nwq(model, name, tmp(name + ".safetensors"), meta)
        back, back_meta = models.load_nwq(tmp(name + ".safetensors"))
        assert back_meta["model"] == name and back_meta["mean"] == "0.485,0.456,0.406", back_meta
        assert back_meta["std"] == "0.229,0.224,0.225" and back_meta["in_channels"] == "3"
        tensors, _ = st_io.read(tmp(name + ".safetensors"))
        counters = [k for k in tensors if k.endswith("num_batches_tracked")]
        assert counters and all(tensors[k].dtype == torch.int64 for k in counters)
        for k, v in model.state_dict().items():
            assert torch.equal(back.state_dict()[k], v), k
    print("save_nwq / load_nwq round trip: ok")


# ---------------------------------------------------------------- against nwq

def run_nwq(*args):
    out = subprocess.run([NWQ, *args], capture_output=True, text=True)
    assert out.returncode == 0, f"nwq {' '.join(args)} failed:\n{out.stderr[-2000:]}"
    return out.stdout


def nwq_has_data_command():
    return subprocess.run([NWQ, "data", "--help"], capture_output=True).returncode == 0


def compare_with_nwq(weights, data_spec, limit, fmnist_check=False):
    """nwq eval's top-1 and loss on `nwq data`'s exact images against the PyTorch model's."""
    data_file = tmp(os.path.basename(weights) + ".data.safetensors")
    run_nwq("data", "--data", data_spec, "--split", "test", "--limit", str(limit),
            "--weights", weights, "--out", data_file)
    t, _ = st_io.read(data_file)
    images, labels = t["images"], t["labels"]
    if fmnist_check:  # our own Fashion-MNIST reading + normalization gives the same floats
        u8, all_labels = ref_data.fashion_mnist("test")
        idx = t["indices"]
        mine = ref_data.normalize(u8[idx], ref_data.FMNIST_MEAN, ref_data.FMNIST_STD)
        assert torch.equal(mine, images), (mine - images).abs().max()
        assert torch.equal(all_labels[idx], labels)
    res = json.loads(run_nwq("eval", "--weights", weights, "--data", data_spec, "--limit",
                             str(limit), "--quiet", "--json").strip().splitlines()[-1])
    model, _ = models.load_nwq(weights)
    with torch.no_grad():
        logits = torch.cat([model(images[i:i + 100]) for i in range(0, len(labels), 100)])
    loss = torch.nn.functional.cross_entropy(logits.double(), labels).item()
    correct = (logits.argmax(1) == labels).sum().item()
    nwq_correct = round(res["top1"] * res["images"] / 100)
    rel = abs(loss - res["loss"]) / max(abs(res["loss"]), 1e-12)
    assert res["images"] == len(labels), res
    assert abs(correct - nwq_correct) <= 1, (correct, nwq_correct)
    assert rel < 1e-4, (loss, res["loss"])
    print(f"  {os.path.basename(weights)} on {data_spec} ({len(labels)} images): top-1 "
          f"{100 * correct / len(labels):.2f}% vs nwq {res['top1']:.2f}%, loss {loss:.6f} vs "
          f"nwq {res['loss']:.6f} (rel {rel:.1e})")


def test_against_nwq():
    if not os.access(NWQ, os.X_OK):
        print("against nwq: skipped (no build/nwq; run make build/nwq)")
        return
    if not nwq_has_data_command():
        print("against nwq: skipped (build/nwq has no `data` command yet)")
        return
    limit = int(os.environ.get("NWQ_REF_LIMIT", "300"))
    print("against nwq (eval top-1 and loss on `nwq data` images):")
    compare_with_nwq(os.path.join(WEIGHTS, "fmnist_resnet20.safetensors"), "fmnist", limit, True)
    compare_with_nwq(os.path.join(WEIGHTS, "fmnist_mobilenetv2_cifar.safetensors"), "fmnist",
                     min(limit, 200))
    # A file written by save_nwq (random weights, 1 input channel, non-default mean/std) in nwq.
    for name in ("resnet20", "mobilenetv2_cifar"):
        torch.manual_seed(4)
        path = tmp(f"saved_{name}.safetensors")
        models.save_nwq(randomize_bn(models.build(name, 10, 1), 5), name, path,
                        {"mean": (0.3,), "std": (0.4,), "data": "fmnist", "top1": "0"})
        compare_with_nwq(path, "fmnist", 100)
    cifar = os.environ.get("NWQ_CIFAR10_DIR")
    if cifar:
        for ck in ("cifar10_resnet20", "cifar10_mobilenetv2_cifar"):
            compare_with_nwq(os.path.join(WEIGHTS, ck + ".safetensors"), "cifar10:" + cifar,
                             min(limit, 200))
    else:
        print("  CIFAR-10 checkpoints: skipped (set NWQ_CIFAR10_DIR to an ImageFolder)")


if __name__ == "__main__":
    torch.manual_seed(0)
    test_st_io_round_trip()
    test_golden_resnet20()
    test_blocks_compose_to_forward()
    test_mobilenet_strides()
    test_load_committed_weights()
    test_save_load_round_trip()
    test_against_nwq()
    shutil.rmtree(TMP, ignore_errors=True)
    print("all reference tests passed")
