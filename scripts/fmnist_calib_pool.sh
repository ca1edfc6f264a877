#!/usr/bin/env bash
# Writes a copy of Fashion-MNIST in which every training image that no calibration draw of the
# given seeds uses is set to zero, so it gzips to ~2 MB instead of 26 MB (carried to a GPU machine
# that has no Fashion-MNIST). `nwq quantize` reads only the drawn images of the training split,
# so its results on the copy equal those on the full files (checked by comparing two runs).
# Usage: scripts/fmnist_calib_pool.sh OUT_DIR [CALIB [SEED...]]   (defaults: 1024, seeds 0 1 2)
set -euo pipefail
out=$1 calib=${2:-1024}
shift $(( $# > 1 ? 2 : 1 ))
seeds=("${@:-0 1 2}")
src=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out" build
g++ -std=c++17 -O2 -I. scripts/calib_pool_indices.cpp build/libnwq.a -fopenmp -lopenblas \
  -o build/calib_pool_indices
build/calib_pool_indices 60000 "$calib" ${seeds[@]} > "$out/calib_pool.txt"
cp -L "$src"/t10k-*.gz "$src"/train-labels-idx1-ubyte.gz "$out/"
python3 - "$src/train-images-idx3-ubyte.gz" "$out/train-images-idx3-ubyte.gz" "$out/calib_pool.txt" <<'PY'
import gzip, sys
src, dst, pool_file = sys.argv[1:]
data = bytearray(gzip.open(src).read())
header, image_bytes = 16, 28 * 28
keep = {int(line) for line in open(pool_file)}
kept = bytearray(len(data))
kept[:header] = data[:header]
for i in keep:
    at = header + i * image_bytes
    kept[at:at + image_bytes] = data[at:at + image_bytes]
with gzip.open(dst, "wb", compresslevel=9) as f:
    f.write(kept)
print(f"{dst}: {len(keep)} of 60000 training images kept")
PY
