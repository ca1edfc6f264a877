# PyTorch reference for bench_models: torchvision ResNet-18 / MobileNetV2 (batch, 3x224x224, F32)
# eager inference and training-step time on the same GPU. Prints "torch <model> <infer_ms> <train_ms>".
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def timed(fn, steps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return 1000.0 * (time.perf_counter() - start) / steps


def main():
    name, batch, tf32, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    y = torch.randint(0, 1000, (batch,), device="cuda")

    def infer():
        with torch.no_grad():
            model(x)

    def train():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    model.eval()
    infer_ms = timed(infer, steps)
    model.train()
    train_ms = timed(train, steps)
    print(f"torch {name} {infer_ms:.3f} {train_ms:.3f}")


if __name__ == "__main__":
    main()
