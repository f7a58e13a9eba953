#!/usr/bin/env bash
# Header parsing time against the number of tensors in one safetensors file.
#
#   tests/bench/header_bench.sh [--repeat 3] [--dir /tmp/cocktail-header-bench]
#                               [--dist PATH] [N ...]      (default 10000 100000 1000000)
#
# Runs header_bench (in process, each run in a fresh child: strict JSON parse,
# parse_safetensors_header, Checkpoint::open), which also writes
# DIR/many-N.safetensors with N one-element F32 tensors, then times the whole
# `cocktail_dist inspect FILE` command (output to /dev/null; about 1 s of it is
# loading the binary's libraries) on each file, median of REPEAT. --dist times
# another cocktail_dist binary (an older build, say) on the same files.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
repeat=3 dir=/tmp/cocktail-header-bench dist="" sizes=()
while (($#)); do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --dist) dist=$2; shift 2 ;;
    -*) echo "unknown argument $1" >&2; exit 2 ;;
    *) sizes+=("$1"); shift ;;
  esac
done
((${#sizes[@]})) || sizes=(10000 100000 1000000)
build="${BUILD_DIR:-$root/build}"
bench="$build/tests/bench/header_bench"
dist="${dist:-$build/src/cocktail_dist}"
[ -x "$bench" ] && [ -x "$dist" ] || { echo "build first: launch/build.sh" >&2; exit 1; }

"$bench" --dir "$dir" --repeat "$repeat" "${sizes[@]}"

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "cocktail_dist inspect ($dist), median of $repeat, seconds (ns per tensor)"
for n in "${sizes[@]}"; do
  file="$dir/many-$n.safetensors"
  times=()
  for ((k = 0; k < repeat; k++)); do
    t0=$(now)
    "$dist" inspect "$file" >/dev/null
    times+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')")
  done
  s=$(printf '%s\n' "${times[@]}" | median)
  awk -v n="$n" -v s="$s" 'BEGIN { printf "%10d %10.3f (%.0f)\n", n, s, s * 1e9 / n }'
done
