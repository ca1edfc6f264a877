#!/usr/bin/env bash
# One GPU-machine session of a quantization matrix: build with CUDA, unpack CIFAR-10, check the
# CUDA quantization path on a tiny job, then run (and resume) the jobs until DEADLINE seconds.
# Usage: bash scripts/gpu_matrix.sh SET RESULTS_DIR [PARALLEL]   (SET as in matrix_jobs.sh)
# Finished summaries already in RESULTS_DIR are not redone. Env as in matrix_jobs.sh/quant_matrix.sh.
set -euo pipefail
set_name=$1 results=$2 parallel=${3:-6}
t0=$(date +%s)
bash scripts/gpu_make.sh build/nwq > /tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
echo "built in $(( $(date +%s) - t0 )) s"
mkdir -p /tmp/c10 && tar xzf vendor/cifar10-jpeg.tar.gz -C /tmp/c10
echo "data ready at $(( $(date +%s) - t0 )) s"
build/nwq quantize --weights models/weights/cifar10_resnet20.safetensors --data cifar10:/tmp/c10 \
  --method nwq --wbits 2 --abits 4 --iters 50 --calib 128 --eval-limit 1000 --device cuda --quiet --json
echo "smoke test done at $(( $(date +%s) - t0 )) s"
bash scripts/matrix_jobs.sh "$set_name" > /tmp/jobs.txt
NWQ=build/nwq bash scripts/quant_matrix.sh /tmp/jobs.txt "$results" "$parallel"
echo "matrix stopped at $(( $(date +%s) - t0 )) s"
