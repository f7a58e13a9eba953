#include "model/tensor_loader.hpp"

#include <vector>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/lora_delta.hpp"

namespace cocktail {
namespace {

std::string label(const Checkpoint& ckpt, const std::string& name) {
  return ckpt.label() + ": tensor '" + name + "'";
}

torch::ScalarType stored_type(const Checkpoint& ckpt, const CheckpointTensor& t) {
  return float_scalar_type(t.info.dtype, label(ckpt, t.info.name));
}

}  // namespace

// Stored types torch converts itself. FP8 checkpoints are refused: their
// weights only mean something with the per-block scale tensors beside them.
torch::ScalarType float_scalar_type(DType dtype, const std::string& what) {
  switch (dtype) {
    case DType::F32: return torch::kFloat;
    case DType::BF16: return torch::kBFloat16;
    case DType::F16: return torch::kHalf;
    case DType::F64: return torch::kDouble;
    default:
      throw Error(what + " is " + std::string(safetensors_name(dtype)) +
                  "; only F32, BF16, F16 and F64 weights can be evaluated");
  }
}

const CheckpointTensor& require_tensor(const Checkpoint& ckpt, const std::string& name) {
  const CheckpointTensor* t = ckpt.find(name);
  if (!t) throw Error(label(ckpt, name) + " is missing");
  return *t;
}

uint64_t tensor_row_bytes(const Checkpoint& ckpt, const std::string& name) {
  const CheckpointTensor& t = require_tensor(ckpt, name);
  if (t.info.shape.empty() || t.info.shape[0] == 0) return t.info.nbytes();
  return t.info.nbytes() / t.info.shape[0];
}

torch::Tensor load_tensor_rows(const Checkpoint& ckpt, const std::string& name, int64_t begin,
                               int64_t end, torch::Device device) {
  const CheckpointTensor& t = require_tensor(ckpt, name);
  const torch::ScalarType type = stored_type(ckpt, t);
  std::vector<int64_t> shape(t.info.shape.begin(), t.info.shape.end());
  const int64_t rows = shape.empty() ? 1 : shape[0];
  if (begin < 0 || begin > end || end > rows)
    throw Error(label(ckpt, name) + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") are outside its " + std::to_string(rows) + " rows");
  if (!shape.empty()) shape[0] = end - begin;
  const uint64_t row_bytes = tensor_row_bytes(ckpt, name);

  torch::Tensor stored = torch::empty(shape, torch::TensorOptions().dtype(type));
  const uint64_t bytes = row_bytes * static_cast<uint64_t>(end - begin);
  if (bytes > 0) {
    const uint64_t row_elements = row_bytes / dtype_size(t.info.dtype);
    read_checkpoint_elements(ckpt, t, row_elements * static_cast<uint64_t>(begin),
                             row_elements * static_cast<uint64_t>(end - begin), static_cast<std::byte*>(stored.data_ptr()));
  }
  // Read on the host, converted there, then moved: one copy to the device.
  torch::Tensor f32 = type == torch::kFloat ? stored : stored.to(torch::kFloat);
  return f32.to(device);
}

torch::Tensor load_tensor(const Checkpoint& ckpt, const std::string& name, torch::Device device) {
  const CheckpointTensor& t = require_tensor(ckpt, name);
  const int64_t rows = t.info.shape.empty() ? 1 : static_cast<int64_t>(t.info.shape[0]);
  return load_tensor_rows(ckpt, name, 0, rows, device);
}

}  // namespace cocktail
