#!/usr/bin/env bash
# ties, dare_ties and slerp against mergekit 0.1.5 on the same YAML, side by
# side in one run, and against our own linear merge of the same models.
#
#   tests/bench/methods_bench.sh [--size 1500M] [--ranks 2] [--repeat 2]
#                                [--methods "linear ties dare_ties slerp"]
#                                [--dir /tmp/cocktail-methods-bench] [--venv DIR] [--keep]
#
# Generates a base and two fine-tune-shaped synthetic Llama checkpoints (bf16,
# hidden 2048, intermediate 5632, vocab 32000: TinyLlama's shapes, layers
# chosen to reach SIZE each), installs mergekit 0.1.5 into a virtualenv (the
# only step that needs the network; --venv reuses one), then runs for each
# method (slerp: base and a, with per-kind t gradients), REPEAT times alternating: mergekit-yaml (CPU, --lazy-unpickle) and
# mpirun -n RANKS cocktail_dist. It prints the median wall time of each, the
# speed ratio, and the peak RSS of the largest process (mergekit's one
# process; our largest rank, as its summary reports it).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size=1500M ranks=2 repeat=2 dir=/tmp/cocktail-methods-bench venv="" keep=0 methods="linear ties dare_ties slerp"
while (($#)); do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
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
for name in base a b; do
  m="$dir/$name-$size"
  seed=$([ "$name" = base ] && echo 1 || ([ "$name" = a ] && echo 2 || echo 3))
  [ -f "$m/config.json" ] || "$synth" "$m" --size "$size" --hidden 2048 --intermediate 5632 --vocab 32000 \
    --heads 32 --kv-heads 4 --seed "$seed" >/dev/null
done

job() {  # method -> YAML both tools read (ours adds output and progress below)
  if [ "$1" = slerp ]; then
    printf '%s\n' "merge_method: slerp" "base_model: $dir/base-$size" "dtype: bfloat16" "parameters:" "  t:" \
      "    - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}" "    - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}" \
      "    - {value: 0.5}" "models:" "  - model: $dir/base-$size" "  - model: $dir/a-$size"
    return
  fi
  local density=""
  [ "$1" != linear ] && density=", density: 0.5"
  echo "merge_method: $1"
  [ "$1" != linear ] && echo "base_model: $dir/base-$size"
  echo "dtype: bfloat16"
  echo "models:"
  [ "$1" = linear ] && echo "  - model: $dir/base-$size" && echo "    parameters: {weight: 0.4}"
  echo "  - model: $dir/a-$size"
  echo "    parameters: {weight: 0.3$density}"
  echo "  - model: $dir/b-$size"
  echo "    parameters: {weight: 0.3$density}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cat "$dir"/*-"$size"/*.safetensors >/dev/null  # warm the page cache for both tools alike

printf "%-12s %12s %12s %8s %14s %14s\n" method mergekit_s cocktail_s speedup mergekit_rss cocktail_rss
for method in $methods; do
  job "$method" >"$dir/$method-mergekit.yaml"
  { job "$method"; echo "output: $dir/out-$method"; echo "progress_interval: 0"; } >"$dir/$method.yaml"
  [ "$method" = dare_ties ] && echo "random_seed: 0" >>"$dir/$method.yaml"
  mk_times=() ck_times=() mk_rss=0 ck_rss=0
  for ((r = 0; r < repeat; r++)); do
    rm -rf "$dir/mk-out-$method"
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$venv/bin/mergekit-yaml" "$dir/$method-mergekit.yaml" \
      "$dir/mk-out-$method" --lazy-unpickle --no-copy-tokenizer --random-seed 0 >"$dir/mk.log" 2>&1
    read -r t rss <"$dir/time.txt"
    mk_times+=("$t"); mk_rss=$((rss > mk_rss ? rss : mk_rss))
    start=$(date +%s.%N)
    "$root/launch/mpirun.sh" -n "$ranks" "$dist" "$dir/$method.yaml" --overwrite >"$dir/ck.log" 2>&1
    end=$(date +%s.%N)
    ck_times+=("$(echo "$end - $start" | bc)")
    r_rss=$(grep "peak RSS" "$dir/ck.log" | grep -oE "[0-9.]+ (MB|GB)" | awk '{v=$1; if ($2=="GB") v*=1000; print v}' |
      sort -n | tail -1)
    ck_rss=$(echo "$r_rss $ck_rss" | awk '{print ($1 > $2 ? $1 : $2)}')
  done
  mk=$(printf "%s\n" "${mk_times[@]}" | median) ck=$(printf "%s\n" "${ck_times[@]}" | median)
  printf "%-12s %12.1f %12.1f %7.1fx %11.0f MB %11.0f MB\n" "$method" "$mk" "$ck" "$(echo "$mk / $ck" | bc -l)" \
    "$((mk_rss / 1000))" "$ck_rss"
done
grep -E "passes|statistics" "$dir/ck.log" | head -2 || true
[ "$keep" = 1 ] || rm -rf "$dir"/out-* "$dir"/mk-out-*
