#include "plan/output_layout.hpp"

#include <algorithm>
#include <cstdio>

#include "io/safetensors_writer.hpp"

namespace cocktail {

OutputLayout make_output_layout(const std::vector<PlannedTensor>& tensors, uint64_t max_shard_size,
                                const std::map<std::string, std::string>& metadata) {
  std::vector<std::vector<size_t>> groups;
  std::vector<size_t> current;
  uint64_t current_bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t bytes = tensors[i].out_bytes();
    if (bytes > max_shard_size) {
      groups.push_back({i});
      continue;
    }
    if (current_bytes + bytes > max_shard_size && !current.empty()) {
      groups.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(i);
    current_bytes += bytes;
  }
  if (!current.empty() || groups.empty()) groups.push_back(std::move(current));

  OutputLayout layout;
  layout.shard_of.resize(tensors.size());
  layout.file_offset.resize(tensors.size());
  for (size_t s = 0; s < groups.size(); ++s) {
    OutputShard shard;
    shard.file_name = shard_file_name(s, groups.size());
    shard.tensors = groups[s];
    std::vector<TensorInfo> infos;
    uint64_t offset = 0;
    for (size_t i : groups[s]) {
      const PlannedTensor& t = tensors[i];
      infos.push_back({t.name, t.out_dtype, t.shape, offset, offset + t.out_bytes()});
      offset += t.out_bytes();
      layout.shard_of[i] = s;
    }
    shard.header = encode_safetensors_header(infos, metadata);
    shard.file_size = shard.header.size() + offset;
    for (size_t k = 0; k < groups[s].size(); ++k)
      layout.file_offset[groups[s][k]] = shard.header.size() + infos[k].begin;
    layout.total_tensor_bytes += offset;
    layout.shards.push_back(std::move(shard));
  }
  return layout;
}

OutputLayout make_keras_layout(const std::vector<PlannedTensor>& tensors, uint64_t max_shard_size) {
  OutputLayout layout = make_output_layout(tensors, max_shard_size, {});
  layout.format = OutputFormat::Keras;
  for (size_t s = 0; s < layout.shards.size(); ++s) {
    OutputShard& shard = layout.shards[s];
    char name[32];
    std::snprintf(name, sizeof name, "model_%05zu.weights.h5", s);  // Keras counts shards from 0
    shard.file_name = layout.shards.size() == 1 ? "model.weights.h5" : name;
    shard.header.clear();
    shard.file_size = 0;
  }
  std::fill(layout.file_offset.begin(), layout.file_offset.end(), 0);
  return layout;
}

}  // namespace cocktail
