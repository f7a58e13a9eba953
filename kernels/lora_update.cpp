#include "lora_update.hpp"

#include <algorithm>

namespace cocktail {
namespace {

// Columns of one panel: rank x kPanelCols floats of `right` (64 KiB at rank
// 64) stay in cache while every row of the call passes over them.
constexpr uint64_t kPanelCols = 256;
// Columns whose sums stay in registers for all r terms.
constexpr uint64_t kWidth = 64;

// acc[c] = (left @ right)[row, col0 + c] for c < n <= kPanelCols, with `l`
// the row of left. The vector loop runs across columns, so each element's
// terms are still taken k = 0 .. r-1, as lora_product does. Compiled once
// per instruction set below (inlined into each), chosen at run time.
__attribute__((always_inline)) inline void row_products_body(const float* __restrict l,
                                                             const float* __restrict right, uint32_t rank,
                                                             uint64_t cols, uint64_t col0, uint64_t n,
                                                             float* __restrict acc) {
  uint64_t c = 0;
  for (; c + kWidth <= n; c += kWidth) {
    const float* r0 = right + col0 + c;
    float t[kWidth];
    for (uint64_t i = 0; i < kWidth; ++i) t[i] = l[0] * r0[i];
    for (uint32_t k = 1; k < rank; ++k) {
      const float lk = l[k];
      const float* rk = r0 + k * cols;
      for (uint64_t i = 0; i < kWidth; ++i) t[i] = __builtin_fmaf(lk, rk[i], t[i]);
    }
    for (uint64_t i = 0; i < kWidth; ++i) acc[c + i] = t[i];
  }
  for (; c < n; ++c) {
    float t = l[0] * right[col0 + c];
    for (uint32_t k = 1; k < rank; ++k) t = __builtin_fmaf(l[k], right[k * cols + col0 + c], t);
    acc[c] = t;
  }
}

using RowProducts = void (*)(const float*, const float*, uint32_t, uint64_t, uint64_t, uint64_t, float*);

__attribute__((target("avx512f,avx2,fma"))) void row_products_avx512(const float* l, const float* right,
                                                                     uint32_t rank, uint64_t cols, uint64_t col0,
                                                                     uint64_t n, float* acc) {
  row_products_body(l, right, rank, cols, col0, n, acc);
}

__attribute__((target("avx2,fma"))) void row_products_avx2(const float* l, const float* right, uint32_t rank,
                                                           uint64_t cols, uint64_t col0, uint64_t n, float* acc) {
  row_products_body(l, right, rank, cols, col0, n, acc);
}

// Without the instruction, each fma is glibc's exact fmaf: slow, same bits.
void row_products_portable(const float* l, const float* right, uint32_t rank, uint64_t cols, uint64_t col0,
                           uint64_t n, float* acc) {
  row_products_body(l, right, rank, cols, col0, n, acc);
}

RowProducts pick_row_products() {
  __builtin_cpu_init();
  const bool fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
  if (fma && __builtin_cpu_supports("avx512f")) return row_products_avx512;
  return fma ? row_products_avx2 : row_products_portable;
}

// Elements [j, j + n) of a.data plus their products: lora_updated with the
// dtype's switch taken once per row, not per element.
template <DType D>
void add_products_as(const LoraArgs& a, uint64_t j, uint64_t n, const float* products) {
  for (uint64_t i = 0; i < n; ++i)
    store_from_f32(a.data, D, j + i, lora_updated(a, load_as_f32(a.data, D, j + i), products[i]));
}

void add_products(const LoraArgs& a, uint64_t j, uint64_t n, const float* products) {
  switch (a.dtype) {
    case DType::F32: return add_products_as<DType::F32>(a, j, n, products);
    case DType::BF16: return add_products_as<DType::BF16>(a, j, n, products);
    case DType::F16: return add_products_as<DType::F16>(a, j, n, products);
    default:
      for (uint64_t i = 0; i < n; ++i)
        store_from_f32(a.data, a.dtype, j + i, lora_updated(a, load_as_f32(a.data, a.dtype, j + i), products[i]));
  }
}

}  // namespace

void add_lora_update(const LoraArgs& a) {
  static const RowProducts row_products = pick_row_products();
  if (a.count == 0 || a.cols == 0) return;
  const uint64_t end = a.first + a.count;
  const uint64_t row0 = a.first / a.cols, row1 = (end - 1) / a.cols;
  float acc[kPanelCols];
  for (uint64_t p = 0; p < a.cols; p += kPanelCols) {
    for (uint64_t row = row0; row <= row1; ++row) {
      const uint64_t lo = std::max(p, row == row0 ? a.first % a.cols : 0);
      const uint64_t hi = std::min(p + kPanelCols, row == row1 ? (end - 1) % a.cols + 1 : a.cols);
      if (lo >= hi) continue;
      row_products(a.left + row * a.rank, a.right, a.rank, a.cols, lo, hi - lo, acc);
      add_products(a, row * a.cols + lo - a.first, hi - lo, acc);
    }
  }
}

}  // namespace cocktail
