#pragma once
// Encoding of what we write: safetensors headers with precomputed offsets (so
// every rank can pwrite its ranges into place before the file is complete)
// and the Hugging Face shard index.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.hpp"

namespace cocktail {

// The 8-byte length prefix followed by the JSON header, padded with spaces so
// the data buffer starts 8-byte aligned. `tensors` must carry final offsets;
// they are written in the given order after "__metadata__".
std::string encode_safetensors_header(const std::vector<TensorInfo>& tensors,
                                      const std::map<std::string, std::string>& metadata);

// model.safetensors.index.json: {"metadata": {"total_size": N}, "weight_map": {...}}.
std::string encode_shard_index(uint64_t total_size,
                               const std::map<std::string, std::string>& weight_map);

// Hugging Face shard file name, 1-based: model-00001-of-00003.safetensors;
// "model.safetensors" when there is a single shard.
std::string shard_file_name(size_t index, size_t count);

}  // namespace cocktail
