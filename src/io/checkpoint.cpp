#include "io/checkpoint.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"
#include "io/keras_weights.hpp"
#include "io/lora_adapter.hpp"

namespace cocktail {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSingleName = "model.safetensors";
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kKerasName = "model.weights.h5";
constexpr const char* kKerasIndexName = "model.weights.json";
// Real indexes are a few hundred KB; this only stops a hostile allocation.
constexpr uint64_t kMaxIndexBytes = 1ull << 30;

using WeightMap = std::map<std::string, std::string>;  // tensor name -> shard file name

// What a file that failed to parse as safetensors most likely is, from its
// first bytes ("" when nothing fits), so that a path to the wrong file gets a
// message naming its format instead of a complaint about a header length.
std::string other_format(const fs::path& path) {
  char head[9] = {};
  uint64_t size = 0;
  try {
    const File file(path.string(), File::Mode::Read);
    size = file.size();
    if (size < sizeof head) return "";
    file.pread_full(head, sizeof head, 0);
  } catch (const Error&) {
    return "";
  }
  // A plausible safetensors start (a length that fits the file, then the
  // header's '{') is a broken safetensors file, whatever its first bytes
  // look like: its own error says more.
  const std::string_view h(head, 8);
  try {
    parse_safetensors_prefix(h, size, path.string());
    if (head[8] == '{') return "";
  } catch (const Error&) {
  }
  if (h.substr(0, 4) == "PK\x03\x04") return "a zip archive (PyTorch's .bin/.pt format)";
  if (static_cast<unsigned char>(h[0]) == 0x80 && h[1] >= 2 && h[1] <= 5)
    return "a Python pickle (PyTorch's legacy .bin format)";
  if (h.substr(0, 4) == "GGUF") return "a GGUF file";
  // A safetensors length prefix has NUL bytes (headers are under 2^56 bytes).
  const size_t first = h.find_first_not_of(" \t\r\n");
  if (h.find('\0') == std::string_view::npos && first != std::string_view::npos &&
      (h[first] == '{' || h[first] == '['))
    return "a JSON file";
  return "";
}

CheckpointFile load_file(const fs::path& path) {
  CheckpointFile f;
  f.path = path;
  if (is_hdf5_file(path)) {
    f.header.tensors = read_keras_weights(path);
    return f;
  }
  try {
    f.header = read_safetensors_header(path.string());
    f.data_start = f.header.data_start();
  } catch (const Error&) {
    const std::string what = other_format(path);
    if (what.empty()) throw;
    throw Error(path.string() + ": this is " + what +
                ", not a safetensors file (give a .safetensors file, its index, or the model's folder)");
  }
  return f;
}

// The index names files we then open, so a name must not reach outside the
// checkpoint folder.
void check_shard_name(const std::string& file, const std::string& tensor,
                      const std::string& label) {
  if (file.empty() || file == "." || file == ".." ||
      file.find_first_of(std::string("/\0", 2)) != std::string::npos) {
    throw Error(label + ": weight_map entry for tensor " + quote_name(tensor) + " names " +
                quote_name(file) + ", not a plain file name inside the checkpoint folder");
  }
}

}  // namespace

WeightMap parse_checkpoint_index(std::string_view text, const std::string& label) {
  const nlohmann::json root = parse_strict_json(text, label, "index");
  if (!root.is_object()) throw Error(label + ": index is not a JSON object");
  if (root.contains("metadata") && !root["metadata"].is_object()) {
    throw Error(label + ": \"metadata\" is not an object");
  }
  if (!root.contains("weight_map")) throw Error(label + ": index has no \"weight_map\"");
  const nlohmann::json& map = root["weight_map"];
  if (!map.is_object()) throw Error(label + ": \"weight_map\" is not an object");
  if (map.empty()) throw Error(label + ": \"weight_map\" lists no tensors");

  WeightMap out;
  for (const auto& [tensor, file] : map.items()) {
    if (!file.is_string()) {
      throw Error(label + ": weight_map entry for tensor " + quote_name(tensor) +
                  " is not a file name string");
    }
    check_shard_name(file.get<std::string>(), tensor, label);
    out.emplace(tensor, file.get<std::string>());
  }
  return out;
}

namespace {

WeightMap parse_index(const fs::path& index_path) {
  const std::string label = index_path.string();
  return parse_checkpoint_index(read_small_file(label, kMaxIndexBytes), label);
}

std::vector<CheckpointFile> load_shards(const WeightMap& map, const fs::path& folder,
                                        const std::string& label) {
  std::set<std::string> names;  // sorted: shard order is file-name order
  for (const auto& [tensor, file] : map) names.insert(file);
  std::vector<CheckpointFile> files;
  for (const std::string& name : names) {
    const fs::path path = folder / name;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      throw Error(label + ": missing shard " + quote_name(name) + " (not a file in " +
                  folder.string() + ")");
    }
    files.push_back(load_file(path));
  }
  return files;
}

// Shards must hold exactly what the index says: a reader trusting the index
// and one scanning the shards must see the same checkpoint.
void check_weight_map(const WeightMap& map, const Checkpoint& ckpt, const std::string& label) {
  for (const CheckpointTensor& t : ckpt.tensors()) {
    const std::string here = ckpt.files()[t.file].path.filename().string();
    auto it = map.find(t.info.name);
    if (it == map.end()) {
      throw Error(label + ": tensor " + quote_name(t.info.name) + " in shard " + quote_name(here) +
                  " is not listed in weight_map");
    }
    if (it->second != here) {
      throw Error(label + ": weight_map assigns tensor " + quote_name(t.info.name) + " to " +
                  quote_name(it->second) + " but it is in " + quote_name(here));
    }
  }
  for (const auto& [tensor, file] : map) {
    if (!ckpt.find(tensor)) {
      throw Error(label + ": weight_map assigns tensor " + quote_name(tensor) + " to " +
                  quote_name(file) + ", which does not hold it");
    }
  }
}

fs::path parent_folder(const fs::path& file) {
  fs::path parent = file.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

bool has_suffix(const fs::path& path, const std::string& suffix) {
  const std::string name = path.filename().string();
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_index_name(const fs::path& path) { return has_suffix(path, ".index.json"); }
bool is_keras_index_name(const fs::path& path) { return has_suffix(path, ".weights.json"); }

// A Keras sharded save: every shard the index names, and each tensor in a
// shard its index lists for the tensor's vars group.
std::vector<CheckpointFile> load_keras_shards(const fs::path& index, const fs::path& folder) {
  const std::string label = index.string();
  const auto map = parse_keras_index(read_small_file(label, kMaxIndexBytes), label);
  std::set<std::string> names;
  for (const auto& [group, files] : map) names.insert(files.begin(), files.end());
  std::vector<CheckpointFile> files;
  std::set<std::string> held;
  for (const std::string& name : names) {
    std::error_code ec;
    if (!fs::is_regular_file(folder / name, ec))
      throw Error(label + ": missing shard " + quote_name(name) + " (not a file in " + folder.string() + ")");
    files.push_back(load_file(folder / name));
    for (const TensorInfo& t : files.back().header.tensors) {
      const std::string group = keras_group_of(t.name);
      auto it = map.find(group);
      if (it == map.end() || std::find(it->second.begin(), it->second.end(), name) == it->second.end())
        throw Error(label + ": tensor " + quote_name(t.name) + " in shard " + quote_name(name) + " is in group " +
                    quote_name(group) + ", which weight_map does not assign to that shard");
      held.insert(group);
    }
  }
  for (const auto& [group, shards] : map)
    if (!held.count(group))
      throw Error(label + ": weight_map lists group " + quote_name(group) + ", which none of its shards holds");
  return files;
}

}  // namespace

fs::path checkpoint_identity(const fs::path& path) {
  std::error_code ec;
  fs::path entry = path;
  if (fs::is_directory(path, ec)) {
    for (const char* name : {kSingleName, kIndexName, kKerasName, kKerasIndexName})
      if (fs::exists(path / name, ec)) {
        entry = path / name;
        break;
      }
  }
  const fs::path resolved = fs::weakly_canonical(fs::absolute(entry), ec);
  return ec ? entry.lexically_normal() : resolved;
}

uint64_t CheckpointTensor::file_offset() const { return data_start + info.begin; }

std::pair<std::string, std::string> split_adapter_reference(const std::string& text, const fs::path& folder) {
  std::error_code ec;
  const size_t plus = text.find('+');
  if (plus == std::string::npos || plus == 0 || plus + 1 == text.size() || fs::exists(folder / text, ec))
    return {text, ""};
  return {text.substr(0, plus), text.substr(plus + 1)};
}

std::string Checkpoint::label() const {
  return adapter_.empty() ? path_.string() : path_.string() + "+" + adapter_.string();
}

Checkpoint Checkpoint::open(const fs::path& path, const fs::path& adapter) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    throw Error(path.string() + ": no such file or directory");
  }
  if (ec) throw Error(path.string() + ": cannot access: " + ec.message());

  Checkpoint ckpt;
  ckpt.path_ = path;
  fs::path index;
  if (fs::is_regular_file(st)) {
    ckpt.folder_ = parent_folder(path);
    if (is_index_name(path)) {
      index = path;
    } else if (is_keras_index_name(path)) {
      ckpt.index_ = path;
      ckpt.files_ = load_keras_shards(path, ckpt.folder_);
    } else {
      ckpt.files_.push_back(load_file(path));
    }
  } else if (fs::is_directory(st)) {
    ckpt.folder_ = path;
    if (fs::is_regular_file(path / kSingleName, ec)) {
      ckpt.files_.push_back(load_file(path / kSingleName));
    } else if (fs::is_regular_file(path / kIndexName, ec)) {
      index = path / kIndexName;
    } else if (fs::is_regular_file(path / kKerasName, ec)) {
      ckpt.files_.push_back(load_file(path / kKerasName));
    } else if (fs::is_regular_file(path / kKerasIndexName, ec)) {
      ckpt.index_ = path / kKerasIndexName;
      ckpt.files_ = load_keras_shards(ckpt.index_, path);
    } else {
      std::string msg = path.string() + ": no " + kSingleName + ", " + kIndexName + ", " + kKerasName + " or " +
                        kKerasIndexName + " in folder";
      if (fs::exists(path / "pytorch_model.bin", ec) ||
          fs::exists(path / "pytorch_model.bin.index.json", ec)) {
        msg += "; found pytorch_model.bin, but .bin checkpoints are not supported: "
               "convert to safetensors";
      }
      throw Error(msg);
    }
  } else {
    throw Error(path.string() + ": not a file or folder");
  }

  WeightMap map;
  if (!index.empty()) {
    ckpt.index_ = index;
    map = parse_index(index);
    ckpt.files_ = load_shards(map, ckpt.folder_, index.string());
  }

  for (uint32_t fi = 0; fi < ckpt.files_.size(); ++fi) {
    const CheckpointFile& file = ckpt.files_[fi];
    for (const TensorInfo& info : file.header.tensors) {
      auto [it, fresh] = ckpt.by_name_.emplace(info.name, ckpt.tensors_.size());
      if (!fresh) {
        const fs::path& other = ckpt.files_[ckpt.tensors_[it->second].file].path;
        throw Error(path.string() + ": tensor " + quote_name(info.name) + " appears in both " +
                    other.string() + " and " + file.path.string());
      }
      ckpt.tensors_.push_back(CheckpointTensor{info, fi, file.data_start, nullptr});
    }
  }
  if (!index.empty()) check_weight_map(map, ckpt, index.string());
  if (!adapter.empty()) apply_lora_adapter(ckpt, adapter);
  return ckpt;
}

const CheckpointTensor* Checkpoint::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

uint64_t Checkpoint::total_tensor_bytes() const {
  uint64_t total = 0;
  for (const CheckpointTensor& t : tensors_) total += t.info.nbytes();
  return total;
}

}  // namespace cocktail
