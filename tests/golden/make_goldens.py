# Writes the PyTorch golden files (safetensors) that nwq's tests compare its ops and ResNet-20 against.
# Run: /usr/bin/python3 tests/golden/make_goldens.py [--check]   (Debian python3-torch, CPU; deterministic)
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "tests/golden/make_goldens.py"
DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


# ---------------------------------------------------------------- safetensors writer

def save_safetensors(name, tensors, metadata):
    """tensors: ordered dict name -> torch.Tensor; data laid out back to back in that order."""
    header, blobs, offset = {}, [], 0
    meta = {"generator": GENERATOR, "torch": torch.__version__}
    meta.update(metadata)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    for key, t in tensors.items():
        dtype, np_dtype = DTYPES[t.dtype]
        blob = t.detach().contiguous().numpy().astype(np_dtype).tobytes()
        header[key] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(OUT_DIR, name)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print(f"wrote {name}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


def with_grad(t):
    return t.clone().requires_grad_(True)


# ---------------------------------------------------------------- 1. conv2d

# (N, Cin, H, W, Cout, kernel, stride, padding, dilation, groups, bias)
CONV_CASES = [
    (2, 3, 8, 8, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),     # plain 3x3 pad 1
    (2, 3, 9, 9, 5, (3, 3), (2, 2), (1, 1), (1, 1), 1, False),    # stride 2
    (3, 8, 6, 6, 6, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),     # 1x1
    (2, 3, 10, 10, 4, (3, 3), (1, 1), (2, 2), (2, 2), 1, True),   # dilation 2
    (2, 6, 7, 7, 4, (3, 3), (1, 1), (1, 1), (1, 1), 2, False),    # groups 2: 3 in / 2 out per group
    (2, 5, 9, 9, 5, (3, 3), (2, 2), (1, 1), (1, 1), 5, True),     # depthwise
    (1, 3, 7, 11, 4, (3, 2), (2, 1), (1, 0), (1, 1), 1, True),    # prime spatial, asymmetric
    (2, 4, 13, 13, 3, (5, 5), (1, 1), (2, 2), (1, 1), 1, True),   # 5x5 pad 2
]


def make_conv2d():
    tensors, meta = {}, {}
    for i, (n, cin, h, w, cout, k, s, p, d, g, has_bias) in enumerate(CONV_CASES):
        torch.manual_seed(100 + i)
        x = with_grad(torch.randn(n, cin, h, w))
        wt = with_grad(torch.randn(cout, cin // g, *k) * 0.5)
        b = with_grad(torch.randn(cout)) if has_bias else None
        y = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
        gy = torch.randn_like(y)
        y.backward(gy)  # gradients of (y * gy).sum()
        case = f"case{i}"
        meta[case] = (f"stride={s[0]},{s[1]} padding={p[0]},{p[1]} "
                      f"dilation={d[0]},{d[1]} groups={g}")
        tensors[f"{case}.x"] = x
        tensors[f"{case}.w"] = wt
        if has_bias:
            tensors[f"{case}.b"] = b
        tensors[f"{case}.gy"] = gy
        tensors[f"{case}.y"] = y
        tensors[f"{case}.gx"] = x.grad
        tensors[f"{case}.gw"] = wt.grad
        if has_bias:
            tensors[f"{case}.gb"] = b.grad
    meta["cases"] = str(len(CONV_CASES))
    meta["note"] = "gradients are of (y*gy).sum(); a case without bias has no .b/.gb keys"
    save_safetensors("conv2d.safetensors", tensors, meta)


# ---------------------------------------------------------------- 2. batch_norm

def bn_case(prefix, shape, training, seed, momentum=0.1, eps=1e-5):
    torch.manual_seed(seed)
    c = shape[1]
    x = with_grad(torch.randn(*shape) * 2.0 + 0.5)
    weight = with_grad(1.0 + 0.3 * torch.randn(c))
    bias = with_grad(0.3 * torch.randn(c))
    running_mean = 0.2 * torch.randn(c)
    running_var = 0.5 + torch.rand(c)
    rm, rv = running_mean.clone(), running_var.clone()  # F.batch_norm updates these in place
    y = F.batch_norm(x, rm, rv, weight, bias, training=training, momentum=momentum, eps=eps)
    gy = torch.randn_like(y)
    y.backward(gy)
    out = {"x": x, "weight": weight, "bias": bias, "running_mean": running_mean,
           "running_var": running_var, "y": y}
    if training:
        out.update({"running_mean_after": rm, "running_var_after": rv})
    out.update({"gy": gy, "gx": x.grad, "gweight": weight.grad, "gbias": bias.grad})
    return {f"{prefix}.{k}": v for k, v in out.items()}


def make_batch_norm():
    tensors = {}
    tensors.update(bn_case("train", (4, 3, 5, 5), training=True, seed=200))
    tensors.update(bn_case("eval", (4, 3, 5, 5), training=False, seed=201))
    tensors.update(bn_case("train1d", (8, 5), training=True, seed=202))
    meta = {"momentum": "0.1", "eps": "1e-05",
            "train": "training=True: batch stats (biased var) normalize; running_var gets unbiased var",
            "eval": "training=False: running stats normalize; no *_after keys",
            "train1d": "training=True on a 2-D (N, C) input, BatchNorm1d-style"}
    save_safetensors("batch_norm.safetensors", tensors, meta)


# ---------------------------------------------------------------- 3. pooling

def distinct_values(shape):
    """A random permutation of distinct, exactly representable values: no ties for max-pool."""
    n = int(np.prod(shape))
    return ((torch.randperm(n).float() - n / 2) / 8.0).reshape(shape)


def make_pooling():
    cases = [  # (name, fn, input shape, description)
        ("maxpool_k3s2p1", lambda x: F.max_pool2d(x, 3, 2, 1), (2, 3, 9, 9),
         "max_pool2d kernel=3 stride=2 padding=1"),
        ("maxpool_k2s2", lambda x: F.max_pool2d(x, 2, 2), (2, 3, 8, 7),
         "max_pool2d kernel=2 stride=2 padding=0 (odd width: last column dropped)"),
        ("avgpool_k2s2", lambda x: F.avg_pool2d(x, 2, 2), (2, 3, 8, 8),
         "avg_pool2d kernel=2 stride=2 padding=0"),
        ("avgpool_k3s1p1", lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=True), (2, 3, 7, 6),
         "avg_pool2d kernel=3 stride=1 padding=1 count_include_pad=True"),
        ("gap", lambda x: F.adaptive_avg_pool2d(x, 1), (3, 4, 7, 5),
         "adaptive_avg_pool2d output 1x1"),
    ]
    tensors, meta = {}, {}
    for i, (name, fn, shape, desc) in enumerate(cases):
        torch.manual_seed(300 + i)
        x = with_grad(distinct_values(shape) if name.startswith("max") else torch.randn(*shape))
        y = fn(x)
        gy = torch.randn_like(y)
        y.backward(gy)
        tensors.update({f"{name}.x": x, f"{name}.y": y, f"{name}.gy": gy, f"{name}.gx": x.grad})
        meta[name] = desc
    save_safetensors("pooling.safetensors", tensors, meta)


# ---------------------------------------------------------------- 4. losses

def make_loss():
    torch.manual_seed(400)
    logits = torch.randn(6, 10) * 2.0
    target = torch.randint(0, 10, (6,), dtype=torch.int64)
    tensors = {"logits": logits, "target": target, "log_softmax": F.log_softmax(logits, dim=1)}
    for prefix, smoothing in (("ce", 0.0), ("ce_ls", 0.1)):
        z = with_grad(logits)
        loss = F.cross_entropy(z, target, label_smoothing=smoothing)
        loss.backward()
        tensors[f"{prefix}.loss"] = loss
        tensors[f"{prefix}.glogits"] = z.grad
    torch.manual_seed(401)
    a, b = with_grad(torch.randn(3, 7)), with_grad(torch.randn(3, 7))
    loss = F.mse_loss(a, b)
    loss.backward()
    tensors.update({"mse.a": a, "mse.b": b, "mse.loss": loss, "mse.ga": a.grad, "mse.gb": b.grad})
    meta = {"ce": "cross_entropy(logits, target), reduction=mean; glogits = d loss / d logits",
            "ce_ls": "same with label_smoothing=0.1",
            "mse": "mse_loss(a, b), reduction=mean; ga, gb = d loss / d a, d b"}
    save_safetensors("loss.safetensors", tensors, meta)


# ---------------------------------------------------------------- 5. ResNet-20 (CIFAR, option A)

class ShortcutA(nn.Module):
    """Option-A identity shortcut: stride-2 subsample, zero-pad channels. No parameters."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0.0)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = ShortcutA(planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, num_blocks, in_channels, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for i, (planes, stride) in enumerate(((16, 1), (32, 2), (64, 2))):
            blocks = []
            for s in [stride] + [1] * (num_blocks - 1):
                blocks.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():  # as in akamaster/pytorch_resnet_cifar10 (_weights_init)
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def build_resnet20():
    """Seed-0 init, then non-trivial BN: random affine params, and running stats that are
    plausible (averaged over 8 random batches in train mode) but slightly perturbed."""
    torch.manual_seed(0)
    model = CifarResNet(3, in_channels=1, num_classes=10)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(1.0 + 0.1 * torch.randn(m.num_features))
            m.bias.copy_(0.1 * torch.randn(m.num_features))
            m.momentum = None  # cumulative average while calibrating
        model.train()
        for _ in range(8):
            model(torch.randn(16, 1, 28, 28))
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(0.05 * torch.randn(m.num_features))
            m.running_var.mul_(1.0 + 0.1 * torch.rand(m.num_features))
    return model


def make_resnet20():
    model = build_resnet20()
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(500)
    x = torch.randn(4, 1, 28, 28)
    target = torch.randint(0, 10, (4,), dtype=torch.int64)
    tensors["input.x"], tensors["input.target"] = x, target

    model.eval()
    with torch.no_grad():
        tensors["eval.logits"] = model(x)

    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    tensors["train.logits"], tensors["train.loss"] = logits, loss
    for name, p in model.named_parameters():
        tensors[f"grad.{name}"] = p.grad
    for name, buf in model.named_buffers():
        tensors[f"train_after.{name}"] = buf
    meta = {"model": "resnet20", "in_channels": "1", "num_classes": "10",
            "note": "train.* is one model.train() forward (batch stats) + backward of train.loss "
                    "(cross_entropy mean); train_after.* are the BN buffers after it"}
    save_safetensors("resnet20.safetensors", tensors, meta)


# ---------------------------------------------------------------- --check: an independent reader

def read_safetensors(path):
    """Parse with struct/json/numpy only; validate the layout; return (metadata, name -> ndarray)."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0 and 8 + n <= len(data), path
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body, end, arrays = data[8 + n:], 0, {}
    kinds = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}
    for name, info in header.items():
        begin, stop = info["data_offsets"]
        dt = np.dtype(kinds[info["dtype"]])
        assert begin == end and stop - begin == dt.itemsize * int(np.prod(info["shape"])), name
        arrays[name] = np.frombuffer(body[begin:stop], dtype=dt).reshape(info["shape"])
        end = stop
    assert end == len(body), f"{path}: trailing bytes"
    return meta, arrays


def check():
    files = ["conv2d", "batch_norm", "pooling", "loss", "resnet20"]
    read = {f: read_safetensors(os.path.join(OUT_DIR, f + ".safetensors")) for f in files}
    for f, (meta, arrays) in read.items():
        assert all(np.isfinite(a).all() for a in arrays.values()), f
        print(f"{f}.safetensors: {len(arrays)} tensors ok (torch {meta['torch']})")
    # Recompute one tensor per file from its stored inputs.
    a = read["conv2d"][1]
    t = lambda k, arr=None: torch.from_numpy((arr if arr is not None else a)[k].copy())
    y = F.conv2d(t("case6.x"), t("case6.w"), t("case6.b"), stride=(2, 1), padding=(1, 0))
    assert torch.allclose(y, t("case6.y"), atol=1e-5), "conv2d case6.y"
    a = read["loss"][1]
    assert abs(F.cross_entropy(t("logits"), t("target")).item() - float(a["ce.loss"])) < 1e-6
    model = CifarResNet(3, in_channels=1, num_classes=10)
    a = read["resnet20"][1]
    model.load_state_dict({k: t(k) for k in model.state_dict()}, strict=True)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(t("input.x")), t("eval.logits"), atol=1e-5), "resnet20 eval.logits"
    print("check passed")


if __name__ == "__main__":
    torch.set_num_threads(1)  # fixed reduction order: byte-identical files run to run
    if "--check" in sys.argv:
        check()
    else:
        make_conv2d()
        make_batch_norm()
        make_pooling()
        make_loss()
        make_resnet20()
