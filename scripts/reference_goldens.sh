#!/usr/bin/env bash
# `make reference`: the PyTorch reference harness (tests/reference/harness.py) writes the goldens
# that tests/test_reference_goldens.cpp compares nwq with, from the same Fashion-MNIST tensors
# nwq feeds its models (`nwq data`). CPU, Debian's python3-torch (about 15 minutes on 2 cores).
# With CIFAR10_DIR=DIR (an ImageFolder or binary batches) it also compares RTN top-1 of the two on
# the PyTorch-trained CIFAR-10 checkpoints over the full test split.
# Usage: bash scripts/reference_goldens.sh NWQ_BINARY [PYTHON]
set -euo pipefail
nwq=${1:-build/nwq}
python=${2:-/usr/bin/python3}
work=build/reference
out=tests/reference/goldens
mkdir -p "$work" "$out"
"$nwq" data --data fmnist --split calib --calib 256 --seed 0 --out "$work/fm_calib.safetensors"
"$nwq" data --data fmnist --split test --limit 2000 --out "$work/fm_test2000.safetensors"
"$nwq" data --data fmnist --split test --limit 200 --out "$work/fm_test200.safetensors"
harness=tests/reference/harness.py
"$python" $harness golden --weights models/weights/fmnist_resnet20.safetensors \
  --calib "$work/fm_calib.safetensors" --test "$work/fm_test2000.safetensors" \
  --configs W4A4,W2A4,W2A2 --out "$out/fmnist_resnet20.safetensors"
"$python" $harness golden --weights models/weights/fmnist_mobilenetv2_cifar.safetensors \
  --calib "$work/fm_calib.safetensors" --test "$work/fm_test200.safetensors" --configs W4A4,W2A4 \
  --init-images 64 --recon-unit 2 --recon-bits W2A4 --out "$out/fmnist_mobilenetv2_cifar.safetensors"
CIFAR10=${CIFAR10_DIR:-}
[ -n "$CIFAR10" ] && [ -d "$CIFAR10" ] || exit 0
for w in cifar10_resnet20_torch cifar10_mobilenetv2_cifar_torch; do
  weights=models/weights/$w.safetensors
  "$nwq" data --data "cifar10:$CIFAR10" --split calib --calib 1024 --seed 0 --weights "$weights" \
    --out "$work/${w}_calib.safetensors"
  "$nwq" data --data "cifar10:$CIFAR10" --split test --weights "$weights" --out "$work/${w}_test.safetensors"
  for bits in "4 4" "2 4"; do
    set -- $bits
    ours=$("$nwq" quantize --weights "$weights" --data "cifar10:$CIFAR10" --method rtn --wbits $1 \
      --abits $2 --calib 1024 --seed 0 --no-fp-eval --quiet --json | sed 's/.*"quant_top1":\([0-9.]*\).*/\1/')
    theirs=$("$python" $harness run --weights "$weights" --calib "$work/${w}_calib.safetensors" \
      --test "$work/${w}_test.safetensors" --method rtn --wbits $1 --abits $2 --quiet |
      sed 's/.*"quant_top1": \([0-9.]*\).*/\1/')
    echo "$w RTN W$1A$2: nwq $ours%, harness $theirs%"
  done
done
