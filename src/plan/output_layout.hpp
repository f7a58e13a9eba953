#pragma once
// Where every output tensor lands: shard files, their headers and the byte
// offset of each tensor. Fixed before any data moves, so ranks write their
// pieces in place with no coordination.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "plan/tensor_plan.hpp"

namespace cocktail {

struct OutputShard {
  std::string file_name;
  std::vector<size_t> tensors;  // indices into the planned tensors, in file order
  std::string header;           // exact bytes 0..data_start of the file
  uint64_t file_size = 0;
};

struct OutputLayout {
  std::vector<OutputShard> shards;
  std::vector<size_t> shard_of;         // per tensor
  std::vector<uint64_t> file_offset;    // per tensor: absolute offset of its data
  uint64_t total_tensor_bytes = 0;
};

// Hugging Face's greedy sharding in tensor order: a tensor that would push the
// current shard past `max_shard_size` starts a new one; a tensor larger than
// the limit gets a shard of its own, placed before the shard being filled
// (huggingface_hub's split_state_dict_into_shards does the same).
OutputLayout make_output_layout(const std::vector<PlannedTensor>& tensors, uint64_t max_shard_size,
                                const std::map<std::string, std::string>& metadata);

}  // namespace cocktail
