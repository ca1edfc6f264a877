# PyTorch twins of nwq's CIFAR models (resnet20/32/44/56, mobilenetv2_cifar, mobilenet_v2) with nwq's
# exact state_dict names and shapes, their reconstruction units as nwq's blocks() defines them,
# and load/save of nwq safetensors checkpoints. See models/resnet_cifar.cpp, models/mobilenet_v2.cpp.
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


# ---------------------------------------------------------------- CIFAR ResNet (option A)

class ShortcutA(nn.Module):
    """Option-A shortcut: subsample by `stride`, then zero-pad `pad` channels on each side."""

    def __init__(self, stride, pad):
        super().__init__()
        self.stride, self.pad = stride, pad

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad)) if self.pad else x


class CifarBasicBlock(nn.Module):
    # Module names and order as nwq's CifarBasicBlock (relu1/relu2 and shortcut have no state).
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = ShortcutA(stride, planes // 4)
        else:
            self.shortcut = nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth=20, in_channels=3, num_classes=10):
        super().__init__()
        assert depth >= 8 and (depth - 2) % 6 == 0, f"depth must be 6n + 2, got {depth}"
        self.depth, n = depth, (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        in_planes = 16
        for i, (planes, stride) in enumerate(((16, 1), (32, 2), (64, 2))):
            stage = []
            for b in range(n):
                stage.append(CifarBasicBlock(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():  # nwq's init: kaiming normal (fan_in) conv and linear weights
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def units(self):
        """(name, callable, module paths) per reconstruction unit, as nwq's CifarResNet::blocks().
        Callables look modules up when called, so swapping a submodule (e.g. a quantized conv)
        changes the unit."""
        out = [("stem", lambda x: self.relu(self.bn1(self.conv1(x))), ["conv1", "bn1", "relu"])]
        for s in (1, 2, 3):
            for i in range(len(getattr(self, f"layer{s}"))):
                path = f"layer{s}.{i}"
                out.append((path, _call_path(self, path), [path]))
        out.append(("head", lambda x: self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)),
                    ["linear"]))
        return out


# ---------------------------------------------------------------- MobileNetV2 (torchvision names)

def conv_bn_relu6(in_ch, out_ch, kernel, stride, groups=1):
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2,
                                   groups=groups, bias=False),
                         nn.BatchNorm2d(out_ch), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, in_ch, out_ch, stride, expand_ratio):
        super().__init__()
        hidden = in_ch * expand_ratio
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu6(in_ch, hidden, 1, 1))
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),  # depthwise
                   nn.Conv2d(hidden, out_ch, 1, 1, 0, bias=False), nn.BatchNorm2d(out_ch)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# torchvision's inverted_residual_setting: expand ratio t, channels c, blocks n, stride s.
MBV2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                 (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    """cifar=True is nwq's mobilenetv2_cifar: the stem conv (features.0) and the first block of
    the 24-channel stage (features.2) have stride 1 instead of 2. Dropout 0.2 as nwq."""

    def __init__(self, in_channels=3, num_classes=10, cifar=True, dropout=0.2):
        super().__init__()
        self.cifar = cifar
        feats = [conv_bn_relu6(in_channels, 32, 3, 1 if cifar else 2)]
        ch = 32
        for stage, (t, c, n, s) in enumerate(MBV2_SETTINGS):
            first = 1 if cifar and stage == 1 else s
            for i in range(n):
                feats.append(InvertedResidual(ch, c, first if i == 0 else 1, t))
                ch = c
        feats.append(conv_bn_relu6(ch, 1280, 1, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))
        for m in self.modules():  # torchvision's (and nwq's) init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def units(self):
        """As nwq's MobileNetV2::blocks() with the head split: stem (features.0), features.1 ...
        features.17 (inverted residuals), features.18 (1x1 conv-BN-ReLU6), head (pool+classifier)."""
        out = [("stem", _call_path(self, "features.0"), ["features.0"])]
        for i in range(1, len(self.features)):
            path = f"features.{i}"
            out.append((path, _call_path(self, path), [path]))
        out.append(("head", lambda x: self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)),
                    ["classifier"]))
        return out


# ---------------------------------------------------------------- units, registry, files

def _call_path(model, path):
    return lambda x: model.get_submodule(path)(x)


def blocks(model):
    """Ordered (name, callable) reconstruction units; composing them equals model.forward."""
    return [(name, fn) for name, fn, _ in model.units()]


def unit_modules(model):
    """OrderedDict unit name -> the module paths (prefixes of state_dict names) it owns."""
    return OrderedDict((name, paths) for name, _, paths in model.units())


MODELS = {
    "resnet20": lambda nc, ic: CifarResNet(20, ic, nc),
    "resnet32": lambda nc, ic: CifarResNet(32, ic, nc),
    "resnet44": lambda nc, ic: CifarResNet(44, ic, nc),
    "resnet56": lambda nc, ic: CifarResNet(56, ic, nc),
    "mobilenetv2_cifar": lambda nc, ic: MobileNetV2(ic, nc, cifar=True),
    "mobilenet_v2": lambda nc, ic: MobileNetV2(ic, nc, cifar=False),
}

# (first conv weight, classifier weight) per family: in_channels and num_classes come from these.
_SHAPE_KEYS = {"resnet": ("conv1.weight", "linear.weight"),
               "mobilenet": ("features.0.0.weight", "classifier.1.weight")}


def build(name, num_classes=10, in_channels=3):
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    return MODELS[name](num_classes, in_channels)


def load_nwq(path, model_name=None, map_location="cpu"):
    """Builds the model named by the file's `model` metadata (or model_name), sized from the
    tensor shapes, loads it strictly and returns (model in eval mode, metadata)."""
    tensors, meta = st_io.read(path)
    name = model_name or meta.get("model")
    if not name:
        raise ValueError(f"{path}: no 'model' in the metadata; pass model_name")
    conv_key, fc_key = _SHAPE_KEYS["mobilenet" if name.startswith("mobilenet") else "resnet"]
    if conv_key not in tensors or fc_key not in tensors:
        raise ValueError(f"{path}: no {conv_key} / {fc_key}: not a {name} checkpoint")
    model = build(name, num_classes=tensors[fc_key].shape[0], in_channels=tensors[conv_key].shape[1])
    model.load_state_dict(tensors, strict=True)
    return model.to(map_location).eval(), meta


def save_nwq(model, name, path, metadata=None):
    """Writes model.state_dict() (BN num_batches_tracked as I64) with metadata `model`,
    `num_classes`, `in_channels` and the caller's (mean, std, data, top1, trained_by, ...).
    mean/std given as sequences are written as comma-separated text."""
    state = OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())
    conv_key, fc_key = _SHAPE_KEYS["mobilenet" if name.startswith("mobilenet") else "resnet"]
    meta = {"model": name, "num_classes": state[fc_key].shape[0],
            "in_channels": state[conv_key].shape[1]}
    for k, v in (metadata or {}).items():
        meta[k] = ",".join(str(float(x)) for x in v) if isinstance(v, (list, tuple)) else v
    st_io.write(path, state, meta)
