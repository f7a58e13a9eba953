#include "merge/methods/widen.hpp"

#include <cstring>

#include "element_math.hpp"

namespace cocktail {

// Compiled for AVX2 and for any x86-64, picked at load time.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
void widen(const std::byte* p, DType t, size_t first, size_t n, float* out) {
  switch (t) {
    case DType::F32: std::memcpy(out, p + first * 4, n * 4); return;
    case DType::BF16:
      for (size_t j = 0; j < n; ++j) out[j] = bf16_to_f32(load_raw<uint16_t>(p, first + j));
      return;
    case DType::F16:
      for (size_t j = 0; j < n; ++j) out[j] = f16_to_f32(load_raw<uint16_t>(p, first + j));
      return;
    default:
      for (size_t j = 0; j < n; ++j) out[j] = load_as_f32(p, t, first + j);
  }
}

}  // namespace cocktail
