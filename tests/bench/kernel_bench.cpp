// Single-thread throughput of the CPU weighted-sum kernel on every path this
// CPU supports, against the element-by-element reference.
//
//   build/tests/bench/kernel_bench [models=4] [elements=16777216]
//
// Inputs are bf16 (the common checkpoint dtype), output bf16; GB/s counts
// input bytes, as the merge benchmark does. Each figure is the best of 5.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "weighted_sum_dispatch.hpp"

using namespace cocktail;

int main(int argc, char** argv) {
  const size_t models = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4;
  const size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : size_t{1} << 24;
  std::vector<std::vector<uint16_t>> data(models, std::vector<uint16_t>(n));
  std::vector<WeightedInput> in;
  for (size_t m = 0; m < models; ++m) {
    for (size_t i = 0; i < n; ++i) data[m][i] = static_cast<uint16_t>(0x3c00 + ((i * 7 + m) & 0xff));
    in.push_back({data[m].data(), DType::BF16, 1.0f / static_cast<float>(models)});
  }
  std::vector<uint16_t> out(n);
  std::vector<uint64_t> nonfinite(models + 1);
  const double bytes = static_cast<double>(models * n * 2);

  auto best_of_5 = [&](auto&& run) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      run();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return bytes / best / 1e9;
  };

  std::printf("kernel: %zu bf16 inputs x %zu elements -> bf16, one thread\n", models, n);
  std::printf("  %-8s %6.2f GB/s\n", "element",
              best_of_5([&] { weighted_sum_scalar(in, out.data(), DType::BF16, n, nonfinite.data()); }));
  for (Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    std::printf("  %-8s %6.2f GB/s\n", isa_name(isa), best_of_5([&] {
                  weighted_sum_with(isa, in, out.data(), DType::BF16, n, nonfinite.data());
                }));
  }
  return 0;
}
