#!/usr/bin/env bash
# Installs every build and test dependency from Debian packages. Idempotent:
# skips apt entirely when everything is already present, so reruns are fast.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev
  libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev
  # the tokenizer: Oniguruma is the regex engine of Hugging Face's tokenizers,
  # ICU supplies Unicode properties and normalisation
  libonig-dev libicu-dev
  # the weight search's derivative-free optimizers (COBYLA, BOBYQA, ...)
  libnlopt-dev
  libtorch-dev
  # libtorch's matrix products go through libblas.so.3; without this Debian
  # falls back to the single-threaded reference BLAS, tens of times slower.
  libopenblas0-pthread
  # io_uring for tests/bench/io_path_bench (the I/O path comparison)
  liburing-dev
)

"$(dirname "$0")/apt_install.sh" setup "${PACKAGES[@]}"
