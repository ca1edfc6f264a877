#!/usr/bin/env bash
# Installs what nwq needs on Debian 12 when run as root; otherwise names the one apt-get line.
# Called by `make test` and `make demo` before they build anything; extra package names given as
# arguments are installed too (the fuzz targets: clang libclang-rt-14-dev). pkgconf: pkg-config
# for `make check-install` (an example built against the installed library); npm for
# `make check-onnx`.
set -euo pipefail
packages=(build-essential libopenblas-dev libstb-dev doctest-dev dataset-fashion-mnist pkgconf \
          "$@")
# npm (with node): `make check-onnx` runs exported models with onnxruntime-node. A node that came
# from elsewhere (NodeSource's nodejs bundles npm) is kept: Debian's npm would conflict with it.
command -v npm > /dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root:  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
