#include "model/t5_config.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/json_file.hpp"
#include "model/config_keys.hpp"

namespace cocktail {
namespace {

using json = nlohmann::json;

constexpr const char* kActivations = "relu, gelu, gelu_new, gelu_pytorch_tanh, silu";

using config_keys::int_at_least;
using config_keys::value_or;

}  // namespace

T5Config read_t5_config(const std::filesystem::path& config_json) {
  const std::string label = config_json.string();
  const json root = read_json_object(config_json);
  T5Config cfg;
  cfg.model_type = value_or<std::string>(root, "model_type", label, "a string", "");
  if (cfg.model_type != "t5" && cfg.model_type != "mt5")
    throw Error(label + ": model_type '" + cfg.model_type +
                "' is not a supported encoder-decoder (supported: mt5, t5)");

  // Sizes have no sensible default: every saved config has them.
  cfg.d_model = int_at_least(root, "d_model", label, 1);
  cfg.d_kv = int_at_least(root, "d_kv", label, 1);
  cfg.d_ff = int_at_least(root, "d_ff", label, 1);
  cfg.num_heads = int_at_least(root, "num_heads", label, 1);
  cfg.vocab_size = int_at_least(root, "vocab_size", label, 1);
  cfg.encoder_layers = int_at_least(root, "num_layers", label, 1);
  cfg.decoder_layers = int_at_least(root, "num_decoder_layers", label, 1, cfg.encoder_layers);
  cfg.num_buckets = int_at_least(root, "relative_attention_num_buckets", label, 2, 32);
  cfg.max_distance = int_at_least(root, "relative_attention_max_distance", label, 1, 128);
  cfg.layer_norm_epsilon = value_or<double>(root, "layer_norm_epsilon", label, "a number", 1e-6);
  cfg.pad_token_id = int_at_least(root, "pad_token_id", label, 0, 0);
  cfg.decoder_start_token_id = int_at_least(root, "decoder_start_token_id", label, 0, 0);
  for (int64_t id : {cfg.pad_token_id, cfg.decoder_start_token_id})
    if (id >= cfg.vocab_size)
      throw Error(label + ": pad_token_id / decoder_start_token_id " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(cfg.vocab_size) + ")");
  // The bucket arithmetic divides by log(max_distance / max_exact), max_exact
  // being a quarter (encoder) or half (decoder) of the buckets.
  if (cfg.max_distance <= cfg.num_buckets / 2)
    throw Error(label + ": relative_attention_max_distance " + std::to_string(cfg.max_distance) +
                " is not above relative_attention_num_buckets / 2, the decoder's exact buckets");

  // As T5Config.__post_init__: "gated-ACT" or "ACT", gated-gelu meaning
  // gelu_new; keys a saved config carries (dense_act_fn, is_gated_act) win.
  const std::string proj = value_or<std::string>(root, "feed_forward_proj", label, "a string", "relu");
  const size_t dash = proj.find('-');
  if (dash != std::string::npos && (proj.substr(0, dash) != "gated" || proj.find('-', dash + 1) != std::string::npos))
    throw Error(label + ": feed_forward_proj \"" + proj + "\" is not \"ACT\" or \"gated-ACT\"");
  cfg.gated = dash != std::string::npos;
  cfg.activation = proj == "gated-gelu" ? "gelu_new" : proj.substr(dash == std::string::npos ? 0 : dash + 1);
  cfg.activation = value_or<std::string>(root, "dense_act_fn", label, "a string", cfg.activation);
  cfg.gated = value_or<bool>(root, "is_gated_act", label, "true or false", cfg.gated);
  bool known = false;
  for (const char* a : {"relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "silu"}) known |= cfg.activation == a;
  if (!known)
    throw Error(label + ": activation \"" + cfg.activation + "\" is not supported (supported: " +
                kActivations + ")");

  // transformers 5 always ties the output to the embedding unless the
  // checkpoint holds its own lm_head.weight (src/model/t5_weights); whether
  // the decoder outputs are scaled is what tie_word_embeddings used to say.
  // mT5 never scales.
  const bool tied = value_or<bool>(root, "tie_word_embeddings", label, "true or false", true);
  cfg.scale_decoder_outputs =
      cfg.model_type == "t5" && value_or<bool>(root, "scale_decoder_outputs", label, "true or false", tied);
  return cfg;
}

}  // namespace cocktail
