#!/usr/bin/env bash
# Merge throughput against the read bound, measured side by side in one run.
#
#   tests/bench/merge_bench.sh [--models 4] [--size 2G] [--ranks 2] [--chunk 1M]
#                              [--repeat 3] [--dir /tmp/cocktail-bench] [--keep]
#                              [--device cpu|cuda|auto] [--warm-only]
#
# Generates N synthetic Llama-shaped bf16 checkpoints of SIZE each (once; kept
# in DIR between runs when --keep). Then, in one run, side by side:
#   read bound:  cat of every input file to /dev/null
#   write bound: dd of the output's size to DIR with fsync
#   merge:       mpirun -n RANKS cocktail_dist (linear, equal weights)
# in four cases: warm page cache with the output in memory (/dev/shm: the
# pipeline against the page-cache read bound); cold cache (when the machine
# lets us drop caches) with the output in memory (the read path against the
# storage read bound) and on disk (the whole job, reads and writes sharing one
# device); warm cache with the output on disk. It prints input GB/s for the whole command (MPI
# start-up included) and for the merge phase alone, the ratios to cat, and
# every rank's peak RSS. Each case alternates cat and merge REPEAT times and
# reports the medians, since shared machines are noisy. --device sets the
# config's `device` (default auto); --warm-only runs the first case alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
models=4 size=2G ranks=2 chunk=1M repeat=3 dir=/tmp/cocktail-bench keep=0 device=auto warm_only=0
while (($#)); do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --device) device=$2; shift 2 ;;
    --warm-only) warm_only=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
synth="$build/tests/tools/cocktail_synth"
dist="$build/src/cocktail_dist"
[ -x "$synth" ] && [ -x "$dist" ] || { echo "build first: launch/build.sh" >&2; exit 1; }

mkdir -p "$dir"
config="$dir/bench.yaml"
{
  echo "merge_method: linear"
  echo "models:"
  for ((i = 1; i <= models; i++)); do
    m="$dir/model-$size-$i"
    [ -f "$m/config.json" ] || "$synth" "$m" --size "$size" --seed "$i" >/dev/null
    echo "  - model: $m"
    echo "    parameters: {weight: 1.0}"
  done
  echo "output: $dir/merged"
  echo "chunk_size: $chunk"
  echo "device: $device"
  echo "progress_interval: 0"
} >"$config"
inputs=$(find "$dir"/model-"$size"-* -name '*.safetensors' | sort)
input_bytes=$(cat $inputs | wc -c)

now() { date +%s.%N; }
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }
gbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / s / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
seconds() { local t0; t0=$(now); "$@" >/dev/null; awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }'; }

cat_inputs() { cat $inputs >/dev/null; }
merge_to() {  # $1 = output folder; prints the summary
  rm -rf "$1"
  "$root/launch/mpirun.sh" -n "$ranks" "$dist" "$config" --output "$1" >"$dir/summary.txt"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

measure() {  # $1 = label, $2 = cold|warm, $3 = output folder
  local cats=() merges=() phases=() cat_s merge_s phase_s
  for ((k = 0; k < repeat; k++)); do
    [ "$2" = cold ] && drop_caches
    cats+=("$(seconds cat_inputs)")
    [ "$2" = cold ] && drop_caches
    merges+=("$(seconds merge_to "$3")")
    # The summary's "N.NNs merging": the streaming phase without MPI start-up.
    phases+=("$(grep -oE '[0-9.]+s merging' "$dir/summary.txt" | grep -oE '^[0-9.]+')")
  done
  cat_s=$(printf '%s\n' "${cats[@]}" | median)
  merge_s=$(printf '%s\n' "${merges[@]}" | median)
  phase_s=$(printf '%s\n' "${phases[@]}" | median)
  printf '%-22s %8s %13s %11s %6s %12s %6s\n' "$1" "$(gbps "$input_bytes" "$cat_s")" \
    "$(gbps "$input_bytes" "$merge_s")" "$(ratio "$cat_s" "$merge_s")" "" \
    "$(gbps "$input_bytes" "$phase_s")" "$(ratio "$cat_s" "$phase_s")"
  grep -E "compute|peak RSS" "$dir/summary.txt" | sed 's/^ */    /'
  rm -rf "$3"
}

out_bytes=$((input_bytes / models))
dd_s=$(seconds dd if=/dev/zero of="$dir/dd.out" bs=1M count=$((out_bytes >> 20)) conv=fsync status=none)
rm -f "$dir/dd.out"
echo "bench: $models x $size bf16 models, $(gbps "$input_bytes" 1) GB of inputs, $ranks ranks, chunk $chunk, device $device, $(nproc) cores, median of $repeat"
echo "write bound (dd with fsync of the output size to $dir): $(gbps "$out_bytes" "$dd_s") GB/s"
printf '%-22s %8s %13s %11s %6s %12s %6s\n' "case" "cat GB/s" "merge GB/s" "ratio" "" "phase GB/s" "ratio"
mkdir -p /dev/shm/cocktail-bench
measure "warm, output in RAM" warm /dev/shm/cocktail-bench/merged
if ((warm_only)); then
  :
elif drop_caches; then
  measure "cold, output in RAM" cold /dev/shm/cocktail-bench/merged
  measure "cold, output on disk" cold "$dir/merged"
else
  echo "cold: skipped, this machine does not allow dropping the page cache"
fi
((warm_only)) || measure "warm, output on disk" warm "$dir/merged"
rm -rf /dev/shm/cocktail-bench "$dir/summary.txt"
((keep)) || rm -rf "$dir"
