#!/usr/bin/env bash
# Merge time against the machine's bound, measured side by side in one run.
#
#   tests/bench/merge_bench.sh [--models 4] [--size 2G] [--ranks "1 2"] [--chunk 1M]
#                              [--repeat 3] [--dir /tmp/cocktail-bench] [--keep]
#                              [--device cpu|cuda|auto] [--warm-only] [--mpirun-one]
#
# Generates N synthetic Llama-shaped bf16 checkpoints of SIZE each (once; kept
# in DIR between runs when --keep). Then, in one run, side by side for each
# rank count R:
#   bound:  the physical bound of the job on this machine: R readers (`cat`,
#           the input files dealt out among them) reading every input while
#           `dd` writes the output's bytes to the output's place (O_DIRECT,
#           then fsync), all at once. Warm, this is the memory-bandwidth bound of moving
#           the bytes out of the page cache and the output into it.
#   merge:  mpirun -n R cocktail_dist (linear, equal weights); at R = 1,
#           cocktail_dist alone, as one process is run (no mpirun, no MPI;
#           --mpirun-one times `mpirun -n 1` instead). The output's blocks
#           are written with O_DIRECT (direct_writes: true, the default) and,
#           beside it, through the page cache (false)
# in four cases: warm page cache with the output in memory (/dev/shm); cold
# cache (when the machine lets us drop caches) with the output in memory and
# on disk (reads and writes sharing one device); warm cache with the output
# on disk. It prints input GB/s of the bound, of the whole command (MPI
# start-up included) and of the merge phase alone, the ratios bound time /
# merge time (1.0: at the bound), and every rank's peak RSS. Each case
# alternates bound and merge REPEAT times and reports the medians, since
# shared machines are noisy. --device sets the config's `device` (default
# auto); --warm-only runs the first case alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
models=4 size=2G ranks="1 2" chunk=1M repeat=3 dir=/tmp/cocktail-bench keep=0 device=auto warm_only=0 one_under_mpirun=0
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
    --mpirun-one) one_under_mpirun=1; shift ;;
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
{ cat "$config"; echo "direct_writes: true"; } >"$dir/bench-direct.yaml"
{ cat "$config"; echo "direct_writes: false"; } >"$dir/bench-buffered.yaml"
inputs=$(find "$dir"/model-"$size"-* -name '*.safetensors' | sort)
input_bytes=$(cat $inputs | wc -c)

now() { date +%s.%N; }
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }
gbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / s / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
seconds() { local t0; t0=$(now); "$@" >/dev/null; awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }'; }

out_bytes=$((input_bytes / models))
# R readers and one writer at once; the writer puts the output's bytes where
# the merge puts its output ($1), with fsync.
bound() {  # $1 = output folder, $2 = readers
  local k=0 pids=() share=()
  for ((k = 0; k < $2; k++)); do share[k]=""; done
  k=0
  for f in $inputs; do share[k % $2]+="$f "; k=$((k + 1)); done
  mkdir -p "$1"
  # The device's own write speed: O_DIRECT (4.4x the page cache's writeback
  # here, io_path_bench), with fsync; through the page cache where refused.
  { dd if=/dev/zero of="$1/bound.out" bs=8M count=$((out_bytes >> 23)) oflag=direct conv=fsync status=none 2>/dev/null ||
    dd if=/dev/zero of="$1/bound.out" bs=8M count=$((out_bytes >> 23)) conv=fsync status=none; } &
  pids+=($!)
  for ((k = 0; k < $2; k++)); do cat ${share[k]} >/dev/null & pids+=($!); done
  wait "${pids[@]}"
  rm -rf "$1"
}
merge_to() {  # $1 = output folder, $2 = ranks, $3 = config; the summary goes to summary.txt
  rm -rf "$1"
  if ((one_under_mpirun == 0 && $2 == 1)); then
    "$dist" "$3" --output "$1" >"$dir/summary.txt"
  else
    "$root/launch/mpirun.sh" -n "$2" "$dist" "$3" --output "$1" >"$dir/summary.txt"
  fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

measure() {  # $1 = label, $2 = cold|warm, $3 = output folder
  local r variant cfg bounds merges phases bound_s merge_s phase_s
  for r in $ranks; do
    for variant in direct buffered; do
      cfg="$dir/bench-$variant.yaml"
      bounds=() merges=() phases=()
      for ((k = 0; k < repeat; k++)); do
        [ "$2" = cold ] && drop_caches
        bounds+=("$(seconds bound "$3" "$r")")
        [ "$2" = cold ] && drop_caches
        merges+=("$(seconds merge_to "$3" "$r" "$cfg")")
        # The summary's "N.NNs merging": the streaming phase without MPI start-up.
        phases+=("$(grep -oE '[0-9.]+s merging' "$dir/summary.txt" | grep -oE '^[0-9.]+')")
      done
      bound_s=$(printf '%s\n' "${bounds[@]}" | median)
      merge_s=$(printf '%s\n' "${merges[@]}" | median)
      phase_s=$(printf '%s\n' "${phases[@]}" | median)
      printf '%-22s %5s %-8s %10s %11s %6s %11s %6s\n' "$1" "$r" "$variant" "$(gbps "$input_bytes" "$bound_s")" \
        "$(gbps "$input_bytes" "$merge_s")" "$(ratio "$bound_s" "$merge_s")" \
        "$(gbps "$input_bytes" "$phase_s")" "$(ratio "$bound_s" "$phase_s")"
      grep -E "peak RSS" "$dir/summary.txt" | sed 's/^ */    /'
      rm -rf "$3"
    done
  done
}

echo "bench: $models x $size bf16 models, $(gbps "$input_bytes" 1) GB of inputs, $(gbps "$out_bytes" 1) GB out, ranks $ranks, chunk $chunk, device $device, $(nproc) cores, median of $repeat"
printf '%-22s %5s %-8s %10s %11s %6s %11s %6s\n' "case" "ranks" "writes" "bound GB/s" "merge GB/s" "ratio" "phase GB/s" "ratio"
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
