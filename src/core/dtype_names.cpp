#include "core/dtype_names.hpp"

#include <array>
#include <utility>

namespace cocktail {
namespace {

// Exact, case-sensitive spellings: the safetensors reference deserializes
// dtypes with serde, which accepts nothing else.
constexpr std::array<std::pair<std::string_view, DType>, 22> kSafetensorsNames{{
    {"BOOL", DType::BOOL},
    {"U8", DType::U8},
    {"I8", DType::I8},
    {"F8_E5M2", DType::F8_E5M2},
    {"F8_E4M3", DType::F8_E4M3},
    {"I16", DType::I16},
    {"U16", DType::U16},
    {"F16", DType::F16},
    {"BF16", DType::BF16},
    {"I32", DType::I32},
    {"U32", DType::U32},
    {"F32", DType::F32},
    {"F64", DType::F64},
    {"I64", DType::I64},
    {"U64", DType::U64},
    {"F4", DType::F4},
    {"F6_E2M3", DType::F6_E2M3},
    {"F6_E3M2", DType::F6_E3M2},
    {"F8_E8M0", DType::F8_E8M0},
    {"F8_E4M3FNUZ", DType::F8_E4M3FNUZ},
    {"F8_E5M2FNUZ", DType::F8_E5M2FNUZ},
    {"C64", DType::C64},
}};

// The first spelling of each type is the canonical torch name; the rest are
// short forms people write in configs.
constexpr std::array<std::pair<std::string_view, DType>, 16> kTorchNames{{
    {"bfloat16", DType::BF16},
    {"float16", DType::F16},
    {"float32", DType::F32},
    {"float64", DType::F64},
    {"float8_e4m3fn", DType::F8_E4M3},
    {"float8_e5m2", DType::F8_E5M2},
    {"bf16", DType::BF16},
    {"fp16", DType::F16},
    {"f16", DType::F16},
    {"half", DType::F16},
    {"fp32", DType::F32},
    {"f32", DType::F32},
    {"float", DType::F32},
    {"fp64", DType::F64},
    {"f64", DType::F64},
    {"double", DType::F64},
}};

}  // namespace

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& [n, t] : kSafetensorsNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string_view safetensors_name(DType t) {
  for (const auto& [n, type] : kSafetensorsNames) {
    if (type == t) return n;
  }
  return "?";
}

std::optional<DType> dtype_from_torch_name(std::string_view name) {
  for (const auto& [n, t] : kTorchNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string_view torch_name(DType t) {
  for (const auto& [n, type] : kTorchNames) {
    if (type == t) return n;  // canonical names come first
  }
  return safetensors_name(t);
}

}  // namespace cocktail
