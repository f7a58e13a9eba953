#include "io/side_files.hpp"

#include <map>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "core/dtype_names.hpp"
#include "core/model_kind.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_file.hpp"
#include "io/json_strict.hpp"
#include "io/output_folder.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

constexpr uint64_t kMaxConfigJson = 64 << 20;
// A folder with more files than this (a single-file checkpoint in a shared
// folder) is listed in the report only this far.
constexpr size_t kMaxListed = 1000;

// Copied as they are when the reference folder has them.
constexpr const char* kCopied[] = {
    "generation_config.json", "tokenizer.json",   "tokenizer_config.json",
    "special_tokens_map.json", "tokenizer.model", "vocab.json",
    "merges.txt",              "vocab.txt",        "added_tokens.json",
    "sentencepiece.bpe.model", "spiece.model",     "chat_template.jinja",
    "chat_template.json",     "modules.json",     "config_sentence_transformers.json",
    "sentence_bert_config.json", "1_Pooling/config.json", "metadata.json",
};

bool has_extension(const fs::path& p, std::initializer_list<const char*> exts) {
  const std::string e = p.extension().string();
  for (const char* x : exts)
    if (e == x) return true;
  return false;
}

bool is_weight_file(const fs::path& p) {
  return has_extension(p, {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx",
                           ".npy", ".npz"});
}

// The folders (relative) of the sentence-transformers modules listed in the
// folder's modules.json, other than the transformer itself at "".
std::vector<fs::path> module_folders(const fs::path& folder) {
  std::vector<fs::path> out;
  const fs::path list = folder / "modules.json";
  if (!fs::is_regular_file(list)) return out;
  const nlohmann::json modules = read_json_file(list);
  if (!modules.is_array()) throw Error(list.string() + ": not a JSON list of modules");
  for (const auto& m : modules) {
    if (!m.is_object() || !m.contains("path") || !m["path"].is_string())
      throw Error(list.string() + ": a module without a \"path\" string");
    const fs::path rel = fs::path(m["path"].get<std::string>()).lexically_normal();
    if (rel.empty() || rel == ".") continue;
    if (rel.is_absolute() || *rel.begin() == "..")
      throw Error(list.string() + ": module path '" + rel.string() + "' leaves the model folder");
    out.push_back(rel);
  }
  return out;
}

// Whether config.json or tokenizer_config.json maps classes to the folder's
// own Python files (transformers' trust_remote_code).
bool has_remote_code(const fs::path& folder) {
  for (const char* name : {"config.json", "tokenizer_config.json"}) {
    const fs::path p = folder / name;
    if (fs::is_regular_file(p) && read_json_object(p).contains("auto_map")) return true;
  }
  return false;
}

struct Collected {
  std::vector<fs::path> copies, folders;  // relative
  bool remote_code = false;
};

// What the output carries from `folder` besides config.json; with
// `refuse_module_weights`, a module with weights of its own is an error.
Collected collect(const fs::path& folder, bool refuse_module_weights) {
  Collected c;
  std::set<fs::path> seen;
  const auto copy = [&](const fs::path& rel) {
    if (seen.insert(rel).second) c.copies.push_back(rel);
  };
  for (const char* name : kCopied)
    if (fs::is_regular_file(folder / name)) copy(name);
  for (const fs::path& module : module_folders(folder)) {
    bool any = false;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(folder / module, ec)) {
      if (!e.is_regular_file()) continue;
      const fs::path rel = e.path().lexically_relative(folder);  // the link's name, not its target
      if (refuse_module_weights && is_weight_file(rel))
        throw Error((folder / rel).string() + ": the sentence-transformers module '" + module.string() +
                    "' has weights of its own, and cocktail merges only the transformer's; "
                    "merge without the module (remove it from modules.json) or merge it separately");
      copy(rel);
      any = true;
    }
    if (!any && fs::is_directory(folder / module)) c.folders.push_back(module);
  }
  c.remote_code = has_remote_code(folder);
  if (c.remote_code) {
    std::set<fs::path> code;  // sorted: the same output and messages on every run
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec))
      if (e.is_regular_file() && e.path().extension() == ".py") code.insert(e.path().filename());
    for (const auto& py : code) copy(py);
  }
  return c;
}

// Why a file of the reference folder stays out of the output.
std::string why_not_copied(const fs::path& rel, bool remote_code) {
  const std::string name = rel.filename().string();
  if (rel.extension() == ".safetensors" || name == "model.safetensors.index.json")
    return "weights: the output has the merged ones";
  if (is_weight_file(rel) || name.ends_with(".bin.index.json"))
    return "weights in a format cocktail does not read; the output has the merged safetensors";
  if (rel.extension() == ".py")
    return remote_code ? "code outside the model folder's top level" : "code, and config.json has no auto_map";
  return "not a config, tokenizer, generation, module or remote-code file";
}

std::vector<std::pair<std::string, std::string>> list_not_copied(const fs::path& folder, const SideFiles& files,
                                                                 bool remote_code) {
  std::set<std::string> carried = {"config.json"};
  for (const auto& p : files.copies) carried.insert(p.string());
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  // A single-file checkpoint's folder may be a large shared one: the walk
  // stops with the listing.
  auto it = fs::recursive_directory_iterator(folder, ec);
  for (; !ec && it != fs::recursive_directory_iterator() && out.size() < kMaxListed; it.increment(ec)) {
    const fs::path rel = it->path().lexically_relative(folder);
    if (it->is_directory()) {
      // Tool caches and version control, not part of the model.
      if (rel.filename().string().starts_with(".")) {
        it.disable_recursion_pending();
        out.emplace_back(rel.string() + "/", "a hidden folder");
      }
      continue;
    }
    if (!carried.count(rel.string())) out.emplace_back(rel.string(), why_not_copied(rel, remote_code));
  }
  std::sort(out.begin(), out.end());
  if (ec) out.emplace_back("...", "the folder could not be read further: " + ec.message());
  else if (it != fs::recursive_directory_iterator()) out.emplace_back("...", "more files, not listed");
  return out;
}

}  // namespace

void check_side_files(const fs::path& folder) { collect(folder, true); }

std::vector<fs::path> side_files_read(const fs::path& folder) {
  std::vector<fs::path> out;
  if (fs::is_regular_file(folder / "config.json")) out.push_back(folder / "config.json");
  for (const fs::path& rel : collect(folder, false).copies) out.push_back(folder / rel);
  return out;
}

namespace {

// A bert / xlm-roberta model that is not a cross-encoder: a reranker
// (*ForSequenceClassification) loads as a plain transformers folder, in
// transformers and in sentence-transformers' CrossEncoder alike.
bool is_embedding_model(const nlohmann::ordered_json& config) {
  const auto type = config.find("model_type");
  if (type == config.end() || !type->is_string() || !is_embedding_model_type(type->get<std::string>()))
    return false;
  const auto arch = config.find("architectures");
  if (arch == config.end() || !arch->is_array() || arch->empty() || !(*arch)[0].is_string()) return true;
  return !is_sequence_classification((*arch)[0].get<std::string>());
}

// CLS pooling and L2 normalisation: the embedding the few-shot loss scores.
std::vector<std::pair<std::string, std::string>> sentence_transformers_modules(
    const nlohmann::ordered_json& config) {
  const nlohmann::ordered_json modules = nlohmann::ordered_json::array({
      {{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
      {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}},
      {{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}},
  });
  const nlohmann::ordered_json pooling = {
      {"word_embedding_dimension", config.value("hidden_size", 0)},
      {"pooling_mode_cls_token", true},
      {"pooling_mode_mean_tokens", false},
      {"pooling_mode_max_tokens", false},
      {"pooling_mode_mean_sqrt_len_tokens", false},
      {"pooling_mode_weightedmean_tokens", false},
      {"pooling_mode_lasttoken", false},
      {"include_prompt", true},
  };
  const nlohmann::ordered_json bert_config = {
      {"max_seq_length", config.value("max_position_embeddings", 512)}, {"do_lower_case", false}};
  return {{"modules.json", modules.dump(2) + "\n"},
          {"1_Pooling/config.json", pooling.dump(2) + "\n"},
          {"sentence_bert_config.json", bert_config.dump(2) + "\n"},
          {"2_Normalize/.keep", ""}};
}

}  // namespace

namespace {

nlohmann::ordered_json read_config(const fs::path& config) {
  const std::string text = read_small_file(config.string(), kMaxConfigJson);
  check_json_depth(text, config.string(), "JSON");
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(config.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// A Keras preset's config.json names its variables' dtype in the model's
// dtype policy ("bfloat16", or {"class_name": "DTypePolicy", "config":
// {"name": ...}}; earlier Keras 3 releases wrote "FloatDTypePolicy"). Keras
// builds the variables in it and casts the loaded weights, so it must name
// the output's dtype, as torch_dtype does for transformers. A mixed policy
// ("mixed_bfloat16": float32 variables, lower precision compute) stays when
// the output is float32; a policy this code does not know (a quantized one)
// stays as it is.
void set_keras_dtype_policy(nlohmann::ordered_json& json, DType dtype) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16 && dtype != DType::F64) return;
  if (!json["config"].is_object() || !json["config"].contains("dtype")) return;
  nlohmann::ordered_json& policy = json["config"]["dtype"];
  nlohmann::ordered_json* name = nullptr;
  if (policy.is_string()) {
    name = &policy;
  } else if (policy.is_object()) {
    const std::string kind = policy.value("class_name", "");
    if ((kind == "DTypePolicy" || kind == "FloatDTypePolicy") && policy.contains("config") &&
        policy["config"].is_object() && policy["config"].contains("name") && policy["config"]["name"].is_string())
      name = &policy["config"]["name"];
  }
  if (!name) return;
  const std::string now = name->get<std::string>();
  const bool mixed = now.starts_with("mixed_");
  if (!mixed && !dtype_from_torch_name(now)) return;
  if (mixed && dtype == DType::F32) return;
  *name = std::string(torch_name(dtype));
}

}  // namespace

SideFiles read_side_files(const fs::path& reference_folder, std::optional<DType> torch_dtype) {
  SideFiles files;
  const fs::path config = reference_folder / "config.json";
  if (fs::exists(config)) {
    nlohmann::ordered_json json = read_config(config);
    if (!json.is_object()) throw Error(config.string() + ": not a JSON object");
    // A Keras preset's config.json (a serialized Keras object) has no
    // torch_dtype, but a dtype policy.
    const bool keras = json.contains("class_name") && json.contains("config");
    if (torch_dtype && keras) set_keras_dtype_policy(json, *torch_dtype);
    if (torch_dtype && !keras) {
      json["torch_dtype"] = std::string(torch_name(*torch_dtype));
      // Recent transformers write "dtype" instead; keep both in step.
      if (json.contains("dtype")) json["dtype"] = json["torch_dtype"];
    }
    files.config_json = json.dump(2) + "\n";
    if (is_embedding_model(json) && !fs::is_regular_file(reference_folder / "modules.json"))
      files.generated = sentence_transformers_modules(json);
  }
  Collected c = collect(reference_folder, true);
  files.copies = std::move(c.copies);
  files.folders = std::move(c.folders);
  if (c.remote_code) {
    std::string names;
    for (const auto& p : files.copies)
      if (p.extension() == ".py") names += (names.empty() ? "" : ", ") + p.string();
    files.warnings.push_back(reference_folder.string() +
                             " has remote code (auto_map): copying " + (names.empty() ? "no .py file" : names) +
                             " into the output; read it before loading with trust_remote_code=True");
  }
  files.not_copied = list_not_copied(reference_folder, files, c.remote_code);
  return files;
}

void restack_layers(SideFiles& files, const std::vector<std::pair<fs::path, long>>& layers) {
  if (files.config_json.empty()) return;
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(files.config_json);
  std::map<fs::path, nlohmann::ordered_json> configs;  // each source folder's, read once
  for (const auto& [folder, layer] : layers) {
    auto [it, fresh] = configs.try_emplace(folder);
    if (!fresh) continue;
    if (!fs::exists(folder / "config.json"))
      throw Error(folder.string() + ": no config.json, so its layers' settings are unknown; slices need one in every model");
    it->second = read_config(folder / "config.json");
    // A layer of another width would not fit the stack (the shapes of one
    // model's layers agree by construction; a stack's do not).
    const auto width = it->second.find("hidden_size");
    if (width != it->second.end() && json.contains("hidden_size") && *width != json["hidden_size"])
      throw Error((folder / "config.json").string() + ": key 'hidden_size': " + width->dump() +
                  ", but the reference model's is " + json["hidden_size"].dump() +
                  ": slices stack layers of models of one width");
  }
  // The layer count under its usual names (GPT-2 and MPT spell it otherwise).
  const char* kCounts[] = {"num_hidden_layers", "n_layer", "n_layers", "num_layers"};
  const char* count_key = "num_hidden_layers";
  for (const char* k : kCounts)
    if (json.contains(k) && json[k].is_number_unsigned()) {
      count_key = k;
      break;
    }
  const auto old = json.find(count_key);
  if (old != json.end() && old->is_number_unsigned()) {
    const size_t count = old->get<size_t>();
    // The per-layer lists transformers configs carry, one entry per layer.
    for (const char* key : {"layer_types", "no_rope_layers"}) {
      const auto found = json.find(key);
      if (found == json.end() || !found->is_array() || found->size() != count) continue;
      nlohmann::ordered_json& value = *found;
      nlohmann::ordered_json restacked = nlohmann::ordered_json::array();
      for (const auto& [folder, layer] : layers) {
        const nlohmann::ordered_json& config = configs[folder];
        const auto list = config.find(key);
        if (list == config.end() || !list->is_array() || static_cast<long>(list->size()) <= layer)
          throw Error((folder / "config.json").string() + ": key '" + key + "': a list per layer in the reference " +
                      "model, but here it has no entry for layer " + std::to_string(layer));
        restacked.push_back((*list)[layer]);
      }
      value = std::move(restacked);
    }
  }
  json[count_key] = layers.size();
  files.config_json = json.dump(2) + "\n";
}

void use_vocabulary(SideFiles& files, const fs::path& tokenizer_folder, const std::string& tokenizer_json,
                    const std::string& tokenizer_config, uint64_t vocab_size) {
  static const std::set<std::string> kTokenizerFiles = {
      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
      "merges.txt", "vocab.txt", "added_tokens.json", "sentencepiece.bpe.model", "spiece.model"};
  std::erase_if(files.copies, [&](const fs::path& p) {
    if (!kTokenizerFiles.count(p.string())) return false;
    if (p != "tokenizer.json" && p != "tokenizer_config.json" && p != "special_tokens_map.json")
      files.not_copied.emplace_back(p.string(), "a slow tokenizer's file; the output's vocabulary is in tokenizer.json");
    return true;
  });
  files.generated.emplace_back("tokenizer.json", tokenizer_json);
  if (!tokenizer_config.empty()) files.generated.emplace_back("tokenizer_config.json", tokenizer_config);
  const fs::path map = tokenizer_folder / "special_tokens_map.json";
  if (fs::is_regular_file(map)) files.generated.emplace_back("special_tokens_map.json", read_small_file(map.string(), kMaxConfigJson));
  if (files.config_json.empty()) return;
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(files.config_json);
  nlohmann::ordered_json& where =
      !json.contains("vocab_size") && json.contains("text_config") && json["text_config"].is_object() ? json["text_config"] : json;
  where["vocab_size"] = vocab_size;
  files.config_json = json.dump(2) + "\n";
}

void stage_side_files(const fs::path& reference_folder, const SideFiles& files,
                      const fs::path& staging) {
  if (!files.config_json.empty()) write_staged_file(staging, "config.json", files.config_json);
  for (const auto& name : files.copies) {
    std::error_code ec;
    fs::create_directories((staging / name).parent_path(), ec);
    fs::copy_file(reference_folder / name, staging / name, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error((reference_folder / name).string() + ": cannot copy into the output: " + ec.message());
  }
  for (const auto& folder : files.folders) {
    std::error_code ec;
    fs::create_directories(staging / folder, ec);
    if (ec) throw Error((staging / folder).string() + ": cannot create: " + ec.message());
  }
  for (const auto& [name, contents] : files.generated) {
    std::error_code ec;
    fs::create_directories((staging / name).parent_path(), ec);
    if (ec) throw Error((staging / name).parent_path().string() + ": cannot create: " + ec.message());
    write_staged_file(staging, name, contents);
  }
}

}  // namespace cocktail
