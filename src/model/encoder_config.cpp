#include "model/encoder_config.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/json_file.hpp"
#include "model/config_keys.hpp"

namespace cocktail {
namespace {

using json = nlohmann::json;

constexpr const char* kSupportedTypes = "bert, xlm-roberta";

using config_keys::has;
using config_keys::int_at_least;

std::string string_or(const json& j, const char* key, const std::string& label, const std::string& fallback) {
  return config_keys::value_or<std::string>(j, key, label, "a string", fallback);
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
  cfg.layer_norm_eps = config_keys::value_or<double>(root, "layer_norm_eps", label, "a number", cfg.layer_norm_eps);
  return cfg;
}

}  // namespace cocktail
