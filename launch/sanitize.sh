#!/usr/bin/env bash
# Builds the unit tests (tests/unit) with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-asan/ (ASAN_BUILD_DIR overrides) and
# runs them with ctest. Any sanitizer report fails its test, and so the run.
# The MPI integration tests, GPU tests and benchmarks are not built here.
# Extra arguments go to ctest:  ./launch/sanitize.sh -R Tokenizer
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ASAN_BUILD_DIR:-$root/build-asan}"
cd "$root"
./launch/setup.sh

# -O1 keeps the run fast and the reports exact; -g1 gives file:line in stacks
# without the full debug info of every libtorch header.
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g1"
# Bounds checks in std::vector, std::string_view and friends.
flags+=" -D_GLIBCXX_ASSERTIONS"
# The CUDA path is not sanitized: ASan and the CUDA runtime need special settings.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOCKTAIL_CUDA=OFF \
  -DCMAKE_C_FLAGS_DEBUG="$flags" -DCMAKE_CXX_FLAGS_DEBUG="$flags" >/dev/null

# Every executable tests/unit declares, so a new one is sanitized too.
mapfile -t targets < <(sed -n 's/^cocktail_unit_test(\([A-Za-z0-9_]*\).*/\1/p' "$root/tests/unit/CMakeLists.txt")
((${#targets[@]})) || { echo "sanitize: no cocktail_unit_test() in tests/unit/CMakeLists.txt" >&2; exit 1; }

# Leak checking is on: Debian's libtorch, OpenBLAS and OpenMPI (uninstrumented)
# report no leaks in these tests, so no suppressions are needed. The settings
# also apply to gtest's test discovery, which runs the binaries at build time.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

# Only what was built: the integration tests' and GPU tests' entries are
# labelled mpi or gpu, and gtest_discover_tests registers <target>_NOT_BUILT
# for executables that were not.
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -LE 'mpi|gpu' -E '_NOT_BUILT$' "$@"
