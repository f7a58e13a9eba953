#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, run every test
# (unit tests and the real-mpirun integration tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./launch/setup.sh
BUILD_DIR="$root/build" ./launch/build.sh
# Tests start up to 3 ranks on a 2-core machine.
export OMPI_MCA_rmaps_base_oversubscribe=1
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
