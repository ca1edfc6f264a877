#!/usr/bin/env bash
# Checks libnwq as an installed library: `make install` into a temporary prefix, then builds two
# examples outside the tree with pkg-config (shared, then static) and runs them. Run by `make test`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
make=${MAKE:-make}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
# Variables given to the calling make (USE_CUDA=0, SAN=1, ...) reach this one through MAKEFLAGS.
"$make" -C "$repo" --no-print-directory install PREFIX="$prefix" > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "check-install: make install failed" >&2; exit 1; }
for f in lib/libnwq.a lib/libnwq.so lib/pkgconfig/nwq.pc include/nwq/core/tensor.h \
         include/nwq/quant/pipeline.h; do
  [ -f "$prefix/$f" ] || { echo "check-install: $prefix/$f was not installed" >&2; exit 1; }
done
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
command -v pkg-config > /dev/null ||
  { echo "check-install: pkg-config is missing (Debian package pkgconf)" >&2; exit 1; }
echo "check-install: nwq $(pkg-config --modversion nwq) in $prefix"
echo "  pkg-config --cflags --libs nwq: $(pkg-config --cflags --libs nwq)"
mkdir "$work/outside"
cp "$repo/examples/autograd_basics.cpp" "$repo/examples/custom_op.cpp" "$work/outside/"
cd "$work/outside"  # nothing of the source tree is on the include path here
for name in autograd_basics custom_op; do
  g++ -std=c++17 -O2 -o "$name" "$name.cpp" $(pkg-config --cflags --libs nwq)
  # Static: libnwq.a named first resolves everything; --as-needed then drops the unused -lnwq.
  g++ -std=c++17 -O2 -o "${name}_static" "$name.cpp" "$prefix/lib/libnwq.a" -Wl,--as-needed \
    $(pkg-config --cflags --libs nwq)
  # (ldd's output is kept first: grep -q closing the pipe early would fail it under pipefail)
  shared_libs=$(ldd "./$name") static_libs=$(ldd "./${name}_static")
  grep -q "$prefix/lib/libnwq.so" <<< "$shared_libs" ||
    { echo "check-install: $name does not use the installed libnwq.so" >&2; exit 1; }
  if grep -q libnwq <<< "$static_libs"; then
    echo "check-install: ${name}_static still loads libnwq.so" >&2; exit 1
  fi
  for bin in "$name" "${name}_static"; do
    "./$bin" > "$bin.out" 2>&1 || { cat "$bin.out"; echo "check-install: $bin failed" >&2; exit 1; }
    grep -q "gradient check passed" "$bin.out" ||
      { cat "$bin.out"; echo "check-install: $bin: no 'gradient check passed'" >&2; exit 1; }
  done
  echo "  $name: built outside the tree against libnwq.so and libnwq.a, ran, gradient check passed"
done
echo "check-install: passed"
