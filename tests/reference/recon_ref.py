# Reconstruction as the official QDrop code does it (wimh966/QDrop, solver/recon.py: unit by unit,
# lp_loss, LossFunction's warm-up and beta decay, Adam on AdaRound's alpha and on the LSQ steps
# with cosine decay, QDrop's input and activation dropping), and a PyTorch NWQ on the same
# quantizers: every variable at once, the block-output loss summed over units, annealed-softmax
# rounding and AMixup of FP and quantized unit inputs.
import math

import torch

from qdrop_ref import FPView


def lp_loss(pred, tgt, p=2.0):
    """BRECQ/QDrop's reconstruction loss: summed over channels (dim 1), averaged over the rest."""
    return (pred - tgt).abs().pow(p).sum(1).mean()


class BetaDecay:
    """LinearTempDecay of recon.py: b_range[0] until warm_up * t_max, then linear to b_range[1]."""

    def __init__(self, t_max, warm_up=0.2, start_b=20.0, end_b=2.0):
        self.t_max, self.start_decay, self.start_b, self.end_b = t_max, warm_up * t_max, start_b, end_b

    def __call__(self, t):
        if t < self.start_decay:
            return self.start_b
        rel = (t - self.start_decay) / (self.t_max - self.start_decay)
        return self.end_b + (self.start_b - self.end_b) * max(0.0, 1 - rel)


def round_loss(layers, b, weight):
    total = 0.0
    for l in layers:
        total = total + weight * (1 - ((l.wq.h() - 0.5).abs() * 2).pow(b)).sum()
    return total


class UnitLoss:
    """recon.py's LossFunction: count from 1; no rounding loss while count < warm_up * iters."""

    def __init__(self, layers, iters, weight, warm_up=0.2, b_range=(20.0, 2.0)):
        self.layers, self.weight, self.loss_start = layers, weight, iters * warm_up
        self.decay = BetaDecay(iters, warm_up, *b_range)
        self.count = 0

    def __call__(self, pred, tgt):
        self.count += 1
        rec = lp_loss(pred, tgt)
        b = self.decay(self.count)
        reg = 0.0 if self.count < self.loss_start else round_loss(self.layers, b, self.weight)
        return rec + reg, rec.detach(), reg  # tensors: no device sync unless someone reads them


def unit_io(qm, u, calib, batch=32):
    """The unit's quantized input (through the quantized prefix) and FP input/output, computed
    in chunks of `batch` as save_inp_oup_data does."""
    q_in, fp_in, fp_out = [], [], []
    with torch.no_grad():
        for i in range(0, calib.shape[0], batch):
            x = calib[i:i + batch]
            h = x
            for v in range(u):
                h = qm.run_unit(v, h)
            q_in.append(h)
            with FPView(qm):
                h = x
                for v in range(u):
                    h = qm.run_unit(v, h)
                fp_in.append(h)
                fp_out.append(qm.run_unit(u, h))
    return torch.cat(q_in), torch.cat(fp_in), torch.cat(fp_out)


def reconstruct_unit(qm, u, calib, iters, drop_prob, weight, batch=32, lr_round=1e-3,
                     lr_act=4e-5, batches=None, on_step=None):
    """recon.py's reconstruction() for unit u. batches: optional list of index tensors used in
    place of torch.randint (for golden steps without randomness); on_step(i, loss, rec, reg) is
    called after each backward, before the optimizer steps."""
    q_in, fp_in, fp_out = unit_io(qm, u, calib, batch)
    layers = qm.layers_of_unit(u)
    for l in layers:
        l.wq.init_rounding(l.weight, "adaround")
    acts = qm.unit_acts[u]
    for a in acts:
        a.drop_prob = drop_prob
    w_opt = torch.optim.Adam([l.wq.alpha for l in layers], lr=lr_round)
    a_opt = torch.optim.Adam([a.scale for a in acts], lr=lr_act) if acts else None
    a_sched = torch.optim.lr_scheduler.CosineAnnealingLR(a_opt, T_max=iters, eta_min=0.0) if acts else None
    loss_fn = UnitLoss(layers, iters, weight)
    n = q_in.shape[0]
    for i in range(iters):
        # indices drawn where the data lives: a CPU index would sync the GPU every iteration
        idx = batches[i] if batches is not None else torch.randint(0, n, (batch,), device=q_in.device)
        cur_q, cur_fp = q_in[idx], fp_in[idx]
        cur_in = torch.where(torch.rand_like(cur_q) < drop_prob, cur_q, cur_fp) if drop_prob < 1.0 else cur_q
        if a_opt:
            a_opt.zero_grad()
        w_opt.zero_grad()
        loss, rec, reg = loss_fn(qm.run_unit(u, cur_in), fp_out[idx])
        loss.backward()
        if on_step:
            on_step(i, float(loss), float(rec), float(reg))
        w_opt.step()
        if a_opt:
            a_opt.step()
            a_sched.step()
    for l in layers:
        l.wq.harden()
    for a in acts:
        a.drop_prob = 1.0


def qdrop(qm, calib, iters, weight, drop_prob=0.5, log=print):
    """Every unit in order (QDrop's recon_model); drop_prob 1.0 is 'BRECQ-style' (no dropping)."""
    for u, name in enumerate(qm.names):
        if not qm.layers_of_unit(u):
            continue
        log(f"unit {u} {name}")
        reconstruct_unit(qm, u, calib, iters, drop_prob, weight)


def act_pass_unit(qm, u, calib, iters, lr=4e-4, p=2.4, batch=32):
    """BRECQ's activation pass for unit u (block_reconstruction with act_quant=True): only the
    unit's activation steps, Adam with cosine decay, lp_loss with exponent p, quantized input."""
    acts = qm.unit_acts[u]
    if not acts:
        return
    q_in, _, fp_out = unit_io(qm, u, calib, batch)
    opt = torch.optim.Adam([a.scale for a in acts], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=iters, eta_min=0.0)
    for _ in range(iters):
        idx = torch.randperm(q_in.shape[0], device=q_in.device)[:batch]  # BRECQ: distinct indices
        opt.zero_grad()
        lp_loss(qm.run_unit(u, q_in[idx]), fp_out[idx], p).backward()
        opt.step()
        sched.step()


def brecq(qm, calib, iters, weight, act_lr=4e-4, act_p=2.4, log=print):
    """BRECQ's public main_imagenet.py structure on these quantizers: every unit's rounding with
    activation quantization off, then every unit's activation steps (iters / 4, as its 5,000 for
    20,000; lr 4e-4; lp_loss with p = 2.4) with everything quantized."""
    for a in qm.acts:
        a.quant = False
    for u, name in enumerate(qm.names):
        log(f"weights {u} {name}")
        reconstruct_unit(qm, u, calib, iters, 1.0, weight)
    for a in qm.acts:
        a.quant = True
    for u, name in enumerate(qm.names):
        log(f"acts {u} {name}")
        act_pass_unit(qm, u, calib, max(1, iters // 4), act_lr, act_p)


def nwq(qm, calib, iters, batch=32, lr_round=1e-3, lr_act=4e-5, tau=(1.0, 0.01), share=(0.5, 0.0),
        log=print, log_every=500):
    """NWQ: all rounding logits (annealed softmax, tau linear) and LSQ steps optimized jointly; the
    loss is the sum over units of lp_loss(quantized unit output, FP unit output); each unit's
    input mixes the FP and quantized outputs of the unit before (FP share linear 0.5 -> 0)."""
    for l in qm.layers:
        l.wq.init_rounding(l.weight, "asoftmax")
    w_opt = torch.optim.Adam([l.wq.alpha for l in qm.layers], lr=lr_round)
    a_opt = torch.optim.Adam([a.scale for a in qm.acts], lr=lr_act)
    a_sched = torch.optim.lr_scheduler.CosineAnnealingLR(a_opt, T_max=iters, eta_min=0.0)
    n = calib.shape[0]
    for i in range(iters):
        t = i / iters
        for l in qm.layers:
            l.wq.tau = tau[0] + (tau[1] - tau[0]) * t
        fp_share = share[0] + (share[1] - share[0]) * t
        x = calib[torch.randint(0, n, (batch,), device=calib.device)]
        with torch.no_grad(), FPView(qm):
            fp, h = [], x
            for u in range(len(qm.names)):
                h = qm.run_unit(u, h)
                fp.append(h)
        w_opt.zero_grad()
        a_opt.zero_grad()
        loss, h = 0.0, x
        for u in range(len(qm.names)):
            y = qm.run_unit(u, h)
            loss = loss + lp_loss(y, fp[u])
            h = fp_share * fp[u] + (1 - fp_share) * y if fp_share > 0 else y
        loss.backward()
        w_opt.step()
        a_opt.step()
        a_sched.step()
        if log and (i % log_every == 0 or i + 1 == iters):
            log(f"nwq {i + 1}/{iters} loss {float(loss):.4f} tau {qm.layers[0].wq.tau:.3f}")
    for l in qm.layers:
        l.wq.harden()


def evaluate(model, images, labels, batch=500):
    """Top-1 (percent) of model on images/labels (already on the model's device)."""
    correct = 0
    with torch.no_grad():
        for i in range(0, images.shape[0], batch):
            correct += int((model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum())
    return 100.0 * correct / images.shape[0]
