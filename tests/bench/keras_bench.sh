#!/usr/bin/env bash
# The Keras output (HDF5 created by every rank with parallel HDF5, then
# filled in place) beside the safetensors output of the same merge, at 1, 2
# and 4 ranks, side by side in one run; then hdf5_write_bench, the ways ranks
# can fill HDF5 datasets (pwrite at HDF5's offsets, H5Dwrite independent and
# collective, chunked), on the same disk.
#
#   tests/bench/keras_bench.sh [--size 1G] [--ranks "1 2 4"] [--repeat 2]
#                              [--dir /tmp/cocktail-keras-bench] [--keep]
#
# Three synthetic TinyLlama-shaped bf16 checkpoints of SIZE (cocktail_synth),
# a linear merge with equal weights, warm page cache, output on DIR's disk.
# Prints the median wall time of each (MPI start-up included) and the output
# GB/s of the merge phase as the summary reports it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size=1G ranks="1 2 4" repeat=2 dir=/tmp/cocktail-keras-bench keep=0
while (($#)); do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
synth="$build/tests/tools/cocktail_synth"
dist="$build/src/cocktail_dist"
bench="$build/tests/bench/hdf5_write_bench"
[ -x "$synth" ] && [ -x "$dist" ] && [ -x "$bench" ] || { echo "build first: launch/build.sh" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$dir"
for seed in 1 2 3; do
  m="$dir/m$seed-$size"
  [ -f "$m/config.json" ] || "$synth" "$m" --size "$size" --hidden 2048 --intermediate 5632 --vocab 32000 \
    --heads 32 --kv-heads 4 --seed "$seed" >/dev/null
done
for m in "$dir"/m*-"$size"; do cat "$m"/*.safetensors > /dev/null; done  # warm
out_bytes=$(du -cb "$dir"/m1-"$size"/*.safetensors | tail -1 | cut -f1)

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
run() {  # format ranks -> seconds
  local cfg="$dir/$1-$2.yaml"
  {
    echo "merge_method: linear"
    echo "models:"
    for s in 1 2 3; do echo "  - model: $dir/m$s-$size"; echo "    parameters: {weight: 1}"; done
    echo "output: $dir/out-$1-$2"
    echo "output_format: $1"
    echo "progress_interval: 0"
  } > "$cfg"
  rm -rf "$dir/out-$1-$2"
  local t0 t1; t0=$(date +%s.%N)
  mpirun -n "$2" "$dist" "$cfg" > "$dir/$1-$2.log" 2>&1
  t1=$(date +%s.%N)
  sync
  echo "$t1 - $t0" | bc
}

printf '%s: 3 x %s bf16 inputs, linear merge, output %.2f GB on %s, warm cache, median of %d\n' \
  "$(date -u +%F)" "$size" "$(echo "$out_bytes / 1000000000" | bc -l)" "$dir" "$repeat"
printf '%-7s %14s %14s %8s\n' ranks "safetensors s" "keras (h5) s" "ratio"
for r in $ranks; do
  st=() kh=()
  for ((i = 0; i < repeat; i++)); do
    st+=("$(run safetensors "$r")")
    kh+=("$(run keras "$r")")
  done
  a=$(printf '%s\n' "${st[@]}" | median) b=$(printf '%s\n' "${kh[@]}" | median)
  printf '%-7s %14.2f %14.2f %8.2f\n' "$r" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
for r in $ranks; do
  mpirun -n "$r" "$bench" "$dir" --tensors 16 --mib 64 --unit-mib 1
done
[ "$keep" = 1 ] || rm -rf "$dir"/out-*
