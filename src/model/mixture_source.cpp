#include "model/mixture_source.hpp"

#include <cctype>

#include "core/error.hpp"
#include "model/tensor_loader.hpp"

namespace cocktail {
namespace {

// The layer index in a HF tensor name ("model.layers.12.mlp...", BERT's "encoder.layer.3...", T5's
// "encoder.block.3...."), or -1; "final" names (norm, lm_head) give -2.
int64_t layer_of(const std::string& name) {
  for (const char* marker : {".layers.", ".block.", ".layer."}) {
    const size_t at = name.find(marker);
    if (at == std::string::npos) continue;
    size_t i = at + std::char_traits<char>::length(marker);
    int64_t n = 0;
    bool digits = false;
    for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i, digits = true)
      n = n * 10 + (name[i] - '0');
    if (digits) return n;
  }
  return name.find("embed") != std::string::npos || name.find("shared") != std::string::npos ? -1 : -2;
}

}  // namespace

MixtureSource::MixtureSource(std::vector<const Checkpoint*> candidates, uint64_t cache_bytes)
    : candidates_(std::move(candidates)), cache_budget_(cache_bytes) {
  if (candidates_.empty()) throw Error("internal: a mixture of no models");
}

void MixtureSource::set_weights(std::vector<std::vector<double>> weights_by_group, int64_t layers) {
  for (const auto& w : weights_by_group)
    if (w.size() != candidates_.size()) throw Error("internal: mixture weights do not match the candidates");
  if (weights_by_group.empty()) throw Error("internal: no mixture weights");
  weights_ = std::move(weights_by_group);
  layers_ = layers;
}

const std::vector<double>& MixtureSource::weights_of(const std::string& name) const {
  const int64_t layer = layer_of(name);
  const auto groups = static_cast<int64_t>(weights_.size());
  if (groups == 1 || layer == -1) return weights_.front();
  if (layer < 0 || layers_ <= 0) return weights_.back();
  // Contiguous groups, the first ones one layer larger when they do not divide.
  const int64_t g = std::min(groups - 1, layer * groups / layers_);
  return weights_[static_cast<size_t>(g)];
}

torch::Tensor MixtureSource::candidate_rows(size_t c, const std::string& name, int64_t begin, int64_t end,
                                            uint64_t& bytes_read) {
  const Checkpoint& ckpt = *candidates_[c];
  const auto key = std::make_pair(c, name);
  if (const auto hit = cache_.find(key); hit != cache_.end()) return hit->second.narrow(0, begin, end - begin);
  const CheckpointTensor& t = require_tensor(ckpt, name);
  const uint64_t f32_bytes = t.info.numel() * sizeof(float);
  if (cached_bytes_ + f32_bytes <= cache_budget_) {
    const torch::Tensor whole = load_tensor(ckpt, name, torch::kCPU);
    bytes_read += t.info.nbytes();
    cache_.emplace(key, whole);
    cached_bytes_ += f32_bytes;
    return whole.narrow(0, begin, end - begin);
  }
  bytes_read += tensor_row_bytes(ckpt, name) * static_cast<uint64_t>(end - begin);
  return load_tensor_rows(ckpt, name, begin, end, torch::kCPU);
}

torch::Tensor MixtureSource::rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                                  uint64_t& bytes_read) {
  if (weights_.empty()) throw Error("internal: mixture weights not set");
  const std::vector<double>& w = weights_of(name);
  torch::Tensor sum;
  // In candidate order, each term rounded to float32 as it is added: the same
  // bits on every rank for the same weights.
  for (size_t c = 0; c < candidates_.size(); ++c) {
    const torch::Tensor t = candidate_rows(c, name, begin, end, bytes_read).to(device);
    if (!sum.defined()) {
      sum = t * w[c];
    } else {
      sum.add_(t, w[c]);
    }
  }
  return sum;
}

}  // namespace cocktail
