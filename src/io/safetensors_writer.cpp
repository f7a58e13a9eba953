#include "io/safetensors_writer.hpp"

#include <cstddef>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "core/dtype_names.hpp"

namespace cocktail {

std::string encode_safetensors_header(const std::vector<TensorInfo>& tensors,
                                      const std::map<std::string, std::string>& metadata) {
  // Entries in the order given. ordered_json's operator[] looks a key up by a
  // linear scan, which made a header of N tensors cost N^2 / 2 string
  // compares (300,000 tensors: minutes); a hash of the names keeps its
  // meaning (a repeated name replaces the value in its first place) in
  // linear time.
  using Json = nlohmann::ordered_json;
  Json header = Json::object();
  auto& entries = header.get_ref<Json::object_t&>();
  entries.reserve(tensors.size() + 1);
  std::unordered_map<std::string_view, size_t> position;
  position.reserve(tensors.size() + 1);
  auto set = [&](std::string_view name, Json value) {
    auto [it, fresh] = position.emplace(name, entries.size());
    if (fresh) {
      entries.emplace_back(std::string(name), std::move(value));
    } else {
      (entries.begin() + static_cast<std::ptrdiff_t>(it->second))->second = std::move(value);
    }
  };
  if (!metadata.empty()) set("__metadata__", metadata);
  for (const auto& t : tensors) {
    set(t.name, {{"dtype", std::string(safetensors_name(t.dtype))},
                 {"shape", t.shape},
                 {"data_offsets", {t.begin, t.end}}});
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json;
}

std::string encode_shard_index(uint64_t total_size,
                               const std::map<std::string, std::string>& weight_map) {
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total_size}};
  index["weight_map"] = weight_map;  // std::map: sorted keys, as transformers writes them
  return index.dump(2) + "\n";
}

std::string shard_file_name(size_t index, size_t count) {
  if (count == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

}  // namespace cocktail
