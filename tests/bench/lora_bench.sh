#!/usr/bin/env bash
# LoRA adapters as candidates, side by side in one run with what a user
# does without them: peft's merge_and_unload() of each adapter saved as a
# model of its own, then the merge of those copies.
#
#   tests/bench/lora_bench.sh [--size 1500M] [--adapters 3] [--rank 16] [--ranks 2]
#                             [--dir /tmp/cocktail-lora-bench] [--venv DIR] [--keep]
#
# Generates a synthetic TinyLlama-shaped bf16 base of SIZE (cocktail_synth)
# and ADAPTERS random PEFT adapters of rank RANK on every linear layer of
# it (q, k, v, o, gate, up, down; float32 factors, as peft saves them by
# default), installs torch, transformers and peft into a virtualenv (the
# only step that needs the network; --venv reuses one), then times:
#   lora          mpirun -n RANKS cocktail_dist, linear over base+adapter_i
#   materialise   python: load base, PeftModel.from_pretrained, merge_and_unload,
#                 save_pretrained, once per adapter (one process each)
#   materialised  mpirun -n RANKS cocktail_dist, linear over the copies
# and prints wall times, bytes read, disk written, the largest peak RSS of
# each, and whether the two merges wrote the same tensor bytes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size=1500M adapters=3 rank=16 ranks=2 dir=/tmp/cocktail-lora-bench venv="" keep=0
while (($#)); do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --adapters) adapters=$2; shift 2 ;;
    --rank) rank=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
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
if ! "$venv/bin/python" -c "import peft, transformers, torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch transformers peft safetensors numpy
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$dir"
base="$dir/base-$size"
[ -f "$base/config.json" ] || "$synth" "$base" --size "$size" --hidden 2048 --intermediate 5632 --vocab 32000 \
  --heads 32 --kv-heads 4 --seed 1 >/dev/null

# Random adapters in peft's layout, written with numpy + safetensors.
"$venv/bin/python" - "$base" "$dir" "$adapters" "$rank" <<'EOF'
import json, pathlib, sys
import numpy as np
from safetensors.numpy import save_file
base, out, n, r = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cfg = json.loads((base / "config.json").read_text())
h, i, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
kv = h // cfg["num_attention_heads"] * cfg["num_key_value_heads"]
shapes = {"self_attn.q_proj": (h, h), "self_attn.k_proj": (kv, h), "self_attn.v_proj": (kv, h),
          "self_attn.o_proj": (h, h), "mlp.gate_proj": (i, h), "mlp.up_proj": (i, h), "mlp.down_proj": (h, i)}
for a in range(n):
    folder = out / f"adapter{a}-r{r}-{layers}l"
    if (folder / "adapter_model.safetensors").exists():
        continue
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(100 + a)
    tensors = {}
    for layer in range(layers):
        for module, (o, k) in shapes.items():
            p = f"base_model.model.model.layers.{layer}.{module}"
            tensors[p + ".lora_A.weight"] = (rng.standard_normal((r, k), dtype=np.float32) * 0.01)
            tensors[p + ".lora_B.weight"] = (rng.standard_normal((o, r), dtype=np.float32) * 0.01)
    save_file(tensors, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": r, "lora_alpha": 2 * r, "target_modules": [m.split(".")[1] for m in shapes],
        "fan_in_fan_out": False, "use_rslora": False, "bias": "none", "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(base)}))
EOF
layers=$(python3 -c "import json;print(json.load(open('$base/config.json'))['num_hidden_layers'])")
names=(); for ((a = 0; a < adapters; a++)); do names+=("$dir/adapter$a-r$rank-${layers}l"); done

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
peak_kb() { awk '/Maximum resident/ {print $6}' "$1"; }

job() {  # output, then the models
  local out=$1; shift
  echo "merge_method: linear"
  echo "models:"
  for m in "$@"; do echo "  - model: $m"; echo "    parameters: {weight: 1}"; done
  echo "output: $out"
  echo "progress_interval: 0"
}
run_merge() {  # name, models...
  local name=$1; shift
  job "$dir/out-$name" "$@" > "$dir/$name.yaml"
  rm -rf "$dir/out-$name"
  drop_caches
  local t0; t0=$(now)
  /usr/bin/time -v -o "$dir/$name.time" mpirun -n "$ranks" "$dist" "$dir/$name.yaml" > "$dir/$name.log" 2>&1
  echo "$(now) - $t0" | bc
}

lora_models=(); for a in "${names[@]}"; do lora_models+=("$base+$a"); done
t_lora=$(run_merge lora "${lora_models[@]}")
rss_lora=$(grep -o 'peak RSS.*' "$dir/lora.log" | grep -o '[0-9.]* [MG]B' | sort -h | tail -1)

drop_caches
t0=$(now); mat=(); rss_mat=0
for a in "${names[@]}"; do
  m="$dir/mat-$(basename "$a")"; rm -rf "$m"; mat+=("$m")
  /usr/bin/time -v -o "$dir/mat.time" "$venv/bin/python" - "$base" "$a" "$m" <<'EOF' >/dev/null 2>&1
import sys, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.bfloat16)
PeftModel.from_pretrained(model, sys.argv[2]).merge_and_unload().save_pretrained(sys.argv[3])
EOF
  rss_mat=$(( $(peak_kb "$dir/mat.time") > rss_mat ? $(peak_kb "$dir/mat.time") : rss_mat ))
done
t_materialise=$(echo "$(now) - $t0" | bc)
t_merge_mat=$(run_merge materialised "${mat[@]}")
rss_merge_mat=$(grep -o 'peak RSS.*' "$dir/materialised.log" | grep -o '[0-9.]* [MG]B' | sort -h | tail -1)

read_bytes() { python3 -c "import json;print(json.load(open('$1/merge_report.json'))['bytes_read'])"; }
same=$("$venv/bin/python" - "$dir/out-lora" "$dir/out-materialised" <<'EOF'
import sys, numpy as np
from safetensors import safe_open
a, b = sys.argv[1], sys.argv[2]
import glob, os
def tensors(d):
    out = {}
    for f in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        with safe_open(f, "np") as h:
            for k in h.keys(): out[k] = f
    return out
ta, tb = tensors(a), tensors(b)
diff = total = 0
for k in ta:
    with safe_open(ta[k], "pt") as h: x = h.get_tensor(k).view(-1).view(dtype=__import__("torch").int16)
    with safe_open(tb[k], "pt") as h: y = h.get_tensor(k).view(-1).view(dtype=__import__("torch").int16)
    diff += int((x != y).sum()); total += x.numel()
print(f"{diff} of {total} elements differ")
EOF
)
disk=$(du -sb "${mat[@]}" | awk '{s += $1} END {printf "%.2f GB", s / 1e9}')
printf '\n%s base %s, %d adapters of rank %d on every linear layer, %d ranks, cold cache\n' \
  "$(date -u +%F)" "$size" "$adapters" "$rank" "$ranks"
printf '%-36s %9s %14s %12s\n' "run" "seconds" "bytes read" "peak RSS"
printf '%-36s %9.1f %14s %12s\n' "cocktail, base+adapter candidates" "$t_lora" "$(read_bytes "$dir/out-lora")" "$rss_lora"
printf '%-36s %9.1f %14s %12s\n' "peft merge_and_unload + save (each)" "$t_materialise" "-" "$((rss_mat / 1024)) MB"
printf '%-36s %9.1f %14s %12s\n' "cocktail, materialised candidates" "$t_merge_mat" "$(read_bytes "$dir/out-materialised")" "$rss_merge_mat"
printf 'materialised then merged: %.1f s, %.2fx the LoRA candidates; %s of copies written\n' \
  "$(echo "$t_materialise + $t_merge_mat" | bc)" "$(echo "($t_materialise + $t_merge_mat) / $t_lora" | bc -l)" "$disk"
echo "output tensors, LoRA vs materialised: $same"
[ "$keep" = 1 ] || rm -rf "$dir"/out-* "$dir"/mat-*
