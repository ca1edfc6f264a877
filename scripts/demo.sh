#!/usr/bin/env bash
# The README's main job (`make demo`): a short ResNet-20 training run on Fashion-MNIST that
# prints the test accuracy. (Quantization will replace this with the FP/RTN/NWQ table.)
set -euo pipefail
nwq=${1:-build/nwq}
mkdir -p build/demo
"$nwq" train --model resnet20 --data fmnist --epochs 1 --limit 12800 --batch 128 --lr 0.1 \
  --seed 0 --out build/demo/resnet20_fmnist_demo.safetensors
"$nwq" eval --weights build/demo/resnet20_fmnist_demo.safetensors --data fmnist --json
