#pragma once
// The merged model sum_i w_i M_i of candidates that share one layout,
// computed in float32 a tensor at a time when the forward asks for it, so a
// merge recipe can be scored without writing the merged model. A search
// scores the same candidates many times with other weights: their tensors
// stay, as float32, in the memory of the device the forward runs on while
// they fit `device_cache_bytes` (GPU memory on a GPU), else in host memory
// while they fit `host_cache_bytes`, and are re-read from the files otherwise.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/weight_source.hpp"

namespace cocktail {

// The first layer of group g of `groups` contiguous groups of `layers`
// layers (the last group ends at `layers`).
inline int64_t layer_group_begin(int64_t g, int64_t groups, int64_t layers) { return g * layers / groups; }

// The number of decoder layers ("model.layers.N.") of a checkpoint, 0 if none.
int64_t decoder_layer_count(const Checkpoint& ckpt);

class MixtureSource : public WeightSource {
 public:
  // `candidates` outlive the source; the first gives the layout.
  MixtureSource(std::vector<const Checkpoint*> candidates, uint64_t host_cache_bytes,
                uint64_t device_cache_bytes = 0);

  // One weight per candidate, for every tensor.
  void set_weights(std::vector<double> weights);
  // One row of weights per layer group of a decoder of `layers` layers:
  // layer l takes the row of its group, the embeddings the first row and
  // everything after the layers (final norm, output) the last.
  void set_group_weights(std::vector<std::vector<double>> by_group, int64_t layers);

  const Checkpoint& layout() const override { return *candidates_.front(); }
  torch::Tensor rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                     uint64_t& bytes_read) override;

  // Bytes held by the two tiers.
  uint64_t cached_bytes() const { return host_.bytes + device_.bytes; }
  uint64_t device_cached_bytes() const { return device_.bytes; }

 private:
  // One tier: (candidate, tensor) -> the whole tensor as float32.
  struct Tier {
    uint64_t budget = 0, bytes = 0;
    std::map<std::pair<size_t, std::string>, torch::Tensor> tensors;
  };

  torch::Tensor candidate_rows(size_t c, const std::string& name, int64_t begin, int64_t end,
                               torch::Device device, uint64_t& bytes_read);

  const std::vector<double>& weights_of(const std::string& name) const;

  std::vector<const Checkpoint*> candidates_;
  Tier host_, device_;
  std::vector<std::vector<double>> groups_;
  int64_t layers_ = 0;
};

}  // namespace cocktail
