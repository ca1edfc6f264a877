# PyTorch reference for bench_train: ResNet-20 (option-A) training images/s on the CPU with the
# same batch, input shape and thread count. Prints one line: "torch_images_per_second <x>".
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2 if stride != 1 or cin != cout else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + sc)


class ResNet20(nn.Module):
    def __init__(self, cin=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Block(c, cout, stride if i == 0 else 1))
                c = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    batch, size, threads, steps = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ResNet20()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 10, (batch,))
    for i in range(steps + 2):
        if i == 2:
            start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    print(f"torch_images_per_second {batch * steps / (time.perf_counter() - start):.1f}")


if __name__ == "__main__":
    main()
