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

// safetensors shards (HF), or a Keras 3 weights save (model.weights.h5, or
// model.weights.json and model_NNNNN.weights.h5), whose HDF5 files are
// created collectively by every rank before the merge (io/keras_h5_writer)
// and whose tensor offsets are known only then.
enum class OutputFormat { Safetensors, Keras };

struct OutputLayout {
  OutputFormat format = OutputFormat::Safetensors;
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

// The same shards as Keras names them, without headers or offsets (file
// sizes and offsets 0 until io/keras_h5_writer.hpp fills them).
OutputLayout make_keras_layout(const std::vector<PlannedTensor>& tensors, uint64_t max_shard_size);

}  // namespace cocktail
