#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input for a bounded time: the safetensors
# header, the checkpoint index JSON, the YAML job config and the HDF5 reader
# (tests/fuzz).
# Installs clang (Debian's clang-14 and its libFuzzer runtime) when missing,
# builds the targets with -fsanitize=fuzzer,address,undefined into
# build-fuzz/ (FUZZ_BUILD_DIR overrides), and runs each for FUZZ_SECONDS
# (default 60) on a copy of its committed seed corpus. Exits non-zero when any
# target crashes, hangs (-timeout, FUZZ_TIMEOUT seconds per input, default 5),
# runs out of memory (FUZZ_RSS_MB, default 2048) or a sanitizer reports; the
# reproducer's path and the command that replays it are printed.
#   ./launch/fuzz.sh                                   # all four, 60 s each
#   FUZZ_SECONDS=600 ./launch/fuzz.sh fuzz_job_config  # one target, longer
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
timeout_s="${FUZZ_TIMEOUT:-5}"
rss_mb="${FUZZ_RSS_MB:-2048}"
targets=("$@")
((${#targets[@]})) || targets=(fuzz_safetensors_header fuzz_index_json fuzz_job_config fuzz_hdf5)

PACKAGES=(clang-14 libclang-rt-14-dev cmake ninja-build libyaml-cpp-dev nlohmann-json3-dev)
"$root/launch/apt_install.sh" fuzz "${PACKAGES[@]}"

cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

# Which seeds and dictionary each target starts from.
declare -A corpus_of=([fuzz_safetensors_header]=safetensors_header [fuzz_index_json]=index_json
                      [fuzz_job_config]=job_config [fuzz_hdf5]=hdf5)
declare -A dict_of=([fuzz_safetensors_header]=json.dict [fuzz_index_json]=json.dict
                    [fuzz_job_config]=yaml.dict [fuzz_hdf5]=hdf5.dict)

# Leaks fail the run too (libFuzzer's -detect_leaks is on with ASan).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# fuzz_job_config writes each input to a file (load_job takes a path): on
# tmpfs it runs ten times as many inputs as on disk.
scratch_root="$build/scratch"
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm
scratch=""
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT

failed=()
for t in "${targets[@]}"; do
  [ -n "${corpus_of[$t]:-}" ] || { echo "fuzz: unknown target $t" >&2; exit 2; }
  # The corpus grows across local runs; the seeds are copied in, never written to.
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts" "$scratch_root" "$(dirname "$log")"
  scratch="$(mktemp -d -p "$scratch_root" "cocktail-$t.XXXXXX")"  # TMPDIR of the target
  cp "$root/tests/fuzz/corpus/${corpus_of[$t]}"/* "$corpus"/
  echo "fuzz: $t for ${seconds}s"
  rc=0
  TMPDIR="$scratch" "$build/$t" "$corpus" \
    -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
    -dict="$root/tests/fuzz/dict/${dict_of[$t]}" -artifact_prefix="$artifacts/" \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  if ((rc != 0)) || compgen -G "$artifacts/*" >/dev/null; then
    failed+=("$t")
    echo "fuzz: FINDING in $t (exit status $rc); log: $log" >&2
    tail -n 60 "$log" >&2
    for a in "$artifacts"/*; do
      [ -e "$a" ] || continue
      echo "fuzz: reproducer: $a" >&2
      echo "fuzz: replay with: TMPDIR=\$(mktemp -d) $build/$t $a" >&2
    done
  else
    awk -v t="$t" '/^stat::number_of_executed_units:/ {runs = $2}
                   /^stat::peak_rss_mb:/ {rss = $2}
                   END {printf "fuzz: %s ok: %d inputs, peak RSS %d MB\n", t, runs, rss}' "$log"
  fi
  rm -rf "$scratch"
  scratch=""
done

if ((${#failed[@]})); then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no findings (${#targets[@]} targets, ${seconds}s each)"
