#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, generate three
# tiny Llama-shaped checkpoints and merge them with 2 MPI ranks (LM-Cocktail,
# alpha * fine-tuned + (1 - alpha) * base), then list the merged tensors.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./launch/setup.sh
BUILD_DIR="$root/build" ./launch/build.sh

models="$root/build/demo/models"
if [ ! -f "$models/ft_math/config.json" ]; then
  # Same base shape, different seeds: stand-ins for a base and two fine-tunes.
  build/tests/tools/cocktail_synth "$models/base" --layers 4 --seed 1
  build/tests/tools/cocktail_synth "$models/ft_math" --layers 4 --seed 2
  build/tests/tools/cocktail_synth "$models/ft_code" --layers 4 --seed 3
fi

./launch/mpirun.sh -n 2 build/src/cocktail_dist configs/demo.yaml --overwrite
echo
build/src/cocktail_dist inspect build/demo/merged | tail -n 4
