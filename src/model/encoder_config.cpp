#include "model/encoder_config.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/json_file.hpp"

namespace cocktail {
namespace {

using json = nlohmann::json;

// Real configs are a few KB; this only stops a wrong path from exhausting memory.
constexpr const char* kSupportedTypes = "bert, xlm-roberta";

// A key that is absent or null takes the transformers default.
bool has(const json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

int64_t int_at_least(const json& j, const char* key, const std::string& label, int64_t minimum,
                     std::optional<int64_t> fallback = std::nullopt) {
  if (!has(j, key)) {
    if (fallback) return *fallback;
    throw Error(label + ": missing \"" + key + "\"");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < minimum)
    throw Error(label + ": \"" + key + "\" is not an integer >= " + std::to_string(minimum));
  return j[key].get<int64_t>();
}

std::string string_or(const json& j, const char* key, const std::string& label,
                      const std::string& fallback) {
  if (!has(j, key)) return fallback;
  if (!j[key].is_string()) throw Error(label + ": \"" + key + "\" is not a string");
  return j[key].get<std::string>();
}

}  // namespace

EncoderConfig read_encoder_config(const std::filesystem::path& config_json) {
  const std::string label = config_json.string();
  const json root = read_json_object(config_json);
  if (!root.contains("model_type") || !root["model_type"].is_string())
    throw Error(label + ": no \"model_type\" string (supported: " + kSupportedTypes + ")");

  EncoderConfig cfg;
  cfg.model_type = root["model_type"].get<std::string>();
  const bool bert = cfg.model_type == "bert", xlmr = cfg.model_type == "xlm-roberta";
  if (!bert && !xlmr)
    throw Error(label + ": model_type '" + cfg.model_type +
                "' is not a supported encoder (supported: " + kSupportedTypes + ")");
  // "gelu" is transformers' erf GELU; the tanh approximations would shift
  // every loss a little, so they are refused rather than computed as erf.
  cfg.hidden_act = string_or(root, "hidden_act", label, "gelu");
  if (cfg.hidden_act != "gelu")
    throw Error(label + ": hidden_act \"" + cfg.hidden_act + "\" is not supported (supported: \"gelu\")");
  const std::string positions = string_or(root, "position_embedding_type", label, "absolute");
  if (positions != "absolute")
    throw Error(label + ": position_embedding_type \"" + positions +
                "\" is not supported (supported: \"absolute\")");
  // A decoder-configured BERT attends causally; no embedding model does.
  if (has(root, "is_decoder") && root["is_decoder"].is_boolean() && root["is_decoder"].get<bool>())
    throw Error(label + ": \"is_decoder\": true is not supported (encoders attend both ways)");

  // Sizes have no sensible default: every saved config has them.
  cfg.hidden_size = int_at_least(root, "hidden_size", label, 1);
  cfg.intermediate_size = int_at_least(root, "intermediate_size", label, 1);
  cfg.num_layers = int_at_least(root, "num_hidden_layers", label, 1);
  cfg.num_heads = int_at_least(root, "num_attention_heads", label, 1);
  cfg.vocab_size = int_at_least(root, "vocab_size", label, 1);
  if (cfg.hidden_size % cfg.num_heads != 0)
    throw Error(label + ": hidden_size " + std::to_string(cfg.hidden_size) +
                " is not a multiple of num_attention_heads " + std::to_string(cfg.num_heads));
  cfg.head_dim = cfg.hidden_size / cfg.num_heads;
  // The defaults of BertConfig and XLMRobertaConfig.
  cfg.max_position_embeddings = int_at_least(root, "max_position_embeddings", label, 1, 512);
  cfg.type_vocab_size = int_at_least(root, "type_vocab_size", label, 1, 2);
  cfg.pad_token_id = int_at_least(root, "pad_token_id", label, 0, xlmr ? 1 : 0);
  if (has(root, "layer_norm_eps")) {
    if (!root["layer_norm_eps"].is_number()) throw Error(label + ": \"layer_norm_eps\" is not a number");
    cfg.layer_norm_eps = root["layer_norm_eps"].get<double>();
  }
  return cfg;
}

}  // namespace cocktail
