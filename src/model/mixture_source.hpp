#pragma once
// The merged model sum_i w_i M_i of candidates that share one layout,
// computed in float32 a tensor at a time when the forward asks for it, so a
// merge recipe can be scored without writing the merged model. A search
// scores the same candidates many times with other weights: their tensors
// stay in host memory, as float32, while they fit `cache_bytes`, and are
// re-read from the files otherwise.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/weight_source.hpp"

namespace cocktail {

class MixtureSource : public WeightSource {
 public:
  // `candidates` outlive the source; the first gives the layout.
  MixtureSource(std::vector<const Checkpoint*> candidates, uint64_t cache_bytes);

  // One weight per candidate, for every tensor.
  void set_weights(std::vector<double> weights);

  const Checkpoint& layout() const override { return *candidates_.front(); }
  torch::Tensor rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                     uint64_t& bytes_read) override;

  uint64_t cached_bytes() const { return cached_bytes_; }

 private:
  torch::Tensor candidate_rows(size_t c, const std::string& name, int64_t begin, int64_t end,
                               uint64_t& bytes_read);

  std::vector<const Checkpoint*> candidates_;
  uint64_t cache_budget_ = 0, cached_bytes_ = 0;
  std::map<std::pair<size_t, std::string>, torch::Tensor> cache_;  // (candidate, tensor) -> float32 on the host
  std::vector<double> weights_;
};

}  // namespace cocktail
