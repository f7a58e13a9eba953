#!/usr/bin/env bash
# Few-shot scoring cost of one candidate: a synthetic Llama-shaped model
# (TinyLlama's shape, 22 layers, about 1.1B parameters, bf16) on 5 examples of
# 512 tokens, one rank, CPU. Prints the job's own report: tokens, seconds,
# checkpoint bytes read, peak RSS, next to the checkpoint's size.
#
#   tests/bench/fewshot_bench.sh [--layers 22] [--dir /tmp/cocktail-fewshot-bench] [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
layers=22 dir=/tmp/cocktail-fewshot-bench keep=0
while (($#)); do
  case "$1" in
    --layers) layers=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
model="$dir/llama-$layers"
mkdir -p "$dir"
if [ ! -f "$model/config.json" ]; then
  "$build/tests/tools/cocktail_synth" "$model" --layers "$layers" --hidden 2048 --intermediate 5632 \
    --vocab 32000 --heads 32 --kv-heads 4 --dtype bfloat16 --seed 1 >/dev/null
  # Any Llama-style tokenizer serves: its ids are far below the model's vocabulary.
  cp "$root"/tests/fixtures/tokenizers/metaspace_llama2/* "$model/"
fi
# Five examples, each far longer than 512 tokens, cut to 512 by max_input_length.
text=$(printf 'The merged model keeps what each fine-tune learned. %.0s' $(seq 1 200))
: >"$dir/examples.jsonl"
for i in 1 2 3 4 5; do
  printf '{"input": "Question %d: summarise.", "output": "%s"}\n' "$i" "$text" >>"$dir/examples.jsonl"
done
cat >"$dir/eval.yaml" <<YAML
merge_method: lm_cocktail
models:
  - model: $model
examples: $dir/examples.jsonl
batch_size: 5
max_input_length: 512
YAML
echo "bench: one candidate, $(nproc) cores, $(build/src/cocktail_dist inspect "$model" | tail -n 1)"
start=$(date +%s.%N)
# One rank may use every core: no binding, so libtorch runs its threads.
"$root/launch/mpirun.sh" -n 1 --bind-to none "$build/src/cocktail_dist" eval "$dir/eval.yaml" | grep -E "scored|peak RSS"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "  whole command %.1f s, %.0f tokens/s (5 x 512 tokens through the model)\n", b - a, 5 * 512 / (b - a) }'
checkpoint=$(stat -c %s "$model"/*.safetensors | awk '{ s += $1 } END { print s }')
echo "  checkpoint files: $checkpoint bytes"
((keep)) || rm -rf "$dir"
