#pragma once
// The merge integration fixture: three small models in the three checkpoint
// layouts, used by the MPI merge tests and the GPU merge tests.
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fixture_models.hpp"

namespace cocktail::test {

namespace fs = std::filesystem;

// Three models of one architecture, stored three ways: base as an indexed
// two-shard folder, ft_a as a folder with model.safetensors, ft_b as a bare
// file. Dtypes differ between models; ft_a holds NaN/Inf; the bool mask
// differs in ft_b.
struct Fixture {
  fs::path dir;
  std::map<std::string, std::vector<FixtureTensor>> models;  // name -> tensors

  Fixture() {
    char tmpl[] = "/tmp/cocktail-it-XXXXXX";
    dir = mkdtemp(tmpl);
    models["base"] = make(1, "BF16", "F32", 0);
    models["ft_a"] = make(2, "F16", "BF16", 97);
    models["ft_b"] = make(3, "F32", "F32", 0);
    models["ft_b"][6].bytes[5] ^= 1;  // mask differs

    auto& base = models["base"];
    std::vector<FixtureTensor> first(base.begin(), base.begin() + 3), rest(base.begin() + 3, base.end());
    write_safetensors(dir / "base/model-00001-of-00002.safetensors", first);
    write_safetensors(dir / "base/model-00002-of-00002.safetensors", rest);
    std::string index = "{\"metadata\":{\"total_size\":0},\"weight_map\":{";
    for (size_t i = 0; i < base.size(); ++i)
      index += (i ? "," : "") + ("\"" + base[i].name + "\":\"model-0000") + (i < 3 ? "1" : "2") +
               "-of-00002.safetensors\"";
    write_file(dir / "base/model.safetensors.index.json", index + "}}");
    write_file(dir / "base/config.json", R"({"model_type": "llama", "torch_dtype": "float32"})");
    write_file(dir / "base/tokenizer.json", R"({"model": {"type": "BPE"}})");
    write_safetensors(dir / "ft_a/model.safetensors", models["ft_a"]);
    write_safetensors(dir / "ft_b.safetensors", models["ft_b"]);
  }
  ~Fixture() { fs::remove_all(dir); }

  static std::vector<FixtureTensor> make(uint64_t seed, const std::string& big, const std::string& norm,
                                         size_t nonfinite_every) {
    std::vector<FixtureTensor> t;
    t.push_back(float_tensor("model.embed_tokens.weight", big, {300, 70}, values(21000, seed)));
    t.push_back(float_tensor("model.layers.0.mlp.up_proj.weight", big, {129, 257},
                             values(129 * 257, seed + 10, nonfinite_every)));
    t.push_back(float_tensor("model.norm.weight", norm, {70}, values(70, seed + 20)));
    t.push_back(float_tensor("model.scale", "F32", {}, values(1, seed + 30)));
    t.push_back(float_tensor("model.empty", big, {0, 4}, {}));
    FixtureTensor ids{"model.position_ids", "I64", {1, 40}, {}};
    for (int64_t i = 0; i < 40; ++i)
      for (int b = 0; b < 8; ++b) ids.bytes.push_back(static_cast<uint8_t>(i >> (8 * b)));
    t.push_back(ids);
    FixtureTensor mask{"model.mask", "BOOL", {16}, std::vector<uint8_t>(16, 1)};
    t.push_back(mask);
    return t;
  }

  fs::path config(const std::string& name, const std::string& body) const {
    write_file(dir / name, body);
    return dir / name;
  }

  // A task-vector method over base, ft_a (NaN/Inf, f16) and ft_b (f32), on
  // a base of bf16 and f32 tensors; the scalar and the empty tensor merged too.
  fs::path method_config(const std::string& method, uint64_t chunk, const std::string& extra = "") const {
    return config(method + "-" + std::to_string(chunk) + "-" + std::to_string(std::hash<std::string>{}(extra)) +
                      ".yaml",
                  "merge_method: " + method + "\n"
                  "base_model: base\n"
                  "models:\n"
                  "  - model: ft_a\n    parameters: {weight: 0.6, density: 0.5}\n"
                  "  - model: ft_b.safetensors\n    parameters: {weight: 0.4, density: 0.7}\n"
                  "random_seed: 3\n"
                  "max_shard_size: 60K\n"
                  "chunk_size: " + std::to_string(chunk) + "\n"
                  "progress_interval: 0\n" + extra);
  }

  // `extra` is appended to the config (more keys, e.g. "device: cuda\n").
  fs::path linear_config(uint64_t chunk, int threads = 0, double progress_interval = 0,
                         const std::string& extra = "") const {
    return config("linear-" + std::to_string(chunk) + "-" + std::to_string(threads) + "-" +
                      std::to_string(std::hash<std::string>{}(extra)) + ".yaml",
                  "merge_method: linear\n"
                  "base_model: base\n"
                  "models:\n"
                  "  - model: base\n    parameters: {weight: 0.5}\n"
                  "  - model: ft_a\n    parameters: {weight: 0.3}\n"
                  "  - model: ft_b.safetensors\n    parameters: {weight: 0.2}\n"
                  "max_shard_size: 60K\n"
                  "chunk_size: " + std::to_string(chunk) + "\n"
                  "threads: " + std::to_string(threads) + "\n"
                  "progress_interval: " + std::to_string(progress_interval) + "\n" + extra);
  }
};

inline std::map<std::string, std::string> folder_bytes(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files[e.path().filename()] = read_file(e.path());
  return files;
}

// Names of the files that differ between two folder_bytes maps (or exist in
// one only): a readable failure message, unlike printing every byte.
inline std::vector<std::string> differing_files(const std::map<std::string, std::string>& a,
                                                const std::map<std::string, std::string>& b) {
  std::vector<std::string> names;
  for (const auto& [name, bytes] : a)
    if (!b.count(name) || b.at(name) != bytes) names.push_back(name);
  for (const auto& [name, bytes] : b)
    if (!a.count(name)) names.push_back(name);
  return names;
}

}  // namespace cocktail::test
