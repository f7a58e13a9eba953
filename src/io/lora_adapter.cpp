#include "io/lora_adapter.hpp"

#include <cmath>
#include <map>
#include <regex>
#include <system_error>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"

namespace cocktail {
namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigName = "adapter_config.json";
constexpr const char* kWeightsName = "adapter_model.safetensors";
// peft names every saved tensor after the module path inside its PeftModel.
constexpr std::string_view kPrefix = "base_model.model.";
constexpr uint64_t kMaxConfigBytes = 16ull << 20;

struct Config {
  std::string label;  // the config file, for messages
  uint64_t r = 0;
  double alpha = 0;
  bool rslora = false;
  bool fan_in_fan_out = false;
  nlohmann::json target_modules;
  std::map<std::string, double> rank_pattern, alpha_pattern;
};

[[noreturn]] void bad_key(const Config& c, const std::string& key, const std::string& problem) {
  throw Error(c.label + ": key '" + key + "' " + problem);
}

std::map<std::string, double> read_pattern(const Config& c, const nlohmann::json& j, const std::string& key) {
  std::map<std::string, double> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  if (!j[key].is_object()) bad_key(c, key, "is not an object of module patterns to numbers");
  for (const auto& [k, v] : j[key].items()) {
    if (!v.is_number() || v.get<double>() <= 0) bad_key(c, key + "." + k, "is not a positive number");
    out.emplace(k, v.get<double>());
  }
  return out;
}

bool flag(const Config& c, const nlohmann::json& j, const std::string& key) {
  if (!j.contains(key) || j[key].is_null()) return false;
  if (!j[key].is_boolean()) bad_key(c, key, "is not true or false");
  return j[key].get<bool>();
}

// The keys whose adapters are not scale * B @ A added to the weight: merging
// them as if they were would silently give another model.
void refuse_variants(const Config& c, const nlohmann::json& j) {
  for (const char* key : {"use_dora", "lora_bias", "use_qalora"})
    if (flag(c, j, key)) bad_key(c, key, "is true; only plain LoRA (and rsLoRA) adapters can be merged");
  for (const char* key : {"target_parameters", "trainable_token_indices", "layer_replication",
                          "alora_invocation_tokens"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if ((j[key].is_array() || j[key].is_object()) && j[key].empty()) continue;
    bad_key(c, key, "is set; adapters using it cannot be merged as scale * B @ A");
  }
}

Config read_config(const fs::path& file) {
  Config c;
  c.label = file.string();
  const nlohmann::json j = parse_strict_json(read_small_file(c.label, kMaxConfigBytes), c.label, "adapter config");
  if (!j.is_object()) throw Error(c.label + ": not a JSON object");
  const std::string type = j.contains("peft_type") && j["peft_type"].is_string() ? j["peft_type"].get<std::string>() : "";
  if (type != "LORA")
    bad_key(c, "peft_type", "is " + (type.empty() ? std::string("missing") : quote_name(type)) +
                                "; only LORA adapters can be merged");
  refuse_variants(c, j);
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0)
    bad_key(c, "r", "is not a positive whole number");
  c.r = j["r"].get<uint64_t>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number()) bad_key(c, "lora_alpha", "is not a number");
  c.alpha = j["lora_alpha"].get<double>();
  c.rslora = flag(c, j, "use_rslora");
  c.fan_in_fan_out = flag(c, j, "fan_in_fan_out");
  c.target_modules = j.contains("target_modules") ? j["target_modules"] : nlohmann::json();
  c.rank_pattern = read_pattern(c, j, "rank_pattern");
  c.alpha_pattern = read_pattern(c, j, "alpha_pattern");
  return c;
}

// peft's get_pattern_key: the first pattern that matches the module path
// as `(.*\.)?(PATTERN)$`.
const double* pattern_value(const Config& c, const std::map<std::string, double>& patterns, const std::string& module,
                            const std::string& key) {
  for (const auto& [pattern, value] : patterns) {
    try {
      if (std::regex_match(module, std::regex("(.*\\.)?(" + pattern + ")"))) return &value;
    } catch (const std::regex_error&) {
      bad_key(c, key + "." + pattern, "is not a regular expression");
    }
  }
  return nullptr;
}

// peft's check_target_module_exists for the forms a saved config has: a
// list of module names (the path or its last parts), a regular expression
// matched against the whole path, or "all-linear".
bool targeted(const Config& c, const std::string& module) {
  const nlohmann::json& t = c.target_modules;
  if (t.is_null()) return true;
  if (t.is_string()) {
    const std::string s = t.get<std::string>();
    if (s == "all-linear") return true;
    try {
      return std::regex_match(module, std::regex(s));
    } catch (const std::regex_error&) {
      bad_key(c, "target_modules", "is not a regular expression");
    }
  }
  if (!t.is_array()) bad_key(c, "target_modules", "is not a list of module names or a regular expression");
  for (const auto& name : t) {
    if (!name.is_string()) bad_key(c, "target_modules", "lists something that is not a module name");
    const std::string n = name.get<std::string>();
    if (module == n || (module.size() > n.size() && module.ends_with("." + n))) return true;
  }
  return false;
}

bool ends_with_strip(std::string& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.resize(s.size() - suffix.size());
  return true;
}

struct Pair {
  const TensorInfo* a = nullptr;
  const TensorInfo* b = nullptr;
  bool embedding = false;
};

// The names peft gives a module's factors, after the module's path.
struct FactorName {
  std::string_view suffix;
  bool is_b, embedding;
};
constexpr FactorName kFactorNames[] = {{".lora_A.weight", false, false},
                                       {".lora_B.weight", true, false},
                                       {".lora_embedding_A", false, true},
                                       {".lora_embedding_B", true, true}};

}  // namespace

void apply_lora_adapter(Checkpoint& base, const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw Error(folder.string() + ": not a folder (a LoRA adapter is a folder with " + kConfigName + " and " +
                kWeightsName + ")");
  const Config config = read_config(folder / kConfigName);
  const fs::path weights = folder / kWeightsName;
  if (!fs::is_regular_file(weights, ec)) {
    std::string msg = weights.string() + ": missing";
    if (fs::exists(folder / "adapter_model.bin", ec)) msg += "; found adapter_model.bin, which is not read: convert it to safetensors";
    throw Error(msg);
  }
  const std::string label = weights.string();
  const uint32_t file = static_cast<uint32_t>(base.files_.size());
  SafetensorsHeader read = read_safetensors_header(label);
  const uint64_t data_start = read.data_start();
  base.files_.push_back({weights, std::move(read), data_start});
  base.adapter_ = folder;
  const SafetensorsHeader& header = base.files_.back().header;
  auto in_adapter = [&](const TensorInfo& info) { return CheckpointTensor{info, file, data_start, nullptr}; };
  auto target = [&](const std::string& name, const std::string& from) -> CheckpointTensor& {
    auto it = base.by_name_.find(name);
    if (it == base.by_name_.end())
      throw Error(label + ": tensor " + quote_name(from) + " is for " + quote_name(name) + ", which the base model " +
                  base.path().string() + " does not have (an adapter of another architecture?)");
    return base.tensors_[it->second];
  };

  // Whole tensors first (modules_to_save, an embedding's saved base_layer),
  // so that an update of the same tensor applies to the replaced bytes.
  std::map<std::string, Pair> modules;
  for (const TensorInfo& info : header.tensors) {
    std::string name = info.name;
    if (!name.starts_with(kPrefix))
      throw Error(label + ": tensor " + quote_name(name) + " is not named as peft saves adapters (base_model.model.*)");
    name.erase(0, kPrefix.size());
    const FactorName* factor = nullptr;
    for (const FactorName& f : kFactorNames)
      if (ends_with_strip(name, f.suffix)) {
        factor = &f;
        break;
      }
    if (factor) {
      Pair& p = modules[name];
      (factor->is_b ? p.b : p.a) = &info;
      p.embedding = factor->embedding;
      continue;
    }
    if (name.find("lora_") != std::string::npos)
      throw Error(label + ": tensor " + quote_name(info.name) + " is a part of LoRA this code does not merge");
    if (const size_t at = name.find(".base_layer."); at != std::string::npos) name.erase(at, 11);
    CheckpointTensor& t = target(name, info.name);
    if (info.shape != t.info.shape)
      throw Error(label + ": tensor " + quote_name(info.name) + " is " + format_shape(info.shape) + " but " +
                  quote_name(name) + " of the base is " + format_shape(t.info.shape));
    CheckpointTensor replaced = in_adapter(info);
    replaced.info.name = name;
    t = replaced;
  }

  for (const auto& [module, p] : modules) {
    if (!p.a || !p.b) {
      const std::string& present = (p.a ? p.a : p.b)->name;
      // The missing one: B beside a present A, else A.
      const std::string_view suffix = kFactorNames[(p.embedding ? 2 : 0) + (p.a ? 1 : 0)].suffix;
      throw Error(label + ": " + quote_name(present) + " has no " + quote_name(std::string(kPrefix) + module + std::string(suffix)));
    }
    const std::string& a_name = p.a->name;
    if (!targeted(config, module))
      throw Error(label + ": tensor " + quote_name(a_name) + " adapts " + quote_name(module) + ", which " +
                  config.label + "'s target_modules does not name");
    CheckpointTensor& t = target(module + ".weight", a_name);
    if (!is_mergeable_float(p.a->dtype) || !is_mergeable_float(p.b->dtype) || !is_mergeable_float(t.info.dtype))
      throw Error(label + ": " + quote_name(a_name) + ", its B and the base tensor must all be floats");
    if (t.info.shape.size() != 2 || p.a->shape.size() != 2 || p.b->shape.size() != 2)
      throw Error(label + ": " + quote_name(a_name) + " adapts " + quote_name(t.info.name) + " of shape " +
                  format_shape(t.info.shape) + "; only 2-D weights (linear layers, embeddings) can be merged");
    const double* r_pattern = pattern_value(config, config.rank_pattern, module, "rank_pattern");
    const uint64_t r = r_pattern ? static_cast<uint64_t>(*r_pattern) : config.r;
    if (p.a->shape[0] != r || p.b->shape[1] != r)
      throw Error(label + ": rank mismatch for " + quote_name(module) + ": " + config.label + " says r = " +
                  std::to_string(r) + (r_pattern ? " (rank_pattern)" : "") + " but lora A is " +
                  format_shape(p.a->shape) + " and B is " + format_shape(p.b->shape));
    const bool transposed = p.embedding || config.fan_in_fan_out;
    const uint64_t rows = t.info.shape[0], cols = t.info.shape[1];
    const uint64_t want_a = transposed ? rows : cols, want_b = transposed ? cols : rows;
    if (p.a->shape[1] != want_a || p.b->shape[0] != want_b)
      throw Error(label + ": " + quote_name(module) + " has A " + format_shape(p.a->shape) + " and B " +
                  format_shape(p.b->shape) + ", which do not fit the base's " + quote_name(t.info.name) + " " +
                  format_shape(t.info.shape) + (config.fan_in_fan_out ? " (fan_in_fan_out)" : "") +
                  " (an adapter of another model?)");
    const double* alpha = pattern_value(config, config.alpha_pattern, module, "alpha_pattern");
    auto factors = std::make_shared<LoraFactors>();
    factors->a = in_adapter(*p.a);
    factors->b = in_adapter(*p.b);
    factors->rank = r;
    const double a = alpha ? *alpha : config.alpha;
    factors->scale = static_cast<float>(config.rslora ? a / std::sqrt(static_cast<double>(r)) : a / static_cast<double>(r));
    factors->transposed = transposed;
    const DType delta_dtype = p.embedding ? p.a->dtype : p.b->dtype;
    if (delta_dtype == DType::BF16 || delta_dtype == DType::F16) factors->round_first = delta_dtype;
    if (p.embedding && t.info.dtype != DType::F32) factors->round_then = t.info.dtype;
    t.lora = std::move(factors);
  }
}

}  // namespace cocktail
