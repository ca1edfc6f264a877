# Trains resnet20 / mobilenetv2_cifar in PyTorch on a CIFAR-10 JPEG ImageFolder normalized with the
# ImageNet mean/std (on purpose: a checkpoint with statistics other than nwq's CIFAR default) and
# saves it as an nwq safetensors file. Data and augmentation live on the GPU; see --help.
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import ref_data  # noqa: E402

MEAN, STD = ref_data.IMAGENET_MEAN, ref_data.IMAGENET_STD
# Peak learning rate per model for batch 256 (nwq's recipes use 0.1 / 0.05 at batch 128).
DEFAULT_LR = {"resnet20": 0.2, "resnet32": 0.2, "resnet44": 0.2, "resnet56": 0.2,
              "mobilenetv2_cifar": 0.1}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__ or "train a reference checkpoint")
    p.add_argument("--model", default="resnet20", choices=sorted(DEFAULT_LR))
    p.add_argument("--data", required=True, help="ImageFolder root with train/ and test/")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output .safetensors")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=None, help="peak lr (default: per model)")
    p.add_argument("--wd", type=float, default=5e-4, help="weight decay (conv/linear weights)")
    p.add_argument("--warmup", type=float, default=2.0, help="linear warm-up epochs")
    p.add_argument("--cache", default=None, help=".pt file of the decoded uint8 images")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--limit-train", type=int, default=0, help="a seeded random subset (smoke test)")
    p.add_argument("--limit-test", type=int, default=0, help="a seeded random subset (smoke test)")
    p.add_argument("--compile", action="store_true", help="torch.compile the training model")
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on cuda")
    return p.parse_args()


def subset(images, labels, limit, seed):
    if not limit or limit >= len(labels):
        return images, labels
    idx = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:limit]
    idx, _ = idx.sort()
    return images[idx], labels[idx]


def load_data(args):
    """uint8 (train_x, train_y, test_x, test_y), decoded with PIL (all of it, or only the
    requested subsets when --limit-* is given and there is no cache)."""
    t0 = time.time()
    limited = args.limit_train or args.limit_test
    if args.cache or not limited:
        d = ref_data.cifar10_folder(args.data, args.workers, args.cache)
        (tx, ty), (vx, vy) = d["train"], d["test"]
        tx, ty = subset(tx, ty, args.limit_train, 1)
        vx, vy = subset(vx, vy, args.limit_test, 2)
    else:
        splits = []
        for split, limit, seed in (("train", args.limit_train, 1), ("test", args.limit_test, 2)):
            files, labels, _ = ref_data.image_folder_files(os.path.join(args.data, split))
            labels = torch.tensor(labels)
            keep = subset(torch.arange(len(files)), labels, limit, seed)[0].tolist()
            x = ref_data.decode_files([files[i] for i in keep], args.workers)
            splits += [x, labels[keep]]
        tx, ty, vx, vy = splits
    print(f"data: {len(ty)} train / {len(vy)} test images from {args.data} "
          f"({time.time() - t0:.1f} s)", flush=True)
    return tx, ty, vx, vy


def augment(x_u8, gen):
    """Random crop 32 from the image zero-padded by 4 (black pixels, as torchvision's
    RandomCrop(32, padding=4) on the uint8 image) and a horizontal flip with p = 0.5."""
    n, _, h, w = x_u8.shape
    padded = F.pad(x_u8, (4, 4, 4, 4))
    dev = x_u8.device
    oy = torch.randint(0, 9, (n,), device=dev, generator=gen)
    ox = torch.randint(0, 9, (n,), device=dev, generator=gen)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]  # n, h, 1
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]  # n, 1, w
    out = padded[torch.arange(n, device=dev)[:, None, None], :, rows, cols]  # n, h, w, c
    out = out.permute(0, 3, 1, 2)
    flip = torch.rand(n, device=dev, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def lr_at(step, total, warmup, peak):
    """Linear warm-up from peak/25, then cosine to 0."""
    if step < warmup:
        return peak * (0.04 + 0.96 * step / warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@torch.no_grad()
def evaluate(model, x_u8, y, batch=1000):
    """Top-1 (%) and mean loss in float32 (TF32 off), eval mode."""
    model.eval()
    tf32 = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    correct, loss = 0, 0.0
    for i in range(0, len(y), batch):
        xb = ref_data.normalize(x_u8[i:i + batch], MEAN, STD)
        logits = model(xb).float()
        loss += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    return 100.0 * correct / len(y), loss / len(y)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    tx, ty, vx, vy = load_data(args)  # before any CUDA use: the decoder pool forks
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.cuda.manual_seed_all(args.seed)
        torch.backends.cudnn.benchmark = True
    tx, ty, vx, vy = (t.to(dev) for t in (tx, ty, vx, vy))
    model = models.build(args.model, num_classes=10, in_channels=3).to(dev)
    mem = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    model = model.to(memory_format=mem)
    train_model = torch.compile(model) if args.compile else model
    amp = dev.type == "cuda" and not args.no_amp

    decay = [p for p in model.parameters() if p.ndim > 1]  # conv / linear weights
    no_decay = [p for p in model.parameters() if p.ndim <= 1]  # BN and biases
    peak = args.lr or DEFAULT_LR[args.model]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=peak, momentum=0.9, nesterov=True)
    steps_per_epoch = max(1, len(ty) // args.batch)  # the incomplete last batch is dropped
    total = steps_per_epoch * args.epochs
    warmup = min(int(args.warmup * steps_per_epoch), total // 5)
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    print(f"{args.model}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"{args.epochs} epochs x {steps_per_epoch} steps, batch {args.batch}, lr {peak}, "
          f"wd {args.wd}, {'bf16 autocast' if amp else 'f32'} on {dev}, torch {torch.__version__}",
          flush=True)

    start, step, top1, test_loss = time.time(), 0, 0.0, 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(ty), device=dev, generator=gen)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.int64)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            xb = ref_data.normalize(augment(tx[idx], gen), MEAN, STD).contiguous(memory_format=mem)
            yb = ty[idx]
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, warmup, peak)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                logits = train_model(xb)
                loss = F.cross_entropy(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.detach()
            correct += (logits.argmax(1) == yb).sum()
        seen = steps_per_epoch * args.batch
        train_loss, train_acc = loss_sum.item() / steps_per_epoch, 100.0 * correct.item() / seen
        top1, test_loss = evaluate(model, vx, vy)
        print(f"epoch {epoch:3d}/{args.epochs}  loss {train_loss:.4f}  train {train_acc:6.2f}%  "
              f"test {top1:6.2f}% (loss {test_loss:.4f})  {time.time() - t0:5.1f} s  "
              f"total {time.time() - start:6.1f} s", flush=True)

    model = model.to(memory_format=torch.contiguous_format).cpu().float().eval()
    models.save_nwq(model, args.model, args.out, {
        "data": "cifar10", "mean": MEAN, "std": STD, "top1": f"{top1:.2f}",
        "test_loss": f"{test_loss:.4f}", "test_images": len(vy), "epochs": args.epochs,
        "seed": args.seed, "batch": args.batch, "lr": peak, "weight_decay": args.wd,
        "trained_by": f"tests/reference/train_checkpoint.py, torch {torch.__version__}",
        "decoder": "PIL " + __import__("PIL").__version__})
    print(f"wrote {args.out}: test top-1 {top1:.2f}% ({len(vy)} PIL-decoded test images), "
          f"{time.time() - start:.1f} s training", flush=True)


if __name__ == "__main__":
    main()
