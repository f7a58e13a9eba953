#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC 2011): a counter-based generator, so the draw for an element is a
// pure function of (key, counter). DARE and DELLA key it by (seed, tensor
// name, model) and count by element index, which makes a mask the same at
// any rank count, chunk size, thread count and on the CPU or a GPU.
#include <cstdint>
#include <string_view>

#include "element_math.hpp"

namespace cocktail {

struct PhiloxKey {
  uint32_t k0 = 0, k1 = 0;
};

COCKTAIL_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = uint64_t(a) * b;
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

struct PhiloxBlock {
  uint32_t v[4];
};

// The four 32-bit outputs for counter (c0, c1, c2, 0).
COCKTAIL_HD PhiloxBlock philox4x32_10(PhiloxKey key, uint32_t c0, uint32_t c1, uint32_t c2) {
  uint32_t x0 = c0, x1 = c1, x2 = c2, x3 = 0;
  uint32_t k0 = key.k0, k1 = key.k1;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(0xD2511F53u, x0, &hi0);
    const uint32_t lo1 = mulhilo32(0xCD9E8D57u, x2, &hi1);
    x0 = hi1 ^ x1 ^ k0;
    x1 = lo1;
    x2 = hi0 ^ x3 ^ k1;
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{x0, x1, x2, x3}};
}

// A draw's top 24 bits as a float in [0, 1): every value is exact in
// float32, so the comparison with a keep probability rounds nothing.
COCKTAIL_HD float uniform_from_bits(uint32_t r) { return float(r >> 8) * 5.9604644775390625e-8f; }  // 2^-24

// Element e's draw: word e % 4 of the block for counter (e / 4, model), so
// one generator call serves four consecutive elements.
COCKTAIL_HD float philox_uniform(PhiloxKey key, uint32_t model, uint64_t element) {
  const uint64_t block = element >> 2;
  return uniform_from_bits(philox4x32_10(key, uint32_t(block), uint32_t(block >> 32), model).v[element & 3]);
}

// The key of a tensor: the seed and the tensor's name (FNV-1a), mixed by
// splitmix64 so that nearby seeds give unrelated streams.
inline PhiloxKey philox_key(uint64_t seed, std::string_view tensor) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : tensor) h = (h ^ c) * 0x100000001b3ull;
  uint64_t z = seed ^ h;
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return {uint32_t(z), uint32_t(z >> 32)};
}

}  // namespace cocktail
