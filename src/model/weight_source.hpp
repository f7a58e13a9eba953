#pragma once
// Where a layer-streamed forward reads its weights from: a checkpoint's
// files, or a merge of several checkpoints computed in memory
// (model/mixture_source), so a merged model can be scored without writing it.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "io/checkpoint.hpp"

namespace cocktail {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The checkpoint whose tensor names and shapes, and whose folder's
  // config.json, describe the model.
  virtual const Checkpoint& layout() const = 0;
  // Rows [begin, end) of the first dimension of `name` as float32 on
  // `device`; adds the bytes read from storage to `bytes_read`.
  virtual torch::Tensor rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                             uint64_t& bytes_read) = 0;
  // The whole tensor.
  torch::Tensor tensor(const std::string& name, torch::Device device, uint64_t& bytes_read);
};

// A checkpoint as it is stored.
class CheckpointSource : public WeightSource {
 public:
  explicit CheckpointSource(const Checkpoint& ckpt) : ckpt_(ckpt) {}
  const Checkpoint& layout() const override { return ckpt_; }
  torch::Tensor rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                     uint64_t& bytes_read) override;

 private:
  const Checkpoint& ckpt_;
};

}  // namespace cocktail
