#!/usr/bin/env bash
# Evaluations per second of merged models during a weight search
# (weights: search), for three Llama-shaped bf16 candidates at TinyLlama's
# shape (1.1 B parameters each, tests/tools/cocktail_synth, seeds 1-3), with
# the candidate cache off (every evaluation re-reads the three checkpoints,
# from the page cache after the first) and on (cache: the candidates as
# float32 in host memory, 13.2 GB) at one rank; then at two ranks, with the
# batches split (pipeline: false; both ranks caching everything would take
# 26 GB, more than this machine has, so no cache) and as two pipeline stages
# (pipeline: true, each rank caching its half of the layers: 6.6 GB). Few
# examples of few tokens, so the cost is the weights, which is what a 70B
# search pays. Every core, in one run (docs/performance.md, docs/search.md):
#
#   tests/bench/search_bench.sh [--budget 6] [--dir /tmp/cocktail-search-bench] [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
budget=6 dir=/tmp/cocktail-search-bench keep=0
while (($#)); do
  case "$1" in
    --budget) budget=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
mkdir -p "$dir"
for seed in 1 2 3; do
  m="$dir/llama-1b-$seed"
  if [ ! -f "$m/config.json" ]; then
    "$build/tests/tools/cocktail_synth" "$m" --layers 22 --hidden 2048 --intermediate 5632 \
      --vocab 32000 --heads 32 --kv-heads 4 --dtype bfloat16 --seed "$seed" >/dev/null
    cp "$root"/tests/fixtures/tokenizers/metaspace_llama2/* "$m/"
  fi
done
: >"$dir/examples.jsonl"
for i in 1 2 3 4; do
  printf '{"input": "Question %d: what does a merge keep?", "output": "What each fine-tune learned, weighted by its loss."}\n' "$i" >>"$dir/examples.jsonl"
done
cat "$dir"/llama-1b-*/model*.safetensors >/dev/null  # warm: both cases read from the page cache

run() {  # name, cache, ranks, pipeline
  local ranks=${3:-1}
  cat >"$dir/$1.yaml" <<YAML
merge_method: lm_cocktail
base_model: $dir/llama-1b-1
models:
  - model: $dir/llama-1b-2
  - model: $dir/llama-1b-3
examples: $dir/examples.jsonl
batch_size: 2
weights: search
cache: $2
pipeline: ${4:-auto}
search: {budget: $budget}
progress_interval: 0
YAML
  # Each rank's wall time and peak RSS; the largest RSS is shown, with its rank's time.
  rm -f "$dir/$1".time.*
  OMPI_MCA_rmaps_base_oversubscribe=1 "$root/launch/mpirun.sh" -n "$ranks" sh -c \
    '/usr/bin/time -f "%e %M" -o "$0.time.$OMPI_COMM_WORLD_RANK" "$1" eval "$0.yaml"' \
    "$dir/$1" "$build/src/cocktail_dist" >"$dir/$1.out" 2>&1
  sort -n -k2 "$dir/$1".time.* | tail -1 >"$dir/$1.time"
  local line evals seconds read wall rss
  line=$(grep "merged models evaluated in" "$dir/$1.out")
  evals=$(awk '{print $5}' <<<"$line")
  # The summary's time as format_seconds writes it: 12.3s, 2m45s or 1h05m.
  seconds=$(sed -E 's/.* evaluated in ([0-9.hms]+),.*/\1/' <<<"$line" |
    awk '{ t = 0; s = $0; while (match(s, /^[0-9.]+[hms]/)) { v = substr(s, 1, RLENGTH - 1); u = substr(s, RLENGTH, 1);
           t += v * (u == "h" ? 3600 : u == "m" ? 60 : 1); s = substr(s, RLENGTH + 1) } print t }')
  read=$(sed -E 's/.*, read ([0-9.]+ [KMGT]?B).*/\1/' <<<"$line")
  read -r wall rss <"$dir/$1.time"
  printf '%-10s %d rank(s) %6s evaluations in %8ss: %6.3f evaluations/s, %10s read (%s per evaluation), peak RSS %.2f GB, wall %ss\n' \
    "$1" "$ranks" "$evals" "$seconds" "$(echo "$evals / $seconds" | bc -l)" "$read" \
    "$(awk -v r="$read" -v n="$evals" 'BEGIN { split(r, a, " "); printf "%.2f %s", a[1] / n, a[2] }')" \
    "$(echo "$rss / 1048576" | bc -l)" "$wall"
}
echo "3 candidates x 1.1 B bf16 (2.2 GB each), 4 examples in 2 batches, budget $budget, $(nproc) cores; RSS of the largest rank"
run cache-off 0
run cache-on 14GB
run batches-2 0 2 false
run stages-2 7GB 2 true
[ "$keep" = 1 ] || rm -rf "$dir"
