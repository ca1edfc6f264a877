#!/usr/bin/env bash
# Builds nwq on the GPU machine, which has no OpenBLAS/stb/doctest headers or libstb.so:
# headers come from vendor/include (copied there by scripts/vendor_headers.sh and carried).
# Usage: bash scripts/gpu_make.sh [make targets...]   e.g. `bash scripts/gpu_make.sh test`
set -euo pipefail
make -j"$(nproc)" SETUP=0 BLAS_INCLUDE=vendor/include STB_INCLUDE=vendor/include STB_LIB= STB_IMPL=1 "$@"
