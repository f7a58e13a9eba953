#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, run every test
# (unit tests, the real-mpirun integration tests, and the gpu tests, which
# skip with the reason where there is no GPU).
#   BUILD_DIR=build-nocuda COCKTAIL_CUDA=OFF ./launch/test.sh   # a CPU-only build
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${BUILD_DIR:-$root/build}"
./launch/setup.sh
BUILD_DIR="$build" ./launch/build.sh ${COCKTAIL_CUDA:+-DCOCKTAIL_CUDA=$COCKTAIL_CUDA}
# Tests start up to 3 ranks on a 2-core machine.
export OMPI_MCA_rmaps_base_oversubscribe=1
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
