#!/usr/bin/env bash
# What a command costs before it does any work, side by side in one run
# (issue 15, docs/performance.md): each case REPEAT times, the median wall
# time, on the committed tiny fixture (572 KB), so the figures are start-up,
# not I/O.
#
#   tests/bench/startup_bench.sh [--repeat 11] [--other PATH]
#
#   version         cocktail_dist --version
#   inspect         cocktail_dist inspect FIXTURE
#   empty MPI, n    mpirun -n N mpi_empty (MPI_Init + MPI_Finalize only), with
#                   Open MPI's defaults and with its ob1 layer (OMPI_MCA_pml=ob1),
#                   which cocktail_dist asks for when all ranks share a node
#   dry-run, alone  cocktail_dist JOB --dry-run (one process, no mpirun: no MPI)
#   merge, alone    cocktail_dist JOB
#   eval, alone     cocktail_dist eval JOB
#   dry-run, n      mpirun -n N cocktail_dist JOB --dry-run
#   merge, n        mpirun -n N cocktail_dist JOB (linear of two fixture models)
#   eval, 1         mpirun -n 1 cocktail_dist eval JOB (few-shot: loads libtorch)
# and the number of shared libraries `--version` maps (ldd). --other times
# another cocktail_dist binary (an older build, say) beside it, in the same run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
repeat=11 other=""
while (($#)); do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --other) other=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
dist="$build/src/cocktail_dist"
empty="$build/tests/bench/mpi_empty"
[ -x "$dist" ] && [ -x "$empty" ] || { echo "build first: launch/build.sh" >&2; exit 1; }
fixtures="$root/tests/fixtures"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%s\n' "merge_method: linear" "parameters: {weight: 0.5}" "models:" "  - model: $fixtures/models/llama-fp32" \
  "  - model: $fixtures/models/llama-peer1-fp32" "output: $dir/out" "progress_interval: 0" >"$dir/job.yaml"
printf '%s\n' "merge_method: lm_cocktail" "base_model: $fixtures/models/llama-fp32" "models:" \
  "  - model: $fixtures/models/llama-peer1-fp32" "examples: $fixtures/examples/decoder.jsonl" \
  "output: $dir/out" "progress_interval: 0" >"$dir/eval.yaml"
mpirun="$root/launch/mpirun.sh"

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
time_of() {  # label, command... : the median of REPEAT runs, in seconds
  local label=$1 t0 t1 times=()
  shift
  for ((k = 0; k < repeat; k++)); do
    rm -rf "$dir/out"
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "$label failed: $*" >&2; "$@"; exit 1; }
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
  done
  printf '%-24s %7.3f s\n' "$label" "$(printf '%s\n' "${times[@]}" | median)"
}

echo "start-up on the tiny fixture, median of $repeat, $(nproc) cores; cocktail_dist maps $(ldd "$dist" | wc -l) shared libraries"
[ -n "$other" ] && echo "beside it: $other ($(ldd "$other" | wc -l) shared libraries), labelled 'other'"
cases() {  # $1 = binary, $2 = label suffix
  time_of "version$2" "$1" --version
  time_of "inspect$2" "$1" inspect "$fixtures/models/llama-fp32"
  time_of "dry-run, alone$2" "$1" "$dir/job.yaml" --dry-run
  time_of "merge, alone$2" "$1" "$dir/job.yaml"
  time_of "eval, alone$2" "$1" eval "$dir/eval.yaml"
  for n in 1 2; do
    time_of "dry-run, $n$2" "$mpirun" -n "$n" "$1" "$dir/job.yaml" --dry-run
    time_of "merge, $n$2" "$mpirun" -n "$n" "$1" "$dir/job.yaml"
  done
  time_of "eval, 1$2" "$mpirun" -n 1 "$1" eval "$dir/eval.yaml"
}
for n in 1 2; do
  time_of "empty MPI, $n" "$mpirun" -n "$n" "$empty"
  # What cocktail_dist asks for on one node (cli/launcher.hpp).
  time_of "empty MPI, $n, ob1" env OMPI_MCA_pml=ob1 "$mpirun" -n "$n" "$empty"
done
cases "$dist" ""
[ -z "$other" ] || cases "$other" " (other)"
