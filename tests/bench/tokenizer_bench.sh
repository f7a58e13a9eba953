#!/usr/bin/env bash
# Tokens per second of cocktail's tokenizer against Hugging Face's tokenizers
# (the library transformers runs), on the committed multilingual corpus, for
# every committed tokenizer kind, one thread each, in one run:
#
#   tests/bench/tokenizer_bench.sh [--repeat 20] [--venv DIR]
#
# cocktail: Tokenizer::encode per line (tests/bench/tokenizer_bench.cpp).
# tokenizers 0.23.3 (installed into DIR, default /tmp/cocktail-tokenizer-bench/venv):
# encode per line from Python, and encode_batch of the whole corpus with one
# Rust thread (RAYON_NUM_THREADS=1), which leaves out Python's per-call cost.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
repeat=20 venv=""
while (($#)); do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --venv) venv=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
venv=${venv:-/tmp/cocktail-tokenizer-bench/venv}
bench="${BUILD_DIR:-$root/build}/tests/bench/tokenizer_bench"
[ -x "$bench" ] || { echo "build first: launch/build.sh" >&2; exit 1; }
if ! "$venv/bin/python" -c "import tokenizers" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q tokenizers==0.23.3
fi
fixtures="$root/tests/fixtures"
corpus="$fixtures/corpus/multilingual.jsonl"
kinds=()
for d in "$fixtures"/tokenizers/*/; do kinds+=("${d%/}"); done

"$bench" "$corpus" "$repeat" "${kinds[@]}" > /tmp/tokenizer_bench.cocktail
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=true "$venv/bin/python" - "$corpus" "$repeat" "${kinds[@]}" \
  > /tmp/tokenizer_bench.hf <<'PY'
import json, os, sys, time
from tokenizers import Tokenizer
corpus, repeat, dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lines = [json.loads(l) for l in open(corpus, encoding="utf-8")]
for d in dirs:
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    t0 = time.perf_counter(); n = 0
    for _ in range(repeat):
        for text in lines:
            n += len(tok.encode(text).ids)
    one = time.perf_counter() - t0
    t0 = time.perf_counter(); m = 0
    for _ in range(repeat):
        m += sum(len(e.ids) for e in tok.encode_batch(lines))
    batch = time.perf_counter() - t0
    print(os.path.basename(d), n, m, "%.3f %.3f" % (one, batch))
PY
printf '%-24s %8s %12s %14s %14s %8s\n' tokenizer tokens cocktail tokenizers tokenizers ratio
printf '%-24s %8s %12s %14s %14s %8s\n' "" "" "tokens/s" "encode tok/s" "batch tok/s" "vs best"
join <(sort /tmp/tokenizer_bench.cocktail) <(sort /tmp/tokenizer_bench.hf) | while read -r name lines ours secs rate n m one batch; do
  [ "$ours" = "$n" ] && [ "$n" = "$m" ] || { echo "$name: token counts differ ($ours, $n, $m)" >&2; exit 1; }
  awk -v name="$name" -v t="$ours" -v r="$rate" -v one="$one" -v batch="$batch" 'BEGIN {
    best = one < batch ? one : batch
    printf "%-24s %8d %12.0f %14.0f %14.0f %7.2fx\n", name, t, r, t / one, t / batch, r / (t / best) }'
done
