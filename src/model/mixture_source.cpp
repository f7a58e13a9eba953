#include "model/mixture_source.hpp"

#include <algorithm>
#include <cctype>

#include "core/error.hpp"
#include "model/tensor_loader.hpp"

namespace cocktail {

MixtureSource::MixtureSource(std::vector<const Checkpoint*> candidates, uint64_t host_cache_bytes,
                             uint64_t device_cache_bytes)
    : candidates_(std::move(candidates)) {
  if (candidates_.empty()) throw Error("internal: a mixture of no models");
  host_.budget = host_cache_bytes;
  device_.budget = device_cache_bytes;
}

namespace {

constexpr const char* kLayers = "model.layers.";

// N of "model.layers.N.", or -1.
int64_t layer_index(const std::string& name) {
  const size_t at = name.find(kLayers);
  if (at == std::string::npos) return -1;
  int64_t n = 0;
  size_t i = at + std::char_traits<char>::length(kLayers);
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) n = n * 10 + (name[i] - '0');
  return n;
}

}  // namespace

int64_t decoder_layer_count(const Checkpoint& ckpt) {
  int64_t layers = 0;
  for (const CheckpointTensor& t : ckpt.tensors()) layers = std::max(layers, layer_index(t.info.name) + 1);
  return layers;
}

void MixtureSource::set_weights(std::vector<double> weights) { set_group_weights({std::move(weights)}, 0); }

void MixtureSource::set_group_weights(std::vector<std::vector<double>> by_group, int64_t layers) {
  if (by_group.empty() || (by_group.size() > 1 && layers < static_cast<int64_t>(by_group.size())))
    throw Error("internal: layer groups do not fit the layers");
  for (const auto& w : by_group)
    if (w.size() != candidates_.size()) throw Error("internal: mixture weights do not match the candidates");
  groups_ = std::move(by_group);
  layers_ = layers;
}

const std::vector<double>& MixtureSource::weights_of(const std::string& name) const {
  const auto groups = static_cast<int64_t>(groups_.size());
  if (groups == 1) return groups_.front();
  const int64_t layer = layer_index(name);
  if (layer < 0) return name.find("embed") != std::string::npos ? groups_.front() : groups_.back();
  int64_t g = groups - 1;
  while (layer_group_begin(g, groups, layers_) > layer) --g;
  return groups_[static_cast<size_t>(g)];
}

torch::Tensor MixtureSource::candidate_rows(size_t c, const std::string& name, int64_t begin, int64_t end,
                                            torch::Device device, uint64_t& bytes_read) {
  const Checkpoint& ckpt = *candidates_[c];
  const auto key = std::make_pair(c, name);
  for (Tier* tier : {&device_, &host_})
    if (const auto hit = tier->tensors.find(key); hit != tier->tensors.end())
      return hit->second.narrow(0, begin, end - begin);
  const CheckpointTensor& t = require_tensor(ckpt, name);
  const uint64_t f32_bytes = t.info.numel() * sizeof(float);
  // The first tier with room keeps the whole tensor; it is read whole once.
  for (Tier* tier : {&device_, &host_}) {
    if (tier->bytes + f32_bytes > tier->budget) continue;
    const torch::Tensor whole = load_tensor(ckpt, name, tier == &device_ ? device : torch::Device(torch::kCPU));
    bytes_read += t.info.nbytes();
    tier->tensors.emplace(key, whole);
    tier->bytes += f32_bytes;
    return whole.narrow(0, begin, end - begin);
  }
  bytes_read += tensor_row_bytes(ckpt, name) * static_cast<uint64_t>(end - begin);
  return load_tensor_rows(ckpt, name, begin, end, device);
}

torch::Tensor MixtureSource::rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                                  uint64_t& bytes_read) {
  if (groups_.empty()) throw Error("internal: mixture weights not set");
  const std::vector<double>& w = weights_of(name);
  torch::Tensor sum;
  // In candidate order, each term rounded to float32 as it is added: the same
  // bits on every rank for the same weights. A candidate of weight 0 is not
  // read (a soup leaves most out), unless every weight is 0.
  for (size_t c = 0; c < candidates_.size(); ++c) {
    const bool last = c + 1 == candidates_.size();
    if (w[c] == 0 && !(last && !sum.defined())) continue;
    const torch::Tensor t = candidate_rows(c, name, begin, end, device, bytes_read).to(device);
    if (!sum.defined()) {
      sum = t * w[c];
    } else {
      sum.add_(t, w[c]);
    }
  }
  return sum;
}

}  // namespace cocktail
