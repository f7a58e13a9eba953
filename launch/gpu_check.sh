#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, in one command: build with CUDA, run the
# `gpu` tests, and benchmark the GPU merge against the copy bandwidth measured
# in the same run.
#
#   launch/gpu_check.sh            # SIZE=2G MODELS=4 CHUNK=64M RANKS=<GPUs> override
#
# Fails (exit 1) when a gpu test fails or skips: a skip means no usable GPU,
# and this script exists to check the GPU. Builds into build-gpu/ (BUILD_DIR
# overrides).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${BUILD_DIR:-$root/build-gpu}"
[ "${SKIP_SETUP:-0}" = 1 ] || ./launch/setup.sh
BUILD_DIR="$build" ./launch/build.sh -DCOCKTAIL_CUDA=ON

echo "== GPUs"
nvidia-smi -L 2>/dev/null || echo "(nvidia-smi not found)"
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)

echo "== gpu tests"
export OMPI_MCA_rmaps_base_oversubscribe=1
log="$build/gpu-tests.log"
only_one=()
if ((gpus == 1)); then  # NCCL needs a GPU per rank
  only_one=(-E 'NcclComm.Ranks2')
  echo "one GPU: NcclComm.Ranks2 (two ranks, one GPU each) is not run"
fi
ctest --test-dir "$build" -L gpu "${only_one[@]}" --output-on-failure | tee "$log"
if grep -q "(Skipped)" "$log"; then
  echo "gpu_check: gpu tests were skipped (no usable GPU, or fewer GPUs than ranks); see above" >&2
  exit 1
fi

echo "== copy and kernel bandwidth (one GPU)"
copy_log="$build/cuda-bench.log"
"$build/tests/bench/cuda_bench" 4 256 | tee "$copy_log"

echo "== merge on the GPU"
merge_log="$build/merge-bench.log"
BUILD_DIR="$build" tests/bench/merge_bench.sh --device cuda --ranks "${RANKS:-$((gpus > 0 ? gpus : 1))}" \
  --models "${MODELS:-4}" --size "${SIZE:-2G}" --chunk "${CHUNK:-64M}" --repeat 3 --warm-only | tee "$merge_log"

echo "== summary (same run)"
grep -E "host->device|device->host|weighted-sum kernel" "$copy_log"
awk '/^warm, output in RAM/ {
  printf "  merge input rate (warm cache, output in RAM): %s GB/s merge phase, %s GB/s whole command; cat of the inputs %s GB/s\n", $8, $6, $5 }' \
  "$merge_log"
