#include "model/weight_source.hpp"

#include "model/tensor_loader.hpp"

namespace cocktail {

torch::Tensor WeightSource::tensor(const std::string& name, torch::Device device, uint64_t& bytes_read) {
  const CheckpointTensor& t = require_tensor(layout(), name);
  return rows(name, 0, t.info.shape.empty() ? 1 : static_cast<int64_t>(t.info.shape[0]), device, bytes_read);
}

torch::Tensor CheckpointSource::rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                                     uint64_t& bytes_read) {
  torch::Tensor t = load_tensor_rows(ckpt_, name, begin, end, device);
  bytes_read += tensor_row_bytes(ckpt_, name) * static_cast<uint64_t>(end - begin);
  return t;
}

}  // namespace cocktail
