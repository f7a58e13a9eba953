#!/usr/bin/env bash
# Few-shot scoring of one candidate by cocktail and by transformers, on the
# same model files, examples and threads, in one run (docs/performance.md):
#   decoder:  a Llama-shaped bf16 model at TinyLlama's shape (1.1 B parameters,
#             tests/tools/cocktail_synth), 5 examples cut to 512 tokens
#   reranker: an XLM-R-large-shaped bf16 cross-encoder (bge-reranker-large's
#             shape: 24 layers, hidden 1024, vocabulary 250002; random weights
#             from transformers), 2 queries x (1 positive + 3 negatives) pairs of 256 tokens
# cocktail: `cocktail_dist eval`, one rank, every core. transformers (installed
# into --venv with torch): the authors' preprocessing, float32, torch threads =
# cores. Prints per case: seconds of the scoring, tokens/s, weight bytes read,
# peak RSS, and both losses (which must agree: the same work was done).
# tokens: those through the model (padded rows included), the same for both.
#
#   tests/bench/fewshot_vs_transformers.sh [--venv DIR] [--dir /tmp/cocktail-fewshot-vs] [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="" dir=/tmp/cocktail-fewshot-vs keep=0
while (($#)); do
  case "$1" in
    --venv) venv=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
build="${BUILD_DIR:-$root/build}"
venv=${venv:-$dir/venv}
mkdir -p "$dir"
if ! "$venv/bin/python" -c "import torch, transformers" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch transformers sentencepiece protobuf
fi
threads=$(nproc)

# --- the models and examples --------------------------------------------------
llama="$dir/llama-1b" reranker="$dir/xlmr-large-reranker"
if [ ! -f "$llama/config.json" ]; then
  "$build/tests/tools/cocktail_synth" "$llama" --layers 22 --hidden 2048 --intermediate 5632 \
    --vocab 32000 --heads 32 --kv-heads 4 --dtype bfloat16 --seed 1 >/dev/null
  cp "$root"/tests/fixtures/tokenizers/metaspace_llama2/* "$llama/"
fi
text=$(printf 'The merged model keeps what each fine-tune learned. %.0s' $(seq 1 200))
: >"$dir/decoder.jsonl"
for i in 1 2 3 4 5; do
  printf '{"input": "Question %d: summarise.", "output": "%s"}\n' "$i" "$text" >>"$dir/decoder.jsonl"
done
: >"$dir/reranker.jsonl"
for q in 1 2; do
  printf '{"query": "query %d: what does a merge keep?", "pos": ["%s"], "neg": ["a %s", "b %s", "c %s"]}\n' \
    "$q" "$text" "$text" "$text" "$text" >>"$dir/reranker.jsonl"
done
if [ ! -f "$reranker/config.json" ]; then
  TRANSFORMERS_VERBOSITY=error "$venv/bin/python" - "$reranker" <<'PY'
import sys, torch
from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification
torch.manual_seed(0)
cfg = XLMRobertaConfig(vocab_size=250002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                       intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                       bos_token_id=0, eos_token_id=2, num_labels=1)
XLMRobertaForSequenceClassification(cfg).to(torch.bfloat16).save_pretrained(sys.argv[1])
PY
  cp "$root"/tests/fixtures/tokenizers/unigram_xlmr/* "$reranker/"
fi
cat >"$dir/decoder.yaml" <<YAML
merge_method: lm_cocktail
models: [{model: $llama}]
examples: $dir/decoder.jsonl
batch_size: 5
max_input_length: 512
threads: $threads
YAML
cat >"$dir/reranker.yaml" <<YAML
merge_method: lm_cocktail
models: [{model: $reranker}]
examples: $dir/reranker.jsonl
batch_size: 2
neg_number: 3
max_input_length: 256
threads: $threads
YAML

# --- cocktail -------------------------------------------------------------------
cocktail() {  # case -> "seconds scored_tokens bytes_read rss rss_unit loss"
  "$root/launch/mpirun.sh" -n 1 --bind-to none "$build/src/cocktail_dist" eval "$dir/$1.yaml" >"$dir/$1.out"
  awk '/scored/ { for (i = 1; i <= NF; i++) {
                    if ($i == "scored") t = $(i + 1)
                    if ($i == "in") s = $(i + 1)
                    if ($i == "read") r = $(i + 1) $(i + 2) } }
       /peak RSS/ { m = $(NF - 1) " " $NF }
       NF >= 3 && $2 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ && loss == "" { loss = $2 }
       END { gsub(/[s,]/, "", s); print s, t, r, m, loss }' "$dir/$1.out"
}

# --- transformers ---------------------------------------------------------------
transformers() {  # case -> "seconds tokens rss_MB loss"
  TRANSFORMERS_VERBOSITY=error "$venv/bin/python" - "$1" "$dir" "$threads" <<'PY'
import json, resource, sys, time
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
case, d, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
transformers.utils.logging.disable_progress_bar()
rows = [json.loads(l) for l in open(f"{d}/{case}.jsonl")]
with torch.no_grad():
    if case == "decoder":
        path = f"{d}/llama-1b"
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        start = time.perf_counter()
        ids, labels = [], []
        for e in rows:  # LM_Cocktail utils.preprocess_data_for_llm
            full = tok.encode(e["input"] + " " + e["output"]) + [tok.eos_token_id]
            prompt = tok.encode(e["input"])
            ids.append(full[:512]); labels.append(([-100] * len(prompt) + full[len(prompt):])[:512])
        n = max(map(len, ids))
        x = torch.tensor([r + [tok.eos_token_id] * (n - len(r)) for r in ids])
        y = torch.tensor([r + [-100] * (n - len(r)) for r in labels])
        loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=y).loss.item()
        tokens = x.numel()
    else:
        path = f"{d}/xlmr-large-reranker"
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).eval()
        start = time.perf_counter()
        pairs = [(e["query"], p) for e in rows for p in [e["pos"][0]] + e["neg"][:3]]
        f = tok([q for q, _ in pairs], [p for _, p in pairs], truncation=True, max_length=256, padding=True,
                return_tensors="pt")
        scores = model(**f).logits.view(-1, 4)
        loss = torch.nn.functional.cross_entropy(scores, torch.zeros(scores.size(0), dtype=torch.long)).item()
        tokens = f["input_ids"].numel()
seconds = time.perf_counter() - start
print(f"{seconds:.2f} {tokens} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} {loss:.6f}")
PY
}

echo "fewshot_vs_transformers: $threads cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
export HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
printf '%-9s %-13s %9s %8s %10s %12s %10s %12s\n' case tool seconds tokens tokens/s "weights read" "peak RSS" loss
for c in decoder reranker; do
  read -r cs ct cr cm cu closs < <(cocktail "$c")
  read -r ts tt tm tloss < <(transformers "$c")
  awk -v c="$c" -v cs="$cs" -v ct="$ct" -v cr="$cr" -v cm="$cm $cu" -v cl="$closs" \
      -v ts="$ts" -v tt="$tt" -v tm="$tm" -v tl="$tloss" 'BEGIN {
    printf "%-9s %-13s %9.1f %8d %10.0f %12s %10s %12s\n", c, "cocktail", cs, tt, tt / cs, cr, cm, cl
    printf "%-9s %-13s %9.1f %8d %10.0f %12s %7d MB %12s\n", c, "transformers", ts, tt, tt / ts, "(all)", tm, tl
    printf "%-9s %-13s %9.2fx\n", c, "speed ratio", ts / cs }'
done
((keep)) || rm -rf "$llama" "$reranker"
