// Every weighted_sum path this CPU supports must give the bytes of
// weighted_sum_scalar, for any dtype mix, length, alignment and split of n.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_cases.hpp"
#include "weighted_sum_dispatch.hpp"

namespace cocktail {
namespace {

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

TEST(WeightedSum, ReportsIsa) {
  EXPECT_STREQ(weighted_sum_isa(), isa_name(best_isa()));
  EXPECT_TRUE(isa_supported(Isa::kPortable));
  std::printf("weighted_sum ISA here: %s\n", weighted_sum_isa());
}

TEST(WeightedSum, EveryIsaMatchesScalarReference) {
  std::mt19937 rng(42);
  const size_t lengths[] = {0, 1, 7, 1023, 1025, 5000};
  for (size_t k = 1; k <= 5; ++k) {
    for (DType out_dtype : kFloatTypes) {
      for (size_t n : lengths) {
        for (int rep = 0; rep < 2; ++rep) {
          Case c = random_case(k, out_dtype, n, rng);
          Tensor ref = make_tensor(out_dtype, n, rng() % 8);
          std::vector<uint64_t> ref_bad(k + 1, 0);
          weighted_sum_scalar(c.in, ref.data(), out_dtype, n, ref_bad.data());

          // Non-finite counts against a direct count of the widened values,
          // inputs and output.
          for (size_t i = 0; i < k; ++i) {
            uint64_t direct = 0;
            for (size_t j = 0; j < n; ++j)
              direct += !std::isfinite(load_as_f32(c.in[i].data, c.in[i].dtype, j));
            ASSERT_EQ(ref_bad[i], direct);
          }
          uint64_t direct_out = 0;
          for (size_t j = 0; j < n; ++j) direct_out += !std::isfinite(load_as_f32(ref.data(), out_dtype, j));
          ASSERT_EQ(ref_bad[k], direct_out);

          for (Isa isa : supported_isas()) {
            Tensor out = make_tensor(out_dtype, n, rng() % 8);
            std::vector<uint64_t> bad(k + 1, 7);  // counts are added to
            weighted_sum_with(isa, c.in, out.data(), out_dtype, n, bad.data());
            ASSERT_EQ(bytes(out, n), bytes(ref, n))
                << isa_name(isa) << " k=" << k << " n=" << n << " out=" << int(out_dtype);
            for (size_t i = 0; i <= k; ++i) ASSERT_EQ(bad[i], ref_bad[i] + 7);
            ASSERT_EQ(out.storage.back(), 0xCD);  // nothing written past the end
            ASSERT_EQ(out.storage[out.offset + n * dtype_size(out_dtype)], 0xCD);
          }
          Tensor out = make_tensor(out_dtype, n, 0);
          weighted_sum(c.in, out.data(), out_dtype, n, nullptr);
          ASSERT_EQ(bytes(out, n), bytes(ref, n));
        }
      }
    }
  }
}

// Bf16 in, bf16 out takes the fused vector loop (every input of that type);
// lengths around the vector widths reach its tail. Random bf16 patterns hold
// NaN payloads, infinities, subnormals and sums past bf16's range.
TEST(WeightedSum, FusedBf16PathMatchesScalarReference) {
  std::mt19937 rng(7);
  for (size_t k = 1; k <= 6; ++k) {
    for (size_t n : {size_t{1}, size_t{8}, size_t{15}, size_t{16}, size_t{17}, size_t{31}, size_t{4099}}) {
      for (int rep = 0; rep < 3; ++rep) {
        Case c = random_case(k, DType::BF16, n, rng, true, DType::BF16);
        Tensor ref = make_tensor(DType::BF16, n, 0);
        std::vector<uint64_t> ref_bad(k + 1, 0);
        weighted_sum_scalar(c.in, ref.data(), DType::BF16, n, ref_bad.data());
        for (Isa isa : supported_isas()) {
          Tensor out = make_tensor(DType::BF16, n, rng() % 8);
          std::vector<uint64_t> bad(k + 1, 0);
          weighted_sum_with(isa, c.in, out.data(), DType::BF16, n, bad.data());
          ASSERT_EQ(bytes(out, n), bytes(ref, n)) << isa_name(isa) << " k=" << k << " n=" << n;
          ASSERT_EQ(bad, ref_bad) << isa_name(isa) << " k=" << k << " n=" << n;
          ASSERT_EQ(out.storage[out.offset + 2 * n], 0xCD);  // nothing written past the end
        }
      }
    }
  }
}

// Threads get arbitrary sub-ranges of a chunk; the bytes must not change.
TEST(WeightedSum, SplittingIntoSubrangesGivesSameBytes) {
  std::mt19937 rng(7);
  for (int rep = 0; rep < 20; ++rep) {
    const size_t n = 3000 + rng() % 3000, k = 1 + rng() % 5;
    const DType out_dtype = kFloatTypes[rng() % 6];
    Case c = random_case(k, out_dtype, n, rng);
    Tensor whole = make_tensor(out_dtype, n, 0);
    std::vector<uint64_t> whole_bad(k + 1, 0);
    weighted_sum(c.in, whole.data(), out_dtype, n, whole_bad.data());

    for (Isa isa : supported_isas()) {
      Tensor parts = make_tensor(out_dtype, n, 3);
      std::vector<uint64_t> bad(k + 1, 0);
      for (size_t begin = 0; begin < n;) {
        const size_t end = std::min(n, begin + 1 + rng() % 1500);
        std::vector<WeightedInput> sub = c.in;
        for (WeightedInput& x : sub)
          x.data = static_cast<const unsigned char*>(x.data) + begin * dtype_size(x.dtype);
        weighted_sum_with(isa, sub, parts.data() + begin * dtype_size(out_dtype), out_dtype,
                          end - begin, bad.data());
        begin = end;
      }
      ASSERT_EQ(bytes(parts, n), bytes(whole, n)) << isa_name(isa);
      ASSERT_EQ(bad, whole_bad);
    }
  }
}

// The scalar reference itself against the specification written out in plain
// float arithmetic: acc = w0*x0, then acc = acc + wi*xi, each step rounded.
TEST(WeightedSum, ScalarMatchesPlainFloatMath) {
  std::mt19937 rng(11);
  for (size_t k = 1; k <= 5; ++k) {
    const size_t n = 2000;
    std::vector<std::vector<float>> xs(k, std::vector<float>(n));
    std::vector<WeightedInput> in;
    for (size_t i = 0; i < k; ++i) {
      for (float& v : xs[i]) v = float(random_value(rng));
      in.push_back({xs[i].data(), DType::F32, std::ldexp(float(int(rng() % 2001) - 1000), -9)});
    }
    std::vector<float> out(n);
    weighted_sum_scalar(in, out.data(), DType::F32, n, nullptr);
    for (size_t j = 0; j < n; ++j) {
      volatile float acc = in[0].weight * xs[0][j];  // volatile: no contraction
      for (size_t i = 1; i < k; ++i) {
        volatile float prod = in[i].weight * xs[i][j];
        acc = acc + prod;
      }
      if (std::isnan(acc)) {
        ASSERT_EQ(f32_bits(out[j]), kCanonicalNanF32);
      } else {
        ASSERT_EQ(f32_bits(out[j]), f32_bits(acc)) << "k=" << k << " j=" << j;
      }
    }
    // The vector paths agree with it too (checked broadly above); here with
    // aligned f32 data the test machine's best path is compared directly.
    std::vector<float> fast(n);
    weighted_sum(in, fast.data(), DType::F32, n, nullptr);
    ASSERT_EQ(std::memcmp(fast.data(), out.data(), n * 4), 0);
  }
}

TEST(WeightedSum, EmptyInputsGiveZerosAndBadDtypesThrow) {
  std::vector<float> out(10, 1.0f);
  weighted_sum(std::span<const WeightedInput>(), out.data(), DType::F32, out.size(), nullptr);
  for (float v : out) EXPECT_EQ(f32_bits(v), 0u);
  const int32_t ints[4] = {1, 2, 3, 4};
  const WeightedInput bad[] = {{ints, DType::I32, 1.0f}};
  EXPECT_THROW(weighted_sum(bad, out.data(), DType::F32, 4, nullptr), std::invalid_argument);
  const WeightedInput good[] = {{out.data(), DType::F32, 1.0f}};
  EXPECT_THROW(weighted_sum(good, out.data(), DType::I32, 4, nullptr), std::invalid_argument);
}

// Sums too large for the output dtype are stored as Inf or NaN and counted.
TEST(WeightedSum, CountsOutputsThatOverflowTheOutputDtype) {
  const float x[4] = {1000.0f, 2000.0f, 448.0f, 70000.0f};
  const WeightedInput in[1] = {{x, DType::F32, 1.0f}};
  struct Want { DType out; uint64_t nonfinite; };
  // e4m3: 1000, 2000 and 70000 exceed 448 (NaN); f16: only 70000 (Inf).
  for (Want want : {Want{DType::F8_E4M3, 3}, Want{DType::F16, 1}, Want{DType::BF16, 0}}) {
    for (Isa isa : supported_isas()) {
      unsigned char out[16];
      uint64_t counts[2] = {0, 0};
      weighted_sum_with(isa, in, out, want.out, 4, counts);
      EXPECT_EQ(counts[0], 0u) << isa_name(isa);
      EXPECT_EQ(counts[1], want.nonfinite) << isa_name(isa) << " out=" << int(want.out);
    }
    unsigned char out[16];
    uint64_t counts[2] = {0, 0};
    weighted_sum_scalar(in, out, want.out, 4, counts);
    EXPECT_EQ(counts[1], want.nonfinite);
  }
}

}  // namespace
}  // namespace cocktail
