#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, and merge the
# tiny committed Llama checkpoints with 2 MPI ranks as LM-Cocktail does: the
# few-shot losses of the base and two peers give their weights, the
# fine-tuned target is mixed in with alpha (configs/demo.yaml). Then list the
# merged tensors. BUILD_DIR overrides the build folder (build/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${BUILD_DIR:-$root/build}"
./launch/setup.sh
# Only what the demo runs; ./launch/test.sh builds the rest.
BUILD_DIR="$build" BUILD_TARGETS=cocktail_dist ./launch/build.sh

./launch/mpirun.sh -n 2 "$build/src/cocktail_dist" configs/demo.yaml --overwrite
echo
"$build/src/cocktail_dist" inspect merged/demo | tail -n 4
