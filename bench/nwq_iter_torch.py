# PyTorch reference for `nwq_bench nwqiter`: one NWQ reconstruction iteration on torchvision
# ResNet-18 written in plain PyTorch eager, the same work as nwq's: BN folded; every conv/linear
# weight soft-rounded by an annealed softmax over candidates {0, 1} with per-channel asymmetric
# grids (first/last layer 8-bit); an LSQ fake quantizer after each inner ReLU and at each block
# output (last one 8-bit); FP block outputs computed on the fly without a graph; the loss summed
# over blocks (per-sample squared error); AMixup between blocks; Adam on the logits (1e-3) and the
# steps (4e-5). Prints "torch nwqiter <ms per iteration>".
# Usage: python3 bench/nwq_iter_torch.py SIZE BATCH ITERS DEVICE WBITS ABITS
import copy
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def fold(conv, bn):
    k = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * k.view(-1, 1, 1, 1)
    b = (conv.bias if conv.bias is not None else 0) - bn.running_mean
    return w.detach(), (b * k + bn.bias).detach()


class SoftWeight(nn.Module):
    """w_q = s * (clamp(floor(w/s) + sum_k k softmax(V/tau)_k + z, 0, qmax) - z), k in {0, 1}."""

    def __init__(self, w, bits):
        super().__init__()
        self.qmax = 2 ** bits - 1
        flat = w.flatten(1)
        lo, hi = flat.min(1).values.clamp(max=0), flat.max(1).values.clamp(min=0)
        shape = (-1,) + (1,) * (w.dim() - 1)
        self.s = ((hi - lo) / self.qmax).clamp(min=1e-8).view(shape)
        self.z = torch.round(-lo.view(shape) / self.s)
        self.floor = torch.floor(w / self.s)
        frac = (w / self.s - self.floor).clamp(1e-4, 1 - 1e-4)
        self.v = nn.Parameter(torch.stack([torch.log(1 - frac), torch.log(frac)]))
        self.tau = 1.0

    def forward(self):
        r = torch.softmax(self.v / self.tau, dim=0)[1]
        return self.s * (torch.clamp(self.floor + r + self.z, 0, self.qmax) - self.z)


class ActQuant(nn.Module):
    """LSQ fake quantization, per tensor, asymmetric (unsigned after ReLU)."""

    def __init__(self, bits, scale):
        super().__init__()
        self.qmax = 2 ** bits - 1
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, x):
        xs = x / self.scale
        q = torch.clamp(xs + (xs.round() - xs).detach(), 0, self.qmax)
        return q * self.scale


class QuantResNet18(nn.Module):
    def __init__(self, fp, wbits, abits):
        super().__init__()
        self.fp = fp
        convs = [("conv1", fp.conv1, fp.bn1)]
        for li in range(1, 5):
            for bi, blk in enumerate(getattr(fp, f"layer{li}")):
                convs += [(f"layer{li}.{bi}.conv1", blk.conv1, blk.bn1), (f"layer{li}.{bi}.conv2", blk.conv2, blk.bn2)]
                if blk.downsample is not None:
                    convs.append((f"layer{li}.{bi}.ds", blk.downsample[0], blk.downsample[1]))
        self.folded = {n: fold(c, b) for n, c, b in convs}
        self.folded["fc"] = (fp.fc.weight.detach(), fp.fc.bias.detach())
        self.weights = nn.ModuleDict({n.replace(".", "_"): SoftWeight(w, 8 if n in ("conv1", "fc") else wbits)
                                      for n, (w, _) in self.folded.items()})
        names = ["stem_relu", "stem_out"] + [f"{l}_{b}_{k}" for l in range(1, 5) for b in range(2) for k in ("relu", "out")]
        self.acts = nn.ModuleDict({n: ActQuant(8 if n == "4_1_out" else abits, 0.05) for n in names})

    def conv(self, name, x, stride=1, padding=1, quant=True):
        w, b = self.folded[name]
        if quant:
            w = self.weights[name.replace(".", "_")]()
        return F.conv2d(x, w, b, stride, padding)

    def blocks(self, quant):
        act = (lambda n, x: self.acts[n](x)) if quant else (lambda n, x: x)
        out = []
        out.append(lambda x: act("stem_out", F.max_pool2d(act("stem_relu", F.relu(self.conv("conv1", x, 2, 3, quant))), 3, 2, 1)))
        for li in range(1, 5):
            for bi, blk in enumerate(getattr(self.fp, f"layer{li}")):
                def block(x, li=li, bi=bi, blk=blk):
                    s = blk.conv1.stride[0]
                    h = act(f"{li}_{bi}_relu", F.relu(self.conv(f"layer{li}.{bi}.conv1", x, s, 1, quant)))
                    h = self.conv(f"layer{li}.{bi}.conv2", h, 1, 1, quant)
                    idn = self.conv(f"layer{li}.{bi}.ds", x, s, 0, quant) if blk.downsample is not None else x
                    return act(f"{li}_{bi}_out", F.relu(h + idn))
                out.append(block)
        def head(x):
            w, b = self.folded["fc"]
            if quant:
                w = self.weights["fc"]()
            return F.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1), w, b)
        out.append(head)
        return out


def main():
    size, batch, iters, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    wbits, abits = int(sys.argv[5]), int(sys.argv[6])
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    fp = torchvision.models.resnet18().eval().to(device)
    qm = QuantResNet18(fp, wbits, abits).to(device)
    for m in qm.weights.values():
        m.s, m.z, m.floor = m.s.to(device), m.z.to(device), m.floor.to(device)
    qm.folded = {k: (w.to(device), b.to(device)) for k, (w, b) in qm.folded.items()}
    opt_v = torch.optim.Adam([m.v for m in qm.weights.values()], lr=1e-3)
    opt_s = torch.optim.Adam([a.scale for a in qm.acts.values()], lr=4e-5)
    calib = torch.randn(4 * batch, 3, size, size, device=device)
    fp_blocks, q_blocks = qm.blocks(False), qm.blocks(True)

    def step(t):
        idx = torch.randperm(calib.shape[0], device=device)[:batch]
        x = calib[idx]
        with torch.no_grad():
            targets, h = [], x
            for f in fp_blocks:
                h = f(h)
                targets.append(h)
        for m in qm.weights.values():
            m.tau = 1.0 + (0.01 - 1.0) * t
        share = 0.5 * (1 - t)
        loss, h = 0.0, x
        for f, target in zip(q_blocks, targets):
            y = f(h)
            loss = loss + (y - target).pow(2).sum() / batch
            h = share * target + (1 - share) * y
        opt_v.zero_grad()
        opt_s.zero_grad()
        loss.backward()
        opt_v.step()
        opt_s.step()
        return loss.item()  # nwq reads the loss every iteration too (NaN check)

    for i in range(3):
        step(0.0)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(iters):
        step(i / iters)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    print(f"torch nwqiter {1000.0 * (time.perf_counter() - start) / iters:.3f}")


if __name__ == "__main__":
    main()
