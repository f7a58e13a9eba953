#!/usr/bin/env bash
# The same linear merge by the tools a user would pick instead, side by side
# in one run (issue 15, docs/performance.md): mergekit 0.1.5 (mergekit-yaml,
# CPU, --lazy-unpickle), LM_Cocktail 0.0.4 (mix_models, as its README shows)
# and cocktail as one process without mpirun (no MPI) and at 2 ranks.
#
#   tests/bench/tools_bench.sh [--size 1500M] [--repeat 2] [--dir /tmp/cocktail-tools-bench]
#                              [--venv DIR] [--keep]
#
# Generates three synthetic TinyLlama-shaped bf16 checkpoints of SIZE
# (cocktail_synth), installs mergekit and LM_Cocktail (and the torch,
# transformers, sentence-transformers they need) into a virtualenv (the only
# step that needs the network; --venv reuses one), warms the page cache, then
# REPEAT times in turn: each tool merges the three with weights 0.5, 0.3, 0.2.
# Prints the median wall time, the speed of cocktail against each, the peak
# RSS of the largest process (the tools' one Python process; cocktail's
# largest rank as its summary reports it), the time a `sync` right after each
# Python tool takes to put its output on disk (cocktail's is durable when it
# exits), and how each tool's output tensors compare with cocktail's.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size=1500M repeat=2 dir=/tmp/cocktail-tools-bench venv="" keep=0
while (($#)); do
  case "$1" in
    --size) size=$2; shift 2 ;;
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
if ! "$venv/bin/python" -c "import mergekit, LM_Cocktail" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q mergekit==0.1.5 LM_Cocktail==0.0.4 sentence-transformers
fi
mkdir -p "$dir"
models=()
for i in 1 2 3; do
  m="$dir/m$i-$size"
  [ -f "$m/config.json" ] || "$synth" "$m" --size "$size" --hidden 2048 --intermediate 5632 --vocab 32000 \
    --heads 32 --kv-heads 4 --seed "$i" >/dev/null
  # LM_Cocktail saves the first model's tokenizer beside the merge: any will do.
  cp "$root"/tests/fixtures/models/llama-fp32/{tokenizer.json,tokenizer_config.json,special_tokens_map.json} "$m/"
  models+=("$m")
done
weights=(0.5 0.3 0.2)
{
  echo "merge_method: linear"
  echo "dtype: bfloat16"
  echo "models:"
  for i in 0 1 2; do echo "  - model: ${models[$i]}"; echo "    parameters: {weight: ${weights[$i]}}"; done
} >"$dir/mergekit.yaml"
{ cat "$dir/mergekit.yaml"; echo "output: $dir/out-cocktail"; echo "progress_interval: 0"; } >"$dir/cocktail.yaml"
cat >"$dir/lm_cocktail.py" <<EOF
from LM_Cocktail import mix_models
mix_models(model_names_or_paths=["${models[0]}", "${models[1]}", "${models[2]}"], model_type="decoder",
           weights=[${weights[0]}, ${weights[1]}, ${weights[2]}], output_path="$dir/out-lm_cocktail")
EOF

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timed() {  # label, command...: appends "seconds rss_kb" to $dir/label.times
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" >"$dir/$label.log" 2>&1 || { cat "$dir/$label.log"; exit 1; }
  cat "$dir/time.txt" >>"$dir/$label.times"
}
cocktail_rss() {  # the largest rank's peak RSS in MB, from the summary
  grep "peak RSS" "$dir/$1.log" | grep -oE "[0-9.]+ (MB|GB)" | awk '{v=$1; if ($2=="GB") v*=1000; print v}' | sort -n | tail -1
}

cat "$dir"/m*-"$size"/*.safetensors >/dev/null  # warm the page cache for every tool alike
rm -f "$dir"/*.times
for ((r = 0; r < repeat; r++)); do
  rm -rf "$dir/out-mergekit" "$dir/out-lm_cocktail" "$dir/out-cocktail"
  # cocktail's time includes making its output durable (fsync before it
  # publishes); the Python tools leave theirs in the page cache. The `sync`
  # after each says how long until their output is on disk too.
  sync
  timed mergekit "$venv/bin/mergekit-yaml" "$dir/mergekit.yaml" "$dir/out-mergekit" --lazy-unpickle --no-copy-tokenizer
  timed mergekit_sync sync
  timed lm_cocktail "$venv/bin/python" "$dir/lm_cocktail.py"
  timed lm_cocktail_sync sync
  for ranks in 1 2; do
    # Every tool writes into a folder that does not exist yet: replacing an
    # old output (--overwrite) would add its deletion, 0.3 s for 1.5 GB on
    # this disk (ext4 with online discard), which the others never pay.
    rm -rf "$dir/out-cocktail"
    # One process runs as a user runs it on a workstation: no mpirun, no MPI.
    if ((ranks == 1)); then
      timed "cocktail$ranks" "$dist" "$dir/cocktail.yaml"
    else
      timed "cocktail$ranks" "$root/launch/mpirun.sh" -n "$ranks" "$dist" "$dir/cocktail.yaml"
    fi
    echo "$(cocktail_rss "cocktail$ranks")" >>"$dir/cocktail$ranks.rss"
  done
done

seconds() { awk '{print $1}' "$dir/$1.times" | median; }
peak_mb() { awk '{print $2}' "$dir/$1.times" | sort -n | tail -1 | awk '{printf "%.0f", $1 / 1000}'; }
mk=$(seconds mergekit) lm=$(seconds lm_cocktail)
echo "3 x $size bf16, linear 0.5/0.3/0.2, warm page cache, $(nproc) cores, median of $repeat"
printf "%-22s %9s %14s %14s %18s\n" tool seconds "vs mergekit" "vs LM_Cocktail" "peak RSS (largest)"
printf "%-22s %9.1f %14s %14s %15s MB   (then sync: %.1f s)\n" "mergekit 0.1.5" "$mk" "" "" "$(peak_mb mergekit)" \
  "$(seconds mergekit_sync)"
printf "%-22s %9.1f %14s %14s %15s MB   (then sync: %.1f s)\n" "LM_Cocktail 0.0.4" "$lm" "" "" "$(peak_mb lm_cocktail)" \
  "$(seconds lm_cocktail_sync)"
for ranks in 1 2; do
  ck=$(seconds "cocktail$ranks")
  label="cocktail, 2 ranks"
  ((ranks == 1)) && label="cocktail, no mpirun"
  printf "%-22s %9.1f %13.1fx %13.1fx %15s MB\n" "$label" "$ck" "$(echo "$mk / $ck" | bc -l)" \
    "$(echo "$lm / $ck" | bc -l)" "$(sort -n "$dir/cocktail$ranks.rss" | tail -1 | awk '{printf "%.0f", $1}')"
done

# Every tensor of each output against the float32 reference of the recipe
# (acc = w1*x1, acc += w2*x2, acc += w3*x3 in float32, rounded once to bf16:
# docs/methods.md), element by element, in bf16 steps; and against the
# tool's own arithmetic recomputed here (what explains its differences).
"$venv/bin/python" - "$dir" "${weights[@]}" "${models[@]}" <<'EOF'
import glob, sys
import torch
from safetensors.torch import load_file

def tensors(folder):
    out = {}
    for f in sorted(glob.glob(folder + "/*.safetensors")):
        out.update(load_file(f))
    return out

dir, weights, inputs = sys.argv[1], [float(w) for w in sys.argv[2:5]], [tensors(m) for m in sys.argv[5:8]]
# Each tool's arithmetic, recomputed from the inputs:
def ours(xs):  # float32, product and sum rounded apart, rounded once at the end
    acc = torch.tensor(weights[0], dtype=torch.float32) * xs[0].float()
    for w, x in zip(weights[1:], xs[1:]):
        acc = acc + torch.tensor(w, dtype=torch.float32) * x.float()
    return acc.to(xs[0].dtype)

def mergekit(xs):  # mergekit 0.1.5 linear.py: float32 addcmul_ per term
    acc = torch.zeros_like(xs[0], dtype=torch.float32)
    for w, x in zip(weights, xs):
        acc.addcmul_(x, torch.tensor(w, dtype=torch.float32))
    return acc.to(xs[0].dtype)

def lm_cocktail(xs):  # LM_Cocktail 0.0.4 merge_param: w * param summed in the parameters' dtype
    acc = weights[0] * xs[0]
    for w, x in zip(weights[1:], xs[1:]):
        acc += w * x
    return acc

recipes = {"cocktail": ours, "mergekit": mergekit, "lm_cocktail": lm_cocktail}
ref = {name: ours([m[name] for m in inputs]) for name in inputs[0]}
def key(t):  # bf16 bits as an integer in value order (+0 and -0 alike)
    b = t.view(torch.int16).int()
    return torch.where(b < 0, -(b & 0x7FFF), b)

for tool in ("cocktail", "mergekit", "lm_cocktail"):
    out = tensors(f"{dir}/out-{tool}")
    differ = far = total = unexplained = 0
    worst = 0.0
    for name, r in ref.items():
        unexplained += int((recipes[tool]([m[name] for m in inputs]) != out[name]).sum())
        steps = (key(out[name]) - key(r)).abs()
        differ += int((steps != 0).sum())
        far += int((steps > 1).sum())
        scale = float(r.float().abs().max()) or 1.0
        worst = max(worst, float((out[name].float() - r.float()).abs().max()) / scale)
        total += r.numel()
    print(f"{tool:12s} {differ:11d} of {total} elements differ from the float32 reference "
          f"({far} by more than one bf16 step); largest difference {worst:.1e} of the tensor's largest value; "
          f"{unexplained} differ from the tool's own arithmetic recomputed")
EOF
[ "$keep" = 1 ] || rm -rf "$dir"/out-* "$dir"/*.times "$dir"/*.rss "$dir"/*.log
