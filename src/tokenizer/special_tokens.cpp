#include "tokenizer/special_tokens.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.hpp"
#include "io/json_file.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

std::optional<nlohmann::json> read_json(const fs::path& file) {
  if (!fs::is_regular_file(file)) return std::nullopt;
  return read_json_object(file);
}

// A token named as a string or as {"content": "..."} in tokenizer configs.
std::optional<int64_t> named_token(const std::optional<nlohmann::json>& config, const char* key,
                                   const Tokenizer& tokenizer) {
  if (!config || !config->contains(key)) return std::nullopt;
  const nlohmann::json& v = (*config)[key];
  const nlohmann::json* name = v.is_object() && v.contains("content") ? &v["content"] : &v;
  if (!name->is_string()) return std::nullopt;
  return tokenizer.token_to_id(name->get<std::string>());
}

// config.json's eos_token_id may be a number or a list (the first is used).
std::optional<int64_t> config_id(const std::optional<nlohmann::json>& config, const char* key) {
  if (!config || !config->contains(key)) return std::nullopt;
  const nlohmann::json& v = (*config)[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  return std::nullopt;
}

}  // namespace

SpecialIds read_special_ids(const fs::path& folder, const Tokenizer& tokenizer, bool decoder) {
  const auto tok_config = read_json(folder / "tokenizer_config.json");
  const auto tok_map = read_json(folder / "special_tokens_map.json");
  const auto config = read_json(folder / "config.json");
  auto find = [&](const char* key, const char* id_key) -> std::optional<int64_t> {
    if (auto id = named_token(tok_config, key, tokenizer)) return id;
    if (auto id = named_token(tok_map, key, tokenizer)) return id;
    return config_id(config, id_key);
  };
  SpecialIds ids;
  const auto eos = find("eos_token", "eos_token_id");
  if (decoder && !eos)
    throw Error(folder.string() + ": no eos_token in tokenizer_config.json or config.json");
  ids.eos = eos.value_or(-1);
  ids.pad = find("pad_token", "pad_token_id").value_or(decoder ? ids.eos : 0);
  return ids;
}

bool passes_token_type_ids(const fs::path& folder) {
  const auto config = read_json(folder / "tokenizer_config.json");
  if (!config) return false;
  if (const auto names = config->find("model_input_names"); names != config->end() && names->is_array()) {
    for (const auto& n : *names)
      if (n.is_string() && n.get<std::string>() == "token_type_ids") return true;
    return false;
  }
  const auto cls = config->find("tokenizer_class");
  if (cls == config->end() || !cls->is_string()) return false;
  const std::string c = cls->get<std::string>();
  return c == "BertTokenizer" || c == "BertTokenizerFast";
}

}  // namespace cocktail
