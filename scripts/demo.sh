#!/usr/bin/env bash
# The README's main job (`make demo`): quantizes the committed Fashion-MNIST ResNet-20 checkpoint
# with round-to-nearest and NWQ at W4A4 and W2A4 on the CPU and prints FP / RTN / NWQ top-1.
# A short NWQ schedule (256 calibration images, 400 iterations) keeps it to a few minutes.
set -euo pipefail
nwq=${1:-build/nwq}
weights=models/weights/fmnist_resnet20.safetensors
out=build/demo
mkdir -p "$out"
common=(--weights "$weights" --data fmnist --calib 256 --seed 0)
run() {  # run NAME FLAGS...: one quantization, its JSON line kept in $out/NAME.json
  local name=$1
  shift
  echo "== $name" >&2
  "$nwq" quantize "${common[@]}" "$@" --report "$out/$name.report.json" --json > "$out/$name.json"
}
run rtn_w4a4 --method rtn --wbits 4 --abits 4
run rtn_w2a4 --method rtn --wbits 2 --abits 4 --no-fp-eval
run nwq_w4a4 --method nwq --wbits 4 --abits 4 --iters 400 --no-fp-eval --out "$out/nwq_w4a4.safetensors"
run nwq_w2a4 --method nwq --wbits 2 --abits 4 --iters 400 --no-fp-eval --out "$out/nwq_w2a4.safetensors"
field() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" "$out/$1.json"; }
echo
echo "ResNet-20 on Fashion-MNIST (10,000 test images), post-training quantization on the CPU"
printf '%-8s %10s %10s\n' method W4A4 W2A4
printf '%-8s %9.2f%% %9.2f%%\n' FP "$(field rtn_w4a4 fp_top1)" "$(field rtn_w4a4 fp_top1)"
printf '%-8s %9.2f%% %9.2f%%\n' RTN "$(field rtn_w4a4 quant_top1)" "$(field rtn_w2a4 quant_top1)"
printf '%-8s %9.2f%% %9.2f%%\n' NWQ "$(field nwq_w4a4 quant_top1)" "$(field nwq_w2a4 quant_top1)"
echo "(reports and quantized models in $out/; nwq eval --weights $out/nwq_w2a4.safetensors reloads one)"
