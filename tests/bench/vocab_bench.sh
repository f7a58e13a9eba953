#!/usr/bin/env bash
# A union of vocabularies against mergekit 0.1.5 on the same YAML, side by
# side in one run, beside our own merge of the same models with the base's
# vocabulary (tokenizer_source: base) and with no vocabulary change at all
# (the same job on two models of the base's vocabulary).
#
#   tests/bench/vocab_bench.sh [--size 600M] [--ranks 2] [--repeat 2]
#                              [--dir /tmp/cocktail-vocab-bench] [--venv DIR] [--keep]
#
# Generates a base and two fine-tune-shaped synthetic Llama checkpoints (bf16,
# hidden 2048, TinyLlama's shapes, layers chosen to reach SIZE each) and a
# BPE tokenizer.json for each: the base 32000 tokens; a the same and 64
# added tokens (vocab 32064); b without the base's last 100 tokens and with
# 200 of its own at other ids (vocab 32100). The union has 32264 tokens.
# Installs mergekit 0.1.5 into a virtualenv (the only step that needs the
# network; --venv reuses one), then runs task_arithmetic with
# tokenizer_source: union REPEAT times alternating mergekit-yaml (CPU,
# --lazy-unpickle) and mpirun -n RANKS cocktail_dist, and prints the median
# wall time of each, the speed ratio, the peak RSS of the largest process,
# and, from one more run of each computing in float32, how many tokens have
# the same embedding and lm_head rows in both outputs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size=600M ranks=2 repeat=2 dir=/tmp/cocktail-vocab-bench venv="" keep=0
while (($#)); do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --venv) venv=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
synth="$build/tests/tools/cocktail_synth"
dist="$build/src/cocktail_dist"
[ -x "$synth" ] && [ -x "$dist" ] || { echo "build first: launch/build.sh" >&2; exit 1; }
venv=${venv:-$dir/venv}
if [ ! -x "$venv/bin/mergekit-yaml" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mergekit==0.1.5
fi
mkdir -p "$dir"
# name seed vocab_size
while read -r name seed vocab; do
  m="$dir/$name-$size"
  [ -f "$m/config.json" ] || "$synth" "$m" --size "$size" --hidden 2048 --intermediate 5632 --vocab "$vocab" \
    --heads 32 --kv-heads 4 --seed "$seed" >/dev/null
done <<EOF
base 1 32000
a 2 32064
b 3 32100
same_a 2 32000
same_b 3 32000
EOF
"$venv/bin/python" - "$dir" "$size" <<'EOF'
import json, sys
d, size = sys.argv[1], sys.argv[2]
def added(t, i):
    return {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}
def tokenizer(tokens, extra):
    specials = [added(t, i) for i, t in enumerate(["<s>", "</s>", "<unk>"])]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": specials + extra,
            "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
            "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": {t: i for i, t in enumerate(tokens)}, "merges": []}}
base = ["<s>", "</s>", "<unk>"] + [f"t{i}" for i in range(3, 32000)]
toks = {"base": tokenizer(base, []), "same_a": tokenizer(base, []), "same_b": tokenizer(base, []),
        "a": tokenizer(base, [added(f"<|a{i}|>", 32000 + i) for i in range(64)]),
        "b": tokenizer(base[:31900] + [f"u{i}" for i in range(200)], [])}
for name, tok in toks.items():
    m = f"{d}/{name}-{size}"
    json.dump(tok, open(f"{m}/tokenizer.json", "w"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
               "unk_token": "<unk>"}, open(f"{m}/tokenizer_config.json", "w"))
EOF

job() {  # vocabulary (union, base or none) and the two models -> YAML both tools read
  echo "merge_method: task_arithmetic"
  echo "base_model: $dir/base-$size"
  [ "$1" != none ] && echo "tokenizer_source: $1"
  echo "dtype: bfloat16"
  echo "models:"
  echo "  - model: $dir/$2-$size"
  echo "    parameters: {weight: 0.6}"
  echo "  - model: $dir/$3-$size"
  echo "    parameters: {weight: 0.3}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cocktail() {  # yaml -> wall seconds and the largest rank's peak RSS in MB
  local start end
  start=$(date +%s.%N)
  "$root/launch/mpirun.sh" -n "$ranks" "$dist" "$1" --overwrite >"$dir/ck.log" 2>&1 ||
    { cat "$dir/ck.log"; exit 1; }
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc) $(grep "peak RSS" "$dir/ck.log" | grep -oE "[0-9.]+ (MB|GB)" |
    awk '{v=$1; if ($2=="GB") v*=1000; print v}' | sort -n | tail -1)"
}
cat "$dir"/*-"$size"/*.safetensors >/dev/null  # warm the page cache for both tools alike

job union a b >"$dir/union-mergekit.yaml"
for v in union base; do { job "$v" a b; echo "output: $dir/out-$v"; echo "progress_interval: 0"; } >"$dir/$v.yaml"; done
# No vocabulary change: models of the base's vocabulary, as large.
{ job none same_a same_b; echo "output: $dir/out-none"; echo "progress_interval: 0"; } >"$dir/none.yaml"
mk_times=() mk_rss=0
declare -A times rss
for ((r = 0; r < repeat; r++)); do
  rm -rf "$dir/mk-out"
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$venv/bin/mergekit-yaml" "$dir/union-mergekit.yaml" \
    "$dir/mk-out" --lazy-unpickle >"$dir/mk.log" 2>&1 || { cat "$dir/mk.log"; exit 1; }
  read -r t m <"$dir/time.txt"
  mk_times+=("$t"); mk_rss=$((m > mk_rss ? m : mk_rss))
  for v in union base none; do
    read -r t m < <(cocktail "$dir/$v.yaml")
    times[$v]="${times[$v]:-} $t"; rss[$v]=$(echo "$m ${rss[$v]:-0}" | awk '{print ($1 > $2 ? $1 : $2)}')
  done
done
mk=$(printf "%s\n" "${mk_times[@]}" | median)
printf "%-34s %10s %10s %12s\n" case wall_s vs_mergekit peak_rss
printf "%-34s %10.1f %10s %9.0f MB\n" "mergekit union (1 process)" "$mk" "1.0x" "$((mk_rss / 1000))"
for v in union base none; do
  t=$(printf "%s\n" ${times[$v]} | median)
  printf "%-34s %10.1f %9.1fx %9.0f MB\n" "cocktail $v, $ranks ranks" "$t" "$(echo "$mk / $t" | bc -l)" "${rss[$v]}"
done
# The values, once: both tools computing in float32 (mergekit's dtype:
# bfloat16 above rounds every step to bf16; we always compute in float32).
sed 's/^dtype: bfloat16/dtype: float32\nout_dtype: bfloat16/' "$dir/union-mergekit.yaml" >"$dir/union-f32-mergekit.yaml"
sed 's/^dtype: bfloat16/dtype: float32\nout_dtype: bfloat16/' "$dir/union.yaml" >"$dir/union-f32.yaml"
rm -rf "$dir/mk-out"
"$venv/bin/mergekit-yaml" "$dir/union-f32-mergekit.yaml" "$dir/mk-out" --lazy-unpickle >"$dir/mk.log" 2>&1 ||
  { cat "$dir/mk.log"; exit 1; }
cocktail "$dir/union-f32.yaml" >/dev/null
echo "values, both computing in float32 (dtype: float32, out_dtype: bfloat16):"
"$venv/bin/python" - "$dir/out-union" "$dir/mk-out" <<'EOF'
import json, sys, torch
from safetensors import safe_open
def vocab(d):
    t = json.load(open(f"{d}/tokenizer.json")); v = dict(t["model"]["vocab"])
    for a in t["added_tokens"]: v.setdefault(a["content"], a["id"])
    return v
def tensor(d, name):
    idx = json.load(open(f"{d}/model.safetensors.index.json"))["weight_map"] if \
        __import__("os").path.exists(f"{d}/model.safetensors.index.json") else None
    f = f"{d}/{idx[name]}" if idx else f"{d}/model.safetensors"
    with safe_open(f, "pt") as s: return s.get_tensor(name)
ours, theirs = sys.argv[1], sys.argv[2]
vo, vm = vocab(ours), vocab(theirs)
for name in ("model.embed_tokens.weight", "lm_head.weight"):
    a, b = tensor(ours, name), tensor(theirs, name)
    ids = sorted(vm)
    x, y = a[[vo[t] for t in ids]].float(), b[[vm[t] for t in ids]].float()
    equal = (x == y).all(dim=1).sum().item()
    rel = ((x - y).abs().max(dim=1).values / y.abs().max(dim=1).values.clamp_min(1e-30)).max().item()
    print(f"{name}: {len(vo)} tokens ours, {len(vm)} mergekit's (same set: {set(vo) == set(vm)}); "
          f"rows bit-equal {equal} of {len(ids)}, largest difference {rel:.3g} of the row's largest value")
EOF
[ "$keep" = 1 ] || rm -rf "$dir"/out-* "$dir"/mk-out
