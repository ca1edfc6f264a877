#!/usr/bin/env bash
# Copies the OpenBLAS, stb and doctest headers (and the Fashion-MNIST files) of this Debian
# machine into vendor/ (git-ignored), for building and training on a machine that lacks them.
set -euo pipefail
mkdir -p vendor/include/stb vendor/include/doctest vendor/fmnist
cp -L /usr/include/x86_64-linux-gnu/cblas.h /usr/include/x86_64-linux-gnu/openblas_config.h vendor/include/
cp -L /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h vendor/include/stb/
cp -L /usr/include/doctest/doctest.h vendor/include/doctest/
cp -L /usr/share/datasets/fashion-mnist/*.gz vendor/fmnist/
echo "vendor/: $(du -sh vendor | cut -f1)"
