#include "model/decoder_config.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/json_file.hpp"
#include "model/config_keys.hpp"

namespace cocktail {
namespace {

using json = nlohmann::json;

constexpr const char* kSupportedTypes =
    "gemma2, gemma3_text, llama, mistral, mixtral, phi3, qwen2, qwen3, qwen3_moe";

using config_keys::has;

int64_t positive_int(const json& j, const char* key, const std::string& label,
                     std::optional<int64_t> fallback = std::nullopt) {
  if (!has(j, key)) {
    if (fallback) return *fallback;
    throw Error(label + ": missing \"" + key + "\"");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
    throw Error(label + ": \"" + key + "\" is not a positive integer");
  return j[key].get<int64_t>();
}

double number(const json& j, const char* key, const std::string& label, double fallback) {
  return config_keys::value_or<double>(j, key, label, "a number", fallback);
}

bool boolean(const json& j, const char* key, const std::string& label, bool fallback) {
  return config_keys::value_or<bool>(j, key, label, "true or false", fallback);
}

// One RoPE parameter object; theta and partial_rotary_factor fall back to
// the given values (a 4.x config keeps them beside rope_scaling).
RopeConfig read_rope_params(const json& params, const std::string& where, int64_t max_positions,
                            double theta_fallback, double partial_fallback) {
  if (!params.is_object()) throw Error(where + " is not an object");
  RopeConfig rope;
  rope.theta = number(params, "rope_theta", where, theta_fallback);
  rope.partial_rotary_factor = number(params, "partial_rotary_factor", where, partial_fallback);
  if (!(rope.partial_rotary_factor > 0 && rope.partial_rotary_factor <= 1))
    throw Error(where + ": partial_rotary_factor " + std::to_string(rope.partial_rotary_factor) +
                " is not in (0, 1]");
  std::string type = "default";
  for (const char* k : {"rope_type", "type"}) {
    if (!has(params, k)) continue;
    if (!params[k].is_string()) throw Error(where + ": \"" + k + "\" is not a string");
    type = params[k].get<std::string>();
    break;
  }
  if (type == "default") return rope;
  if (type == "linear") rope.type = RopeType::Linear;
  else if (type == "dynamic") rope.type = RopeType::Dynamic;
  else if (type == "llama3") rope.type = RopeType::Llama3;
  else
    throw Error(where + ": RoPE type '" + type +
                "' is not supported (supported: default, linear, dynamic, llama3)");
  if (!has(params, "factor")) throw Error(where + ": RoPE type '" + type + "' needs \"factor\"");
  rope.factor = number(params, "factor", where, 1.0);
  if (rope.type == RopeType::Llama3) {
    for (const char* k : {"low_freq_factor", "high_freq_factor"})
      if (!has(params, k)) throw Error(where + ": RoPE type 'llama3' needs \"" + k + "\"");
    rope.low_freq_factor = number(params, "low_freq_factor", where, 1.0);
    rope.high_freq_factor = number(params, "high_freq_factor", where, 4.0);
    rope.original_max_position_embeddings =
        positive_int(params, "original_max_position_embeddings", where, max_positions);
  }
  return rope;
}

// transformers 5 writes "rope_parameters" (theta inside); 4.x wrote
// "rope_theta" beside "rope_scaling". A non-null rope_scaling wins, as there.
RopeConfig read_rope(const json& root, const std::string& label, int64_t max_positions,
                     double default_theta) {
  const char* key = has(root, "rope_scaling") ? "rope_scaling" : "rope_parameters";
  const json params = has(root, key) ? root[key] : json::object();
  return read_rope_params(params, label + ": \"" + key + "\"", max_positions,
                          number(root, "rope_theta", label, default_theta),
                          number(root, "partial_rotary_factor", label, 1.0));
}

// gemma3: full-attention layers rotate with rope_theta (and its scaling),
// sliding ones with rope_local_base_freq; transformers 5 writes one
// parameter object per layer type.
void read_gemma3_rope(const json& root, const std::string& label, DecoderConfig& cfg) {
  const int64_t max_positions = cfg.max_position_embeddings;
  if (has(root, "rope_parameters") && root["rope_parameters"].is_object() &&
      root["rope_parameters"].contains("full_attention")) {
    const json& p = root["rope_parameters"];
    if (!p.contains("sliding_attention"))
      throw Error(label + ": \"rope_parameters\" has full_attention but no sliding_attention");
    cfg.rope = read_rope_params(p["full_attention"], label + ": \"rope_parameters.full_attention\"",
                                max_positions, 1e6, 1.0);
    cfg.sliding_rope = read_rope_params(p["sliding_attention"],
                                        label + ": \"rope_parameters.sliding_attention\"", max_positions,
                                        10000.0, 1.0);
    return;
  }
  cfg.rope = read_rope(root, label, max_positions, 1e6);
  RopeConfig local;
  local.theta = number(root, "rope_local_base_freq", label, 10000.0);
  cfg.sliding_rope = local;
}

// The experts of mixtral (every layer) and qwen3_moe (layers not in
// mlp_only_layers whose index + 1 is a multiple of decoder_sparse_step), with
// the defaults of transformers' MixtralConfig and Qwen3MoeConfig.
MoeConfig read_moe(const json& root, const std::string& label, const DecoderConfig& cfg, bool mixtral) {
  MoeConfig moe;
  moe.mixtral_names = mixtral;
  // qwen3_moe's hub configs say num_experts, transformers 5 writes num_local_experts.
  const char* count = mixtral || !has(root, "num_experts") ? "num_local_experts" : "num_experts";
  moe.experts = positive_int(root, count, label, mixtral ? 8 : 128);
  moe.top_k = positive_int(root, "num_experts_per_tok", label, mixtral ? 2 : 8);
  if (moe.top_k > moe.experts)
    throw Error(label + ": num_experts_per_tok " + std::to_string(moe.top_k) + " is more than the " +
                std::to_string(moe.experts) + " experts");
  moe.expert_intermediate_size =
      mixtral ? cfg.intermediate_size : positive_int(root, "moe_intermediate_size", label, 768);
  moe.normalize_top_k = mixtral || boolean(root, "norm_topk_prob", label, false);
  moe.layer_moe.assign(static_cast<size_t>(cfg.num_layers), true);
  if (!mixtral) {
    const int64_t step = positive_int(root, "decoder_sparse_step", label, 1);
    for (int64_t l = 0; l < cfg.num_layers; ++l) moe.layer_moe[static_cast<size_t>(l)] = (l + 1) % step == 0;
    if (has(root, "mlp_only_layers")) {
      const json& dense = root["mlp_only_layers"];
      if (!dense.is_array()) throw Error(label + ": \"mlp_only_layers\" is not a list of layer indices");
      for (const json& l : dense) {
        if (!l.is_number_integer() || l.get<int64_t>() < 0 || l.get<int64_t>() >= cfg.num_layers)
          throw Error(label + ": \"mlp_only_layers\" holds " + l.dump() + ", not a layer index below " +
                      std::to_string(cfg.num_layers));
        moe.layer_moe[static_cast<size_t>(l.get<int64_t>())] = false;
      }
    }
  }
  return moe;
}

// layer_types: which layers are sliding_attention.
void read_layer_types(const json& root, const std::string& label, DecoderConfig& cfg) {
  const json& types = root["layer_types"];
  if (!types.is_array() || types.size() != cfg.layer_sliding.size())
    throw Error(label + ": \"layer_types\" is not a list of " + std::to_string(cfg.num_layers) +
                " layer types");
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
    if (t != "full_attention" && t != "sliding_attention")
      throw Error(label + ": \"layer_types\" entry " + std::to_string(i) +
                  " is not \"full_attention\" or \"sliding_attention\"");
    cfg.layer_sliding[i] = t == "sliding_attention";
  }
}

// Which layers use the sliding window, by transformers' rules per family:
// llama never; mistral every layer when sliding_window is set (absent means
// 4096); phi3 and mixtral every layer when sliding_window is set (absent
// means none); gemma2 every other layer, gemma3 five of six (layer_types);
// qwen3_moe every layer
// with use_sliding_window; qwen2 and
// qwen3 only with use_sliding_window, on the layers layer_types
// marks (or, without it, layers from max_window_layers on).
void read_sliding(const json& root, const std::string& label, DecoderConfig& cfg) {
  cfg.layer_sliding.assign(static_cast<size_t>(cfg.num_layers), false);
  if (cfg.model_type == "llama") return;
  if (cfg.model_type == "mistral") {
    if (root.contains("sliding_window") && root["sliding_window"].is_null()) return;
    cfg.sliding_window = positive_int(root, "sliding_window", label, 4096);
    cfg.layer_sliding.assign(cfg.layer_sliding.size(), true);
    return;
  }
  if (cfg.model_type == "gemma2" || cfg.model_type == "gemma3_text") {
    // gemma2: every other layer from the first; gemma3: all but every
    // sliding_window_pattern-th (6); layer_types, when given, says which.
    cfg.sliding_window = positive_int(root, "sliding_window", label, 4096);
    const int64_t pattern =
        cfg.model_type == "gemma2" ? 2 : positive_int(root, "sliding_window_pattern", label, 6);
    for (size_t i = 0; i < cfg.layer_sliding.size(); ++i)
      cfg.layer_sliding[i] = (static_cast<int64_t>(i) + 1) % pattern != 0;
    if (has(root, "layer_types")) read_layer_types(root, label, cfg);
    return;
  }
  if (cfg.model_type == "qwen3_moe") {
    if (!boolean(root, "use_sliding_window", label, false)) return;
    cfg.sliding_window = positive_int(root, "sliding_window", label, 4096);
    cfg.layer_sliding.assign(cfg.layer_sliding.size(), true);
    return;
  }
  if (cfg.model_type == "phi3" || cfg.model_type == "mixtral") {
    if (!has(root, "sliding_window")) return;
    cfg.sliding_window = positive_int(root, "sliding_window", label);
    cfg.layer_sliding.assign(cfg.layer_sliding.size(), true);
    return;
  }
  if (boolean(root, "use_sliding_window", label, false))
    cfg.sliding_window = positive_int(root, "sliding_window", label, 4096);
  if (has(root, "layer_types")) {
    read_layer_types(root, label, cfg);
    for (bool s : cfg.layer_sliding)
      if (s && !cfg.sliding_window)
        throw Error(label + ": \"layer_types\" has sliding_attention layers but "
                            "use_sliding_window is false, so there is no window");
  } else if (cfg.sliding_window) {
    const int64_t first = positive_int(root, "max_window_layers", label, 28);
    for (int64_t i = first; i < cfg.num_layers; ++i) cfg.layer_sliding[static_cast<size_t>(i)] = true;
  }
  bool any = false;
  for (bool s : cfg.layer_sliding) any = any || s;
  if (!any) cfg.sliding_window.reset();
}

}  // namespace

DecoderConfig read_decoder_config(const std::filesystem::path& config_json) {
  const std::string label = config_json.string();
  const json root = read_json_object(config_json);
  if (!root.contains("model_type") || !root["model_type"].is_string())
    throw Error(label + ": no \"model_type\" string (supported: " + kSupportedTypes + ")");

  DecoderConfig cfg;
  cfg.model_type = root["model_type"].get<std::string>();
  const bool llama = cfg.model_type == "llama", mistral = cfg.model_type == "mistral";
  const bool qwen2 = cfg.model_type == "qwen2", qwen3 = cfg.model_type == "qwen3";
  const bool phi3 = cfg.model_type == "phi3", mixtral = cfg.model_type == "mixtral";
  const bool qwen3_moe = cfg.model_type == "qwen3_moe", gemma2 = cfg.model_type == "gemma2";
  const bool gemma3 = cfg.model_type == "gemma3_text", gemma = gemma2 || gemma3;
  if (!llama && !mistral && !qwen2 && !qwen3 && !phi3 && !mixtral && !qwen3_moe && !gemma)
    throw Error(label + ": model_type '" + cfg.model_type +
                "' is not a supported decoder (supported: " + kSupportedTypes + ")");
  // gemma names its MLP activation hidden_activation (tanh GELU); the rest SiLU.
  const char* act_key = gemma ? "hidden_activation" : "hidden_act";
  const char* act = gemma ? "gelu_pytorch_tanh" : "silu";
  if (has(root, act_key) && (!root[act_key].is_string() || root[act_key].get<std::string>() != act))
    throw Error(label + ": " + act_key + " " + root[act_key].dump() + " is not supported (supported: \"" +
                act + "\")");

  // Sizes have no sensible default: every saved config has them.
  cfg.hidden_size = positive_int(root, "hidden_size", label);
  cfg.intermediate_size = positive_int(root, "intermediate_size", label);
  cfg.num_layers = positive_int(root, "num_hidden_layers", label);
  cfg.num_heads = positive_int(root, "num_attention_heads", label);
  cfg.vocab_size = positive_int(root, "vocab_size", label);
  // The family defaults of transformers' config classes for the rest.
  const int64_t kv_default = (mistral || mixtral) ? 8 : (qwen2 || qwen3) ? 32
                             : (qwen3_moe || gemma) ? 4 : cfg.num_heads;
  cfg.num_kv_heads = positive_int(root, "num_key_value_heads", label, kv_default);
  cfg.head_dim = positive_int(root, "head_dim", label,
                              qwen3 ? 128 : gemma ? 256 : cfg.hidden_size / cfg.num_heads);
  if (cfg.num_heads % cfg.num_kv_heads != 0)
    throw Error(label + ": num_attention_heads " + std::to_string(cfg.num_heads) +
                " is not a multiple of num_key_value_heads " + std::to_string(cfg.num_kv_heads));
  if (cfg.head_dim % 2 != 0)
    throw Error(label + ": head_dim " + std::to_string(cfg.head_dim) + " is odd; RoPE needs pairs");
  cfg.max_position_embeddings = positive_int(root, "max_position_embeddings", label,
                                             (mistral || mixtral) ? 4096 * 32
                                             : (qwen2 || qwen3 || qwen3_moe) ? 32768
                                             : phi3 ? 4096 : gemma2 ? 8192
                                             : gemma3 ? 131072 : 2048);
  cfg.rms_norm_eps = number(root, "rms_norm_eps", label, (phi3 || mixtral) ? 1e-5 : 1e-6);
  cfg.tie_word_embeddings = boolean(root, "tie_word_embeddings", label, gemma);
  const bool attention_bias =
      (llama || qwen3 || qwen3_moe) && boolean(root, "attention_bias", label, false);
  cfg.qkv_bias = qwen2 || attention_bias;
  cfg.o_bias = attention_bias;
  cfg.qk_norm = qwen3 || qwen3_moe || gemma3;
  cfg.fused = phi3;
  cfg.mlp_bias = llama && boolean(root, "mlp_bias", label, false);
  if (gemma3) {
    if (boolean(root, "use_bidirectional_attention", label, false))
      throw Error(label + ": use_bidirectional_attention (an embedding Gemma) is not a causal LM");
    read_gemma3_rope(root, label, cfg);
  } else {
    cfg.rope = read_rope(root, label, cfg.max_position_embeddings, mixtral ? 1e6 : 10000.0);
  }
  if (mixtral || qwen3_moe) cfg.moe = read_moe(root, label, cfg, mixtral);
  cfg.attention_scale = 1.0 / std::sqrt(static_cast<double>(cfg.head_dim));
  if (gemma) {
    cfg.gemma = true;
    cfg.embed_scale = std::sqrt(static_cast<double>(cfg.hidden_size));
    cfg.attention_scale = std::pow(number(root, "query_pre_attn_scalar", label, 256.0), -0.5);
    // gemma2 caps by default (50, 30), gemma3 does not.
    const auto softcap = [&](const char* key, std::optional<double> fallback) -> std::optional<double> {
      if (!has(root, key)) return root.contains(key) ? std::nullopt : fallback;
      const double cap = number(root, key, label, 0);
      if (!(cap > 0)) throw Error(label + ": \"" + key + "\" is not a positive number");
      return cap;
    };
    cfg.attn_softcap = softcap("attn_logit_softcapping", gemma2 ? std::optional(50.0) : std::nullopt);
    cfg.final_softcap = softcap("final_logit_softcapping", gemma2 ? std::optional(30.0) : std::nullopt);
  }
  const double rotary = static_cast<double>(cfg.head_dim) * cfg.rope.partial_rotary_factor;
  if (static_cast<int64_t>(rotary) % 2 != 0)
    throw Error(label + ": partial_rotary_factor leaves an odd number of rotary dimensions");
  read_sliding(root, label, cfg);
  return cfg;
}

}  // namespace cocktail
