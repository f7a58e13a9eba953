#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, and merge the
# tiny committed Llama checkpoints with 2 MPI ranks as LM-Cocktail does: the
# few-shot losses of the base and two peers give their weights, the
# fine-tuned target is mixed in with alpha (configs/demo.yaml). Then list the
# merged tensors.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./launch/setup.sh
BUILD_DIR="$root/build" ./launch/build.sh

./launch/mpirun.sh -n 2 build/src/cocktail_dist configs/demo.yaml --overwrite
echo
build/src/cocktail_dist inspect build/demo/merged | tail -n 4
