#pragma once
// A checkpoint is a Hugging Face folder (model.safetensors, or
// model.safetensors.index.json plus shards) or one .safetensors file, or a
// Keras 3 save (model.weights.h5, or model.weights.json plus shards; io/
// keras_weights.hpp), optionally with a PEFT LoRA adapter applied (io/
// lora_adapter.hpp).
// Opening it reads and validates only headers.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/safetensors.hpp"

namespace cocktail {

struct LoraFactors;

struct CheckpointTensor {
  TensorInfo info;    // offsets relative to the file's data buffer
  uint32_t file = 0;  // index into Checkpoint::files
  uint64_t data_start = 0;  // its file's data buffer offset (8 + header length)
  // A LoRA adapter's low-rank update, added to these stored bytes as they are
  // read (io/lora_delta.hpp); null for a tensor read as stored.
  std::shared_ptr<const LoraFactors> lora;
  uint64_t file_offset() const;  // absolute byte offset of the data in its file
};

struct CheckpointFile {
  std::filesystem::path path;
  // A Keras .h5 file's tensors carry absolute offsets (data_start 0) and no
  // header length.
  SafetensorsHeader header;
  uint64_t data_start = 0;  // where the offsets of header.tensors count from
};

// The weight_map (tensor name -> shard file name) of the text of a
// model.safetensors.index.json. Throws cocktail::Error starting with `label`
// when it is not strict JSON, lacks a non-empty weight_map, or names a shard
// outside the folder. Checkpoint::open reads the index with it.
std::map<std::string, std::string> parse_checkpoint_index(std::string_view text,
                                                          const std::string& label);

// mergekit's "BASE+ADAPTER" (a base with a PEFT LoRA adapter) split at its
// first '+'; {text, ""} when `folder / text` exists as written ('+' and all)
// or no '+' stands between two non-empty parts.
std::pair<std::string, std::string> split_adapter_reference(const std::string& text,
                                                            const std::filesystem::path& folder = {});

// The file that defines the checkpoint at `path`, with symlinks resolved: a
// folder's model.safetensors or model.safetensors.index.json, else the path
// itself. Two spellings of one model ("m", "m/", "m/model.safetensors", a
// link to m) give the same file.
std::filesystem::path checkpoint_identity(const std::filesystem::path& path);

class Checkpoint {
 public:
  // Throws cocktail::Error naming the file and the broken rule. With an
  // `adapter` folder, the tensors it adapts read as peft's merge_and_unload()
  // would leave them, and the tensors it saves whole replace the base's.
  static Checkpoint open(const std::filesystem::path& path, const std::filesystem::path& adapter = {});

  const std::filesystem::path& path() const { return path_; }
  // The LoRA adapter folder applied to it, or empty.
  const std::filesystem::path& adapter() const { return adapter_; }
  // "PATH" or "PATH+ADAPTER" (mergekit's spelling), for messages.
  std::string label() const;
  // Folder holding config.json and tokenizer files (the file's parent for a
  // single-file checkpoint).
  const std::filesystem::path& folder() const { return folder_; }
  const std::vector<CheckpointFile>& files() const { return files_; }
  // A Keras 3 save (.weights.h5 files) rather than safetensors.
  // (safetensors data always starts after the 8-byte length prefix; a Keras
  // file's offsets count from the file's start)
  bool is_keras() const { return !files_.empty() && files_[0].data_start == 0; }
  // The index file, when the checkpoint has one (else empty).
  const std::filesystem::path& index() const { return index_; }
  // Files in index order (or the single file), tensors by offset within each.
  const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
  const CheckpointTensor* find(const std::string& name) const;
  uint64_t total_tensor_bytes() const;

 private:
  friend void apply_lora_adapter(Checkpoint& base, const std::filesystem::path& adapter);
  std::filesystem::path path_, folder_, index_, adapter_;
  std::vector<CheckpointFile> files_;
  std::vector<CheckpointTensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace cocktail
