# Writes tests/golden/optim.safetensors: parameters after each of 5 steps of torch.optim SGD
# (momentum, nesterov, weight decay), Adam and AdamW on a fixed gradient sequence (float64).
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import save_safetensors  # noqa: E402

STEPS = 5
CASES = {
    "sgd": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "plain_sgd": lambda p: torch.optim.SGD([p], lr=0.05),
    "adam": lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW([p], lr=0.01, weight_decay=0.1),
}


def main():
    torch.manual_seed(0)
    p0 = torch.randn(7, dtype=torch.float64)
    grads = torch.randn(STEPS, 7, dtype=torch.float64)
    tensors = {"p0": p0, "grads": grads}
    for name, make in CASES.items():
        p = p0.clone().requires_grad_(True)
        opt = make(p)
        history = []
        for k in range(STEPS):
            p.grad = grads[k].clone()
            opt.step()
            history.append(p.detach().clone())
        tensors[name] = torch.stack(history)
    save_safetensors("optim.safetensors", tensors, {"steps": STEPS})


if __name__ == "__main__":
    main()
