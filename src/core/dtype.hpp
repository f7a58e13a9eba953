#pragma once
// Element types of safetensors tensors. Kept free of host-only headers so the
// CUDA kernels can include it.
#include <cstdint>

namespace cocktail {

enum class DType : uint8_t {
  BOOL, U8, I8, I16, U16, I32, U32, I64, U64,
  F8_E5M2, F8_E4M3, F16, BF16, F32, F64,
  // Read and inspected, never merged:
  F4, F6_E2M3, F6_E3M2, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, C64,
};

// Bits per element; sub-byte types (F4, F6) pack several elements per byte.
constexpr unsigned dtype_bits(DType t) {
  switch (t) {
    case DType::BOOL: case DType::U8: case DType::I8:
    case DType::F8_E5M2: case DType::F8_E4M3: case DType::F8_E8M0:
    case DType::F8_E4M3FNUZ: case DType::F8_E5M2FNUZ: return 8;
    case DType::I16: case DType::U16: case DType::F16: case DType::BF16: return 16;
    case DType::I32: case DType::U32: case DType::F32: return 32;
    case DType::I64: case DType::U64: case DType::F64: case DType::C64: return 64;
    case DType::F4: return 4;
    case DType::F6_E2M3: case DType::F6_E3M2: return 6;
  }
  return 0;
}

// Bytes per element for whole-byte types (all mergeable ones).
constexpr unsigned dtype_size(DType t) { return dtype_bits(t) / 8; }

// Float types the merge kernels read and write.
constexpr bool is_mergeable_float(DType t) {
  return t == DType::F8_E5M2 || t == DType::F8_E4M3 || t == DType::F16 ||
         t == DType::BF16 || t == DType::F32 || t == DType::F64;
}

// Integer and bool tensors: copied from the base model, never averaged.
constexpr bool is_integer_like(DType t) {
  return t == DType::BOOL || t == DType::U8 || t == DType::I8 || t == DType::I16 ||
         t == DType::U16 || t == DType::I32 || t == DType::U32 || t == DType::I64 ||
         t == DType::U64;
}

}  // namespace cocktail
