#include "bernoulli_mask.hpp"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cocktail {

void bernoulli_mask_portable(PhiloxKey key, uint32_t model, uint64_t first, size_t n, float p, uint8_t* keep) {
  // One generator call per four consecutive elements.
  for (size_t j = 0; j < n;) {
    const uint64_t e = first + j, block = e >> 2;
    const PhiloxBlock r = philox4x32_10(key, uint32_t(block), uint32_t(block >> 32), model);
    for (uint64_t w = e & 3; w < 4 && j < n; ++w, ++j) keep[j] = uniform_from_bits(r.v[w]) < p;
  }
}

#if defined(__x86_64__)
namespace {

// lo and hi halves of the 32 x 32 -> 64-bit products of eight lanes.
__attribute__((target("avx2"))) inline void mulhilo8(__m256i m, __m256i x, __m256i& lo, __m256i& hi) {
  const __m256i even = _mm256_mul_epu32(m, x);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(m, 32), _mm256_srli_epi64(x, 32));
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// Blocks [block, block + 8) (their low counter words do not wrap), all 32
// draws, element order.
__attribute__((target("avx2"))) void philox8(PhiloxKey key, uint64_t block, uint32_t model, uint32_t* out) {
  __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32(int(uint32_t(block))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i x1 = _mm256_set1_epi32(int(uint32_t(block >> 32)));
  __m256i x2 = _mm256_set1_epi32(int(model));
  __m256i x3 = _mm256_setzero_si256();
  const __m256i m0 = _mm256_set1_epi32(int(0xD2511F53u)), m1 = _mm256_set1_epi32(int(0xCD9E8D57u));
  uint32_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    __m256i lo0, hi0, lo1, hi1;
    mulhilo8(m0, x0, lo0, hi0);
    mulhilo8(m1, x2, lo1, hi1);
    x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32(int(k0)));
    x1 = lo1;
    x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32(int(k1)));
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  alignas(32) uint32_t w[4][8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(w[0]), x0);
  _mm256_store_si256(reinterpret_cast<__m256i*>(w[1]), x1);
  _mm256_store_si256(reinterpret_cast<__m256i*>(w[2]), x2);
  _mm256_store_si256(reinterpret_cast<__m256i*>(w[3]), x3);
  for (int b = 0; b < 8; ++b)
    for (int k = 0; k < 4; ++k) out[b * 4 + k] = w[k][b];
}

__attribute__((target("avx2"))) void bernoulli_mask_avx2(PhiloxKey key, uint32_t model, uint64_t first, size_t n,
                                                         float p, uint8_t* keep) {
  size_t j = 0;
  // Up to the next multiple of 32 elements, and whatever may wrap, the portable way.
  const size_t head = std::min<size_t>(n, (32 - (first & 31)) & 31);
  bernoulli_mask_portable(key, model, first, head, p, keep);
  j = head;
  uint32_t draws[32];
  while (n - j >= 32) {
    const uint64_t block = (first + j) >> 2;
    if ((uint32_t(block) + 7) < uint32_t(block)) break;  // the low counter word wraps in these eight
    philox8(key, block, model, draws);
    for (int k = 0; k < 32; ++k) keep[j + k] = uniform_from_bits(draws[k]) < p;
    j += 32;
  }
  bernoulli_mask_portable(key, model, first + j, n - j, p, keep + j);
}

}  // namespace
#endif

void bernoulli_mask(PhiloxKey key, uint32_t model, uint64_t first, size_t n, float p, uint8_t* keep) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return bernoulli_mask_avx2(key, model, first, n, p, keep);
#endif
  bernoulli_mask_portable(key, model, first, n, p, keep);
}

}  // namespace cocktail
