#!/usr/bin/env bash
# One GPU-machine session: build with vendored headers, run the whole suite (the cuda suite
# runs there), then the GPU benchmarks. Logs go to $OUT (or ./gpu-out) for copying back.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
bash scripts/gpu_make.sh build/nwq build/nwq_tests build/nwq_bench > "$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 1; }
./build/nwq_tests > "$out/tests.log" 2>&1
echo "tests rc=$?"; tail -4 "$out/tests.log"
./build/nwq_bench models > "$out/bench_models.log" 2>&1
cat "$out/bench_models.log"
# CPU benchmarks on two pinned cores of this (quieter) machine, for docs/BENCHMARKS.md.
lscpu | grep -E "Model name" > "$out/cpu.txt"
OMP_NUM_THREADS=2 taskset -c 2,3 ./build/nwq_bench train conv > "$out/bench_cpu.log" 2>&1
cat "$out/bench_cpu.log"
