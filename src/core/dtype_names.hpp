#pragma once
// Names of dtypes as they appear in safetensors headers ("BF16") and in
// torch / config files ("bfloat16").
#include <optional>
#include <string_view>

#include "core/dtype.hpp"

namespace cocktail {

std::optional<DType> dtype_from_safetensors_name(std::string_view name);
std::string_view safetensors_name(DType t);

// Accepts torch names (bfloat16, float16, float32, float64, float8_e4m3fn,
// float8_e5m2) and their short forms (bf16, fp16, f16, fp32, f32, half, float).
std::optional<DType> dtype_from_torch_name(std::string_view name);
// torch name for config.json's torch_dtype ("bfloat16").
std::string_view torch_name(DType t);

}  // namespace cocktail
