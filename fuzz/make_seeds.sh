#!/bin/sh
# Regenerates the committed seed corpora fuzz/corpus/<target>/ (valid and near-valid inputs,
# each < 10 KB). Needs python3; reads /usr/share/datasets/fashion-mnist and, when present,
# ../shared/data/cifar10-jpeg.tar.gz for one real JPEG.
set -e
cd "$(dirname "$0")"
rm -rf corpus
exec python3 make_seeds.py
