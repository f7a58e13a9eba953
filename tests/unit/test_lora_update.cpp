// The CPU's blocked LoRA update must give the bytes of the per-element code
// the CUDA kernel runs (lora_update_element), for any rank, row length,
// dtype, rounding and range; and the product must be the specified one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_cases.hpp"
#include "lora_update.hpp"

namespace cocktail {
namespace {

TEST(LoraUpdate, BlockedCpuPathMatchesPerElementCode) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const uint32_t ranks[] = {1, 3, 8, 17, 64};
  const uint64_t widths[] = {1, 5, 64, 255, 700};  // a panel is 256 columns, a register block 64
  const DType rounding[] = {DType::F32, DType::BF16, DType::F16};
  int cases = 0;
  for (uint32_t rank : ranks) {
    for (uint64_t cols : widths) {
      const uint64_t rows = 9;
      std::vector<float> left(rows * rank), right(rank * cols);
      for (float& x : left) x = normal(rng);
      for (float& x : right) x = normal(rng) * 0.01f;
      for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
        for (DType first_round : rounding) {
          // Any range: whole tensor, one element, parts of rows.
          const uint64_t n = rows * cols;
          const uint64_t first = rng() % n, count = 1 + rng() % (n - first);
          for (auto [f, c] : {std::pair<uint64_t, uint64_t>{0, n}, {first, count}, {n - 1, 1}}) {
            Tensor base = make_tensor(dtype, c, rng() % 4);
            for (uint64_t j = 0; j < c; ++j) store_from_f32(base.data(), dtype, j, normal(rng));
            Tensor want = base;
            LoraArgs a;
            a.left = left.data();
            a.right = right.data();
            a.rank = rank;
            a.cols = cols;
            a.scale = 0.75f;
            a.round_first = first_round;
            a.round_then = dtype == DType::F32 ? DType::F32 : dtype;
            a.dtype = dtype;
            a.first = f;
            a.count = c;
            a.data = want.data();
            for (uint64_t j = 0; j < c; ++j) lora_update_element(a, j);
            a.data = base.data();
            add_lora_update(a);
            ASSERT_EQ(std::memcmp(base.data(), want.data(), c * dtype_size(dtype)), 0)
                << "rank " << rank << " cols " << cols << " dtype " << int(dtype) << " first " << f << " count " << c;
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 5 * 5 * 3 * 3 * 3);
}

// The update of one element w of a one-column tensor.
LoraArgs one_element(const float* left, const float* right, uint32_t rank, float scale, float* w) {
  LoraArgs a;
  a.left = left;
  a.right = right;
  a.rank = rank;
  a.cols = 1;
  a.scale = scale;
  a.data = w;
  a.count = 1;
  return a;
}

// k = 0 .. r-1 in order: with terms 1e8, 1, -1e8 the 1 is lost (1e8 + 1
// rounds to 1e8), which a sum in another order would keep.
TEST(LoraUpdate, ProductIsSummedInOrder) {
  const float left[] = {1e8f, 1.0f, -1e8f};
  const float right[] = {1.0f, 1.0f, 1.0f};
  float w = 5.0f;
  LoraArgs a = one_element(left, right, 3, 2.0f, &w);
  EXPECT_EQ(lora_product(a, 0, 0), 0.0f);
  add_lora_update(a);
  EXPECT_EQ(w, 5.0f);
  // Reversed order keeps it: the update is then 2 * 1.
  const float left_reversed[] = {-1e8f, 1e8f, 1.0f};
  a.left = left_reversed;
  add_lora_update(a);
  EXPECT_EQ(w, 7.0f);
}

// Each later term is one fused multiply-add: -1 + (1 + 2^-12)^2 keeps the
// 2^-24 that rounding the product first would lose.
TEST(LoraUpdate, LaterTermsAreFusedMultiplyAdds) {
  const float x = 1.0f + std::ldexp(1.0f, -12);
  const float left[] = {-1.0f, x};
  const float right[] = {1.0f, x};
  float w = 0.0f;
  LoraArgs a = one_element(left, right, 2, 1.0f, &w);
  const float fused = std::ldexp(1.0f, -11) + std::ldexp(1.0f, -24);
  EXPECT_EQ(lora_product(a, 0, 0), fused);
  add_lora_update(a);
  EXPECT_EQ(w, fused);
}

// peft rounds the scaled update to a 16-bit adapter's dtype before adding.
TEST(LoraUpdate, RoundsTheUpdateFirstAsPeft) {
  const float left[] = {1.0f};
  const float right[] = {1.0f + 1.0f / 1024};  // not a bf16 value
  float w = 0.0f;
  LoraArgs a = one_element(left, right, 1, 1.0f, &w);
  add_lora_update(a);
  EXPECT_EQ(w, 1.0f + 1.0f / 1024);
  w = 0.0f;
  a.round_first = DType::BF16;
  add_lora_update(a);
  EXPECT_EQ(w, 1.0f);
}

}  // namespace
}  // namespace cocktail
