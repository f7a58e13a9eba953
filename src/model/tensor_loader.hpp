#pragma once
// Checkpoint tensors as float32 torch tensors, read with pread straight from
// their safetensors file (no mmap: pages of a 70B model would otherwise stay
// mapped and count against the rank's memory).
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "io/checkpoint.hpp"

namespace cocktail {

// The whole tensor, any stored float dtype (F32, BF16, F16, F64) converted to
// float32, on `device`. Throws cocktail::Error naming the checkpoint and the
// tensor when it is missing or of a type that cannot be converted.
torch::Tensor load_tensor(const Checkpoint& ckpt, const std::string& name, torch::Device device);

// Rows [begin, end) of the tensor's first dimension: the embedding lookup and
// the output projection read a vocabulary matrix a slice at a time.
torch::Tensor load_tensor_rows(const Checkpoint& ckpt, const std::string& name, int64_t begin,
                               int64_t end, torch::Device device);

// Stored bytes of one row of `name` (the unit load_tensor_rows reads).
uint64_t tensor_row_bytes(const Checkpoint& ckpt, const std::string& name);

// The torch type of a float dtype; throws naming `what` for any other.
torch::ScalarType float_scalar_type(DType dtype, const std::string& what);

// The tensor's entry, or a cocktail::Error naming the checkpoint and tensor.
const CheckpointTensor& require_tensor(const Checkpoint& ckpt, const std::string& name);

}  // namespace cocktail
