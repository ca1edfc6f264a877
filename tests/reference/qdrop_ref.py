# The quantization semantics of the official QDrop code (wimh966/QDrop: quantization/observer.py,
# fake_quant.py, util_quant.py; solver/fold_bn.py, main_imagenet.py), written anew on top of
# models.py: the MSE observer, LSQ activation quantizers, AdaRound weight quantizers (plus NWQ's
# annealed-softmax rounding), BN folding, and a quantized model with QDrop's quantizer placement.
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import models

NUM_CANDIDATES = 100  # MSEObserver.num
P_OBSERVER = 2.4      # MSEObserver.p


# ---------------------------------------------------------------- fake quantization

def round_ste(x):
    return (x.round() - x).detach() + x


def grad_scale(t, factor):
    """The value t with its gradient multiplied by factor (LSQ)."""
    return (t - t * factor).detach() + t * factor


def fake_quant(x, scale, zero_point, qmax):
    """(clamp(round(x / s) + z, 0, qmax) - z) * s; scale/zero_point broadcast against x."""
    return (torch.clamp(round_ste(x / scale) + zero_point, 0, qmax) - zero_point) * scale


def qparams(lo, hi, qmax):
    """ObserverBase.calculate_qparams, asymmetric: float32 scale and zero point tensors."""
    lo = torch.minimum(lo, torch.zeros_like(lo))
    hi = torch.maximum(hi, torch.zeros_like(hi))
    scale = torch.clamp((hi - lo) / float(qmax), min=1e-8)
    zero_point = torch.clamp(0 - torch.round(lo / scale), 0, qmax)
    return scale, zero_point


# ---------------------------------------------------------------- the MSE observer

def _score(x, lo, hi, qmax, per_channel):
    """Mean |fq(x) - x|^p per channel (x: [C, K]) or over the tensor."""
    scale, zp = qparams(lo, hi, qmax)
    if per_channel:
        scale, zp = scale.view(-1, 1), zp.view(-1, 1)
    err = (fake_quant(x, scale, zp, qmax) - x).abs().pow(P_OBSERVER)
    return err.mean(1).double() if per_channel else err.mean().double()


def mse_observe(x, bits, per_channel):
    """MSEObserver.forward on x (a weight [C, ...] per channel, or an activation per tensor):
    returns (scale, zero_point) float32 tensors ([C] or [1]). The side (one- or two-sided) is
    decided on the whole tensor; the 2-D search enumerates 100 ranges and every zero point."""
    qmax = 2 ** bits - 1
    x = x.detach().float()
    y = x.reshape(x.shape[0], -1) if per_channel else x.reshape(-1)
    one_side = "pos" if x.min() >= 0 else ("neg" if x.max() <= 0 else "no")
    if per_channel:
        x_min, x_max = y.min(1)[0], y.max(1)[0]
    else:
        x_min, x_max = y.min().view(1), y.max().view(1)
    best = torch.full_like(x_min, 1e10, dtype=torch.float64)
    best_lo, best_hi = x_min.clone(), x_max.clone()

    def consider(lo, hi):
        nonlocal best, best_lo, best_hi
        s = _score(y, lo, hi, qmax, per_channel)
        better = s < best
        best_lo = torch.where(better, lo, best_lo)
        best_hi = torch.where(better, hi, best_hi)
        best = torch.minimum(best, s)

    if one_side != "no":
        xrange = torch.maximum(x_min.abs(), x_max)
        for i in range(1, NUM_CANDIDATES + 1):
            thres = xrange / NUM_CANDIDATES * i
            lo = torch.zeros_like(x_min) if one_side == "pos" else -thres
            hi = torch.zeros_like(x_max) if one_side == "neg" else thres
            consider(lo, hi)
    else:
        if per_channel:
            x_min = torch.minimum(x_min, torch.zeros_like(x_min))
            x_max = torch.maximum(x_max, torch.zeros_like(x_max))
            best_lo, best_hi = x_min.clone(), x_max.clone()
        xrange = x_max - x_min
        for i in range(1, NUM_CANDIDATES + 1):
            tmp_max = xrange / NUM_CANDIDATES * i
            delta = tmp_max / float(qmax)
            for zp in range(qmax + 1):
                consider(-(zp * delta), tmp_max - zp * delta)
    return qparams(best_lo, best_hi, qmax)


# ---------------------------------------------------------------- quantizers

class ActQuant(nn.Module):
    """LSQFakeQuantize (per tensor, asymmetric, use_grad_scaling) with the MSE observer and
    QDrop's drop_prob: while < 1, each element keeps the quantized value with that probability."""

    def __init__(self, bits):
        super().__init__()
        self.bits = bits
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("zero_point", torch.zeros(1))
        self.observe, self.quant, self.drop_prob = False, False, 1.0

    def forward(self, x):
        if self.observe:
            s, z = mse_observe(x, self.bits, per_channel=False)
            self.scale.data.copy_(s)
            self.zero_point.copy_(z)
        else:
            self.scale.data.abs_().clamp_(min=torch.finfo(torch.float32).eps)
        if not self.quant:
            return x
        qmax = 2 ** self.bits - 1
        s = grad_scale(self.scale, 1.0 / math.sqrt(x.numel() * qmax))
        xq = fake_quant(x, s, self.zero_point, qmax)
        if self.drop_prob < 1.0:
            return torch.where(torch.rand_like(xq) < self.drop_prob, xq, x)
        return xq


def asoftmax_init_logits(frac, lo=0, hi=1, floor=1e-4):
    """Logits over candidates lo..hi whose softmax mean is frac (nwq's asoftmax_init_logits:
    every candidate gets `floor`, the rest goes to the two candidates around the needed mean)."""
    k = hi - lo + 1
    cand = torch.arange(lo, hi + 1, dtype=torch.float64, device=frac.device)
    f = frac.double().clamp(0, 1)
    rest = 1 - k * floor
    mu = ((f - floor * cand.sum()) / rest).clamp(lo, hi)
    low = torch.clamp(torch.floor(mu), max=float(hi - 1))
    w = mu - low
    probs = []
    for c in cand:
        probs.append(floor + torch.where(c == low, rest * (1 - w), torch.zeros_like(w))
                     + torch.where(c == low + 1, rest * w, torch.zeros_like(w)))
    return torch.log(torch.stack(probs)).float()


class WeightQuant(nn.Module):
    """AdaRoundFakeQuantize per output channel, with a second soft mode, NWQ's annealed softmax
    over the candidates {0, 1} added to floor(w / s). mode: nearest | adaround | asoftmax | hard."""
    ZETA, GAMMA = 1.1, -0.1

    def __init__(self, bits):
        super().__init__()
        self.bits, self.mode, self.tau = bits, "off", 1.0
        self.register_buffer("scale", torch.ones(1))
        self.register_buffer("zero_point", torch.zeros(1))
        self.alpha = None

    def _grid(self, w):
        shape = [-1] + [1] * (w.dim() - 1)
        return self.scale.view(shape), self.zero_point.view(shape)

    def init_rounding(self, w, mode):
        s, _ = self._grid(w)
        floor = torch.floor(w / s)
        rest = w / s - floor
        if mode == "adaround":
            alpha = -torch.log((self.ZETA - self.GAMMA) / (rest - self.GAMMA) - 1)
        else:
            alpha = asoftmax_init_logits(rest)
        self.alpha, self.mode = nn.Parameter(alpha), mode

    def h(self):  # AdaRound's rectified sigmoid
        return ((self.ZETA - self.GAMMA) * torch.sigmoid(self.alpha) + self.GAMMA).clamp(0, 1)

    def forward(self, w):
        if self.mode == "off":
            return w
        qmax = 2 ** self.bits - 1
        s, z = self._grid(w)
        if self.mode == "nearest":
            return fake_quant(w, s, z, qmax)
        if self.mode == "adaround":
            offset = self.h()
        elif self.mode == "asoftmax":
            offset = (torch.softmax(self.alpha / self.tau, 0)
                      * torch.arange(2, dtype=w.dtype, device=w.device).view([-1] + [1] * w.dim())).sum(0)
        else:  # hard
            offset = self.hard_offset
        return (torch.clamp(torch.floor(w / s) + offset + z, 0, qmax) - z) * s

    def harden(self):
        self.hard_offset = ((self.alpha >= 0).float() if self.mode == "adaround"
                            else self.alpha.argmax(0).float()).detach()
        self.mode, self.alpha = "hard", None


class QLayer(nn.Module):
    """A BN-folded Conv2d or Linear whose weight goes through a WeightQuant."""

    def __init__(self, module, weight, bias, bits):
        super().__init__()
        self.conv = module if isinstance(module, nn.Conv2d) else None
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.wq = WeightQuant(bits)

    def forward(self, x):
        w = self.wq(self.weight)
        if self.conv is None:
            return F.linear(x, w, self.bias)
        c = self.conv
        return F.conv2d(x, w, self.bias, c.stride, c.padding, c.dilation, c.groups)


class ActThenQuant(nn.Module):
    def __init__(self, act, quant):
        super().__init__()
        self.act, self.quant = act, quant

    def forward(self, x):
        return self.quant(self.act(x))


# ---------------------------------------------------------------- the quantized model

def fold(conv, bn):
    """(weight, bias) of conv with bn folded in, computed in float64 and rounded to float32 as nwq
    does (QDrop folds in float32; the difference is below float32 rounding)."""
    w = conv.weight.detach().double()
    b = (conv.bias.detach().double() if conv.bias is not None
         else torch.zeros(w.shape[0], dtype=torch.float64, device=w.device))
    if bn is None:
        return w.float(), b.float()
    k = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
    w = w * k.view([-1] + [1] * (w.dim() - 1))
    b = (b - bn.running_mean.detach().double()) * k + bn.bias.detach().double()
    return w.float(), b.float()


class QuantModel(nn.Module):
    """model (models.py) prepared as QDrop's quantize_model does: BN folded, conv/linear layers
    quantized per channel (first and last 8-bit), an activation quantizer after every ReLU/ReLU6
    inside a unit and one at every unit output but the last (the last of them 8-bit)."""

    def __init__(self, fp_model, wbits, abits, sample):
        super().__init__()
        self.net = copy.deepcopy(fp_model).eval()
        self._fold_and_swap(wbits)
        self.unit_list = self.net.units()
        self.names = [u[0] for u in self.unit_list]
        self.out_quant = nn.ModuleList([ActQuant(abits) for _ in self.unit_list[:-1]])
        self._wrap_inner_acts(abits, sample)
        self.layers = [m for m in self.net.modules() if isinstance(m, QLayer)]
        self.layers[0].wq.bits = self.layers[-1].wq.bits = 8
        self.acts = [q for q in self.modules() if isinstance(q, ActQuant)]
        self.acts_in_order[-1].bits = 8

    def _fold_and_swap(self, wbits):
        mods = dict(self.net.named_modules())
        names = list(mods)
        for i, name in enumerate(names):
            m = mods[name]
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            nxt = mods[names[i + 1]] if i + 1 < len(names) else None
            bn = nxt if isinstance(nxt, nn.BatchNorm2d) else None
            w, b = fold(m, bn)
            self._set(name, QLayer(m, w, b, wbits))
            if bn is not None:
                self._set(names[i + 1], nn.Identity())

    def _set(self, path, module):
        parent, _, leaf = path.rpartition(".")
        setattr(self.net.get_submodule(parent) if parent else self.net, leaf, module)

    def _wrap_inner_acts(self, abits, sample):
        """ReLU/ReLU6 modules whose output is not their unit's output get a quantizer (found by a
        traced forward: tensor identity, as nwq's QuantModel does)."""
        acts = {n: m for n, m in self.net.named_modules() if isinstance(m, (nn.ReLU, nn.ReLU6))}
        seen = []
        hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.append((n, o)))
                 for n, m in acts.items()]
        inner = []  # (unit index, act name) in execution order
        with torch.no_grad():
            h = sample
            for u, (_, fn, _) in enumerate(self.unit_list):
                seen.clear()
                h = fn(h)
                inner += [(u, n) for n, o in seen if o is not h]
        for hk in hooks:
            hk.remove()
        self.inner_quant = nn.ModuleDict()
        order = []
        for u, n in inner:
            q = ActQuant(abits)
            self.inner_quant[n.replace(".", "_")] = q
            self._set(n, ActThenQuant(acts[n], q))
            order.append((u, 0, q))
        order += [(u, 1, q) for u, q in enumerate(self.out_quant)]
        self.acts_in_order = [q for _, _, q in sorted(order, key=lambda t: (t[0], t[1]))]
        self.unit_acts = [[q for uu, _, q in order if uu == u] for u in range(len(self.unit_list))]
        self.unit_layers = None

    def layers_of_unit(self, u):
        paths = self.net.units()[u][2]
        out = []
        for p in paths:
            m = self.net.get_submodule(p)
            out += [x for x in m.modules() if isinstance(x, QLayer)]
        return out

    def run_unit(self, u, x):
        y = self.unit_list[u][1](x)
        return self.out_quant[u](y) if u < len(self.out_quant) else y

    def forward(self, x):
        for u in range(len(self.unit_list)):
            x = self.run_unit(u, x)
        return x

    # -- states
    def set_state(self, weights, acts):
        """weights: off | nearest (or leave soft/hard modes with None); acts: off | observe | on."""
        if weights is not None:
            for l in self.layers:
                if l.wq.mode in ("off", "nearest"):
                    l.wq.mode = weights
        for q in self.acts:
            q.observe = acts == "observe"
            q.quant = acts == "on"

    def calibrate(self, images, device):
        """QDrop's order: activation observers on the FP network (one batch), then weights."""
        with torch.no_grad():
            self.set_state("off", "observe")
            self(images.to(device))
            for l in self.layers:
                s, z = mse_observe(l.weight, l.wq.bits, per_channel=True)
                l.wq.scale, l.wq.zero_point = s, z
            self.set_state("nearest", "on")


class FPView:
    """The FP network with the same unit structure (quantizers off), for targets."""

    def __init__(self, qmodel):
        self.q = qmodel

    def __enter__(self):
        self.modes = [l.wq.mode for l in self.q.layers]
        self.states = [(a.observe, a.quant, a.drop_prob) for a in self.q.acts]
        for l in self.q.layers:
            l.wq.mode = "off"
        for a in self.q.acts:
            a.observe, a.quant, a.drop_prob = False, False, 1.0
        return self.q

    def __exit__(self, *exc):
        for l, m in zip(self.q.layers, self.modes):
            l.wq.mode = m
        for a, st in zip(self.q.acts, self.states):
            a.observe, a.quant, a.drop_prob = st
