#pragma once
// A LoRA adapter's update of a base tensor, w + scale * (left @ right), per
// element, written once for the CPU and the CUDA kernel: the same bytes on
// any device, rank count, chunk size and thread count.
//
// Why not a BLAS: a BLAS orders and fuses the r-term sums as its kernel for
// the CPU at hand chooses (OpenBLAS picks one per microarchitecture, and
// libblas.so.3 is whichever BLAS the machine's alternatives name), so the
// output's bytes would depend on the node and differ on a GPU. The product is
// specified instead: float32, acc = l0 * r0 rounded, then k = 1 .. r-1 in
// order, acc = fma(lk, rk, acc), each fused multiply-add rounded once. It
// gives peft's merge_and_unload (torch's CPU product) bit for bit on every
// element of the committed fixtures (test_lora_adapter), and an fma is one
// IEEE operation: the same bits from the CPU's instruction, glibc's fmaf
// without one, and the GPU's __fmaf_rn.
#include <cstdint>

#include "element_math.hpp"

namespace cocktail {

// One adapted tensor's update over elements [first, first + count) of its
// rows x cols, row-major. Pointers are device memory in the CUDA kernel.
struct LoraArgs {
  const float* left = nullptr;   // rows x rank: B, or A^T for (B @ A)^T layers
  const float* right = nullptr;  // rank x cols: A, or B^T
  uint32_t rank = 0;
  uint64_t cols = 0;
  float scale = 0;  // lora_alpha / r, or / sqrt(r) (rsLoRA)
  // peft's merge_and_unload rounds the scaled update to these before adding
  // (F32: not at all); see LoraFactors.
  DType round_first = DType::F32;
  DType round_then = DType::F32;
  void* data = nullptr;  // the base's elements [first, first + count), updated in place
  DType dtype = DType::F32;
  uint64_t first = 0;
  uint64_t count = 0;
};

// a * b + c rounded once (not the merge sums' accumulate, which rounds twice).
COCKTAIL_HD float fma_rn(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return __builtin_fmaf(a, b, c);
#endif
}

// (left @ right)[row, col], in the specified order.
COCKTAIL_HD float lora_product(const LoraArgs& a, uint64_t row, uint64_t col) {
  const float* l = a.left + row * a.rank;
  float acc = mul_rn(l[0], a.right[col]);
  for (uint32_t k = 1; k < a.rank; ++k) acc = fma_rn(l[k], a.right[k * a.cols + col], acc);
  return acc;
}

COCKTAIL_HD float round_to(DType t, float v) {
  if (t == DType::F32) return v;
  unsigned char buf[8];
  store_from_f32(buf, t, 0, v);
  return load_as_f32(buf, t, 0);
}

// Base element w plus the update whose product is `product`, as peft: the
// product times the scale (not inside the sum), rounded as the adapter says,
// added to w in float32; the caller stores it in the base's dtype.
COCKTAIL_HD float lora_updated(const LoraArgs& a, float w, float product) {
  return add_rn(w, round_to(a.round_then, round_to(a.round_first, mul_rn(product, a.scale))));
}

// Element j of a.data (tensor element a.first + j): what one CUDA thread does.
COCKTAIL_HD void lora_update_element(const LoraArgs& a, uint64_t j) {
  const uint64_t e = a.first + j;
  const float w = load_as_f32(a.data, a.dtype, j);
  store_from_f32(a.data, a.dtype, j, lora_updated(a, w, lora_product(a, e / a.cols, e % a.cols)));
}

// The CPU path: every element of a.data, the same bytes as lora_update_element
// (vectorised across columns, blocked so a panel of `right` stays in cache
// while the rows stream past). Single-threaded; callers split the work.
void add_lora_update(const LoraArgs& a);

}  // namespace cocktail
