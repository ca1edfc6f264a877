#!/usr/bin/env bash
# Checks `nwq export` against ONNX Runtime: quantizes ResNet-20 and MobileNetV2-CIFAR (the
# committed Fashion-MNIST checkpoints) at W8A8 and W4A4 with RTN on a few calibration images,
# exports them (and the FP checkpoints) as ONNX, runs each with onnxruntime-node on 128 test
# images and compares the logits with nwq's (tests/onnx/run_onnx.js explains the tolerances).
# Usage: scripts/check_onnx.sh BUILD/nwq. Skips (exit 0, with a message) only when npm or node
# is missing; installs onnxruntime-node into build/onnxruntime/ on first use (npm registry).
set -euo pipefail
nwq=${1:-build/nwq}
repo=$(cd "$(dirname "$0")/.." && pwd)
ort_version=1.31.1
ort_dir=$repo/build/onnxruntime
work=$repo/build/onnx_check
if ! command -v npm > /dev/null || ! command -v node > /dev/null; then
  echo "check-onnx: SKIPPED: npm/node not found (Debian package npm; scripts/setup.sh installs it)"
  exit 0
fi
if [ ! -f "$ort_dir/node_modules/onnxruntime-node/package.json" ] ||
   ! grep -q "\"version\": \"$ort_version\"" "$ort_dir/node_modules/onnxruntime-node/package.json"; then
  mkdir -p "$ort_dir"
  echo "check-onnx: npm install onnxruntime-node@$ort_version into $ort_dir"
  # The CPU runtime ships in the package; its install script only fetches GPU providers.
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ort_dir" --no-audit --no-fund \
    --ignore-scripts --loglevel=error "onnxruntime-node@$ort_version" > "$ort_dir/npm.log" 2>&1 ||
    { cat "$ort_dir/npm.log"; echo "check-onnx: npm install onnxruntime-node failed" >&2; exit 1; }
fi
export NODE_PATH=$ort_dir/node_modules
rm -rf "$work"
mkdir -p "$work"
failed=0
start=$SECONDS
images=$work/images.safetensors
"$nwq" data --data fmnist --split test --limit 128 --out "$images" > "$work/data.log" 2>&1 ||
  { cat "$work/data.log"; echo "check-onnx: nwq data failed" >&2; exit 1; }
# compare NAME WEIGHTS TOLERANCE [EXPORT FLAGS...]: export, nwq's logits, ORT's logits, compare.
compare() {
  local name=$1 weights=$2 tolerance=$3
  shift 3
  if ! "$nwq" export --weights "$weights" --input 1,28,28 --out "$work/$name.onnx" \
       --images "$images" --logits "$work/$name.nwq.safetensors" "$@" > "$work/$name.log" 2>&1; then
    cat "$work/$name.log"; echo "check-onnx: $name: nwq export FAILED"; failed=1; return
  fi
  node "$repo/tests/onnx/run_onnx.js" "$work/$name.onnx" "$images" "$work/$name.nwq.safetensors" \
    "$tolerance" || { echo "check-onnx: $name FAILED"; failed=1; }
}
for model in resnet20 mobilenetv2_cifar; do
  fp=$repo/models/weights/fmnist_$model.safetensors
  compare "${model}_fp" "$fp" 1e-4 --format onnx-float
  for bits in 8 4; do
    q=$work/${model}_w${bits}a${bits}.safetensors
    # RTN on 2 calibration images, shrink observer: fast; the ranges do not matter here.
    if ! "$nwq" quantize --weights "$fp" --method rtn --wbits $bits --abits $bits --calib 2 \
         --init-images 2 --observer shrink --eval-limit 2 --no-fp-eval --quiet --out "$q" \
         > "$work/${model}_w${bits}a${bits}.quantize.log" 2>&1; then
      cat "$work/${model}_w${bits}a${bits}.quantize.log"
      echo "check-onnx: $model W${bits}A${bits}: nwq quantize FAILED"; failed=1; continue
    fi
    # One activation moved by one grid step (a rounding-boundary flip) moves the logits by up to
    # ~1% at 8 bits and ~5% at 4 bits (measured, docs/DEPLOY.md): the bounds leave 2x room.
    compare "${model}_w${bits}a${bits}" "$q" "$([ $bits = 8 ] && echo 2e-2 || echo 1e-1)"
  done
done
# 4-bit weights as UINT8 codes at opset 13 (the default stores them as UINT4, opset 21).
compare resnet20_w4a4_opset13 "$work/resnet20_w4a4.safetensors" 1e-1 --opset 13
if [ $failed = 0 ]; then
  echo "check-onnx: passed ($((SECONDS - start)) s, onnxruntime-node $ort_version)"
else
  echo "check-onnx: FAILED"
  exit 1
fi
