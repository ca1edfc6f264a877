#!/usr/bin/env bash
# Trains one reference checkpoint with the recipe recorded in docs/MODELS.md.
# Usage: scripts/train_reference.sh NAME DATA_SPEC OUT_DIR [extra nwq train flags...]
#   NAME: fmnist_resnet20 | fmnist_mobilenetv2_cifar | cifar10_resnet20 | cifar10_resnet56 |
#         cifar10_resnet18_cifar | cifar10_mobilenetv2_cifar
set -euo pipefail
name=$1 data=$2 out=$3
shift 3
nwq=${NWQ:-build/nwq}
device=${DEVICE:-cuda}
case "$name" in
  fmnist_resnet20)           args=(--model resnet20 --epochs 15 --lr 0.1 --wd 5e-4) ;;
  fmnist_mobilenetv2_cifar)  args=(--model mobilenetv2_cifar --epochs 15 --lr 0.05 --wd 4e-5) ;;
  cifar10_resnet20)          args=(--model resnet20 --epochs 60 --lr 0.1 --wd 5e-4) ;;
  cifar10_resnet56)          args=(--model resnet56 --epochs 80 --lr 0.1 --wd 5e-4) ;;
  cifar10_resnet18_cifar)    args=(--model resnet18_cifar --epochs 40 --lr 0.1 --wd 5e-4) ;;
  cifar10_mobilenetv2_cifar) args=(--model mobilenetv2_cifar --epochs 36 --lr 0.05 --wd 5e-4) ;;
  *) echo "unknown reference '$name'" >&2; exit 2 ;;
esac
mkdir -p "$out"
"$nwq" train "${args[@]}" --data "$data" --batch 128 --schedule cosine --seed 0 \
  --device "$device" --workers 8 --out "$out/$name.safetensors" --json "$@" \
  2> >(grep --line-buffered -v '^\(epoch\|eval\) .*\[' > "$out/$name.log") > "$out/$name.json"
cat "$out/$name.json"
