// The CUDA kernel's per-thread code (weighted_sum_group.hpp) run on the CPU:
// groups of 8 with the vector loads and the per-element fallback must give
// the bytes and counts of weighted_sum_scalar for every dtype mix. The GPU
// runs this same code; tests/gpu checks the device result bit for bit.
#include <gtest/gtest.h>

#include "kernel_cases.hpp"
#include "weighted_sum_group.hpp"

namespace cocktail {
namespace {

SumArgs args_for(Case& c, void* out, std::vector<unsigned long long>& counts) {
  SumArgs a;
  a.models = static_cast<int>(c.in.size());
  for (size_t i = 0; i < c.in.size(); ++i) {
    a.in[i] = c.in[i].data;
    a.dtype[i] = c.in[i].dtype;
    a.weight[i] = c.in[i].weight;
  }
  a.out = out;
  a.out_dtype = c.out_dtype;
  a.n = c.n;
  counts.assign(c.in.size() + 1, 0);
  a.nonfinite = counts.data();
  return a;
}

// What one launch does, with the grid-stride loops of weighted_sum.cu
// flattened: groups first, then the tail element by element.
void run_like_kernel(const SumArgs& a, bool vector) {
  const uint64_t groups = vector ? a.n / kGroup : 0;
  for (uint64_t g = 0; g < groups; ++g) sum_group(a, g);
  for (uint64_t j = groups * kGroup; j < a.n; ++j) sum_element(a, j);
}

TEST(WeightedSumGroup, GroupsAndElementsMatchScalarReferenceOnEveryDtype) {
  std::mt19937 rng(2024);
  for (size_t k : {1, 2, 3, 5, 9}) {
    for (DType out_dtype : kFloatTypes) {
      for (size_t n : {0, 1, 7, 8, 9, 64, 1000, 4099}) {
        for (bool vector : {true, false}) {
          Case c = random_case(k, out_dtype, n, rng, /*odd_offsets=*/!vector);
          Tensor ref = make_tensor(out_dtype, n, 0);
          std::vector<uint64_t> ref_bad(k + 1, 0);
          weighted_sum_scalar(c.in, ref.data(), out_dtype, n, ref_bad.data());

          Tensor out = make_tensor(out_dtype, n, 0);
          std::vector<unsigned long long> bad;
          run_like_kernel(args_for(c, out.data(), bad), vector);
          ASSERT_EQ(bytes(out, n), bytes(ref, n)) << "k=" << k << " n=" << n << " out=" << int(out_dtype)
                                                 << " vector=" << vector;
          for (size_t i = 0; i <= k; ++i) ASSERT_EQ(bad[i], ref_bad[i]) << "counter " << i;
          ASSERT_EQ(out.storage[n * dtype_size(out_dtype)], 0xCD);  // nothing past the end
        }
      }
    }
  }
}

// Every input dtype against every output dtype, one model each plus a mixed
// pair, so no conversion pair is left to chance.
TEST(WeightedSumGroup, EveryInputOutputDtypePair) {
  std::mt19937 rng(99);
  for (DType in_dtype : kFloatTypes) {
    for (DType out_dtype : kFloatTypes) {
      const size_t n = 8 * 97 + 5;
      Case c{{}, {}, out_dtype, n};
      c.inputs.push_back(random_tensor(in_dtype, n, 0, rng));
      c.inputs.push_back(random_tensor(in_dtype == DType::BF16 ? DType::F8_E4M3 : DType::BF16, n, 0, rng));
      c.in.push_back({c.inputs[0].data(), in_dtype, 0.75f});
      c.in.push_back({c.inputs[1].data(), c.inputs[1].dtype, -0.3125f});
      Tensor ref = make_tensor(out_dtype, n, 0), out = make_tensor(out_dtype, n, 0);
      std::vector<uint64_t> ref_bad(3, 0);
      weighted_sum_scalar(c.in, ref.data(), out_dtype, n, ref_bad.data());
      std::vector<unsigned long long> bad;
      run_like_kernel(args_for(c, out.data(), bad), true);
      ASSERT_EQ(bytes(out, n), bytes(ref, n)) << int(in_dtype) << " -> " << int(out_dtype);
      for (size_t i = 0; i < 3; ++i) ASSERT_EQ(bad[i], ref_bad[i]);
    }
  }
}

}  // namespace
}  // namespace cocktail
