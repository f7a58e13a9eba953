#pragma once
// Random weighted-sum cases for the kernel tests (CPU paths, the shared GPU
// group code, and the CUDA kernel itself): every float dtype, values that
// stress rounding and non-finite handling, odd alignments.
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "element_math.hpp"
#include "weighted_sum.hpp"

namespace cocktail {

inline constexpr DType kFloatTypes[] = {DType::BF16, DType::F16, DType::F32,
                             DType::F64,  DType::F8_E4M3, DType::F8_E5M2};

// A tensor's bytes placed at a deliberately odd offset inside its storage.
struct Tensor {
  std::vector<unsigned char> storage;
  size_t offset = 0;
  DType dtype = DType::F32;
  unsigned char* data() { return storage.data() + offset; }
};

inline Tensor make_tensor(DType t, size_t n, size_t offset) {
  Tensor x;
  x.storage.assign(offset + n * dtype_size(t) + 16, 0xCD);
  x.offset = offset;
  x.dtype = t;
  return x;
}

// Values that stress rounding: a wide exponent range (subnormal results of
// f16/f8, overflow of f16/f8), float32 values exactly at or next to the
// halfway points of bf16/f16/f8, raw bit patterns (NaN payloads, Inf, f32
// subnormals) and signed zeros.
inline double random_value(std::mt19937& rng) {
  const uint32_t r = rng() % 100;
  if (r < 6) {
    const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 65504.0, 448.0, 1e-40};
    return special[rng() % 9];
  }
  if (r < 12) return f32_from_bits(rng());
  if (r < 16) return f32_from_bits(rng() & 0x807FFFFF);  // f32 subnormals
  const int e = int(rng() % 52) - 34;
  float v = std::ldexp(1.0f + float(rng() % (1 << 23)) / float(1 << 23), e);
  if (rng() & 1) v = -v;
  if (r < 40) {  // force the dropped bits to a tie of some narrower format, +-1
    const uint32_t masks[] = {0xFFFF, 0x1FFF, 0xFFFFF, 0x1FFFFF};
    const uint32_t mask = masks[rng() % 4];
    const uint32_t u = (f32_bits(v) & ~mask) + (mask + 1) / 2 + (rng() % 3) - 1;
    return f32_from_bits(u);
  }
  if (r < 50) return double(v) * (1.0 + std::ldexp(double(rng() % 1024), -40));  // f64 extra bits
  return v;
}

inline Tensor random_tensor(DType t, size_t n, size_t offset, std::mt19937& rng) {
  Tensor x = make_tensor(t, n, offset);
  for (size_t i = 0; i < n; ++i) {
    const double v = random_value(rng);
    if (t == DType::F64) {
      std::memcpy(x.data() + 8 * i, &v, 8);
    } else if (rng() % 20 == 0) {  // raw patterns of the type itself
      const uint32_t b = rng();
      std::memcpy(x.data() + dtype_size(t) * i, &b, dtype_size(t));
    } else {
      store_from_f32(x.data(), t, i, float(v));
    }
  }
  return x;
}

struct Case {
  std::vector<Tensor> inputs;
  std::vector<WeightedInput> in;
  DType out_dtype;
  size_t n;
};

// `odd_offsets` false puts every tensor at offset 0 (aligned storage).
// Inputs of random float types, or all of in_dtype where given.
inline Case random_case(size_t k, DType out_dtype, size_t n, std::mt19937& rng, bool odd_offsets = true,
                        std::optional<DType> in_dtype = std::nullopt) {
  Case c{{}, {}, out_dtype, n};
  const bool unit_weights = rng() % 3 == 0;  // exact pass-through keeps input ties
  for (size_t i = 0; i < k; ++i) {
    const DType t = in_dtype ? *in_dtype : kFloatTypes[rng() % 6];
    c.inputs.push_back(random_tensor(t, n, odd_offsets ? rng() % 8 : 0, rng));
  }
  for (size_t i = 0; i < k; ++i) {
    float w = unit_weights ? 1.0f : std::ldexp(float(int(rng() % 4001) - 2000), -10);
    if (rng() % 10 == 0) w = (rng() & 1) ? 0.0f : -1.0f;
    c.in.push_back({c.inputs[i].data(), c.inputs[i].dtype, w});
  }
  return c;
}

inline std::vector<unsigned char> bytes(Tensor& t, size_t n) {
  return {t.data(), t.data() + n * dtype_size(t.dtype)};
}

}  // namespace cocktail
