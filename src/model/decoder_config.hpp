#pragma once
// config.json of a decoder checkpoint (llama, mistral, qwen2, qwen3, phi3,
// mixtral, qwen3_moe, gemma2, gemma3_text), read with the
// defaults transformers applies when a key is absent, so a config saved by an
// older transformers means the same model here as it does there.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cocktail {

// The rope_scaling types llama, mistral and qwen2 configs use. Others (yarn,
// longrope) are refused by name rather than silently computed as plain RoPE.
enum class RopeType { Default, Linear, Dynamic, Llama3 };

struct RopeConfig {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  // Share of each head's dimensions that rotate (phi3, phi-4-mini 0.75); the
  // rest pass through.
  double partial_rotary_factor = 1.0;
  double factor = 1.0;  // linear, dynamic, llama3
  // llama3 only: the frequency band that is smoothly interpolated.
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
};

// Mixture of experts (mixtral, qwen3_moe): a router picks top_k of `experts`
// feed-forward experts per token, weighted by their softmax probabilities.
struct MoeConfig {
  int64_t experts = 0, top_k = 0, expert_intermediate_size = 0;
  bool normalize_top_k = true;  // mixtral always; qwen3_moe with norm_topk_prob
  bool mixtral_names = false;   // block_sparse_moe.experts.E.w1/w3/w2, else mlp.experts.E.*_proj
  std::vector<bool> layer_moe;  // per layer: experts, else a dense MLP (qwen3_moe mlp_only_layers)
};

struct DecoderConfig {
  std::string model_type;  // "llama", "mistral", "qwen2", "qwen3", "phi3", "mixtral", "qwen3_moe", "gemma2", "gemma3_text"
  int64_t hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0, vocab_size = 0;
  int64_t max_position_embeddings = 0;  // dynamic RoPE scales beyond it
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  std::optional<RopeConfig> sliding_rope;  // gemma3: the sliding layers' own RoPE
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // qwen2 always; llama and qwen3 with attention_bias
  bool o_bias = false;    // llama and qwen3 with attention_bias
  bool qk_norm = false;   // qwen3: RMSNorm of each query and key head
  bool fused = false;     // phi3: qkv_proj and gate_up_proj, each one matrix
  std::optional<MoeConfig> moe;
  // gemma2, gemma3_text: norm weights stored as offsets from 1 ((1 + w) * normalised), the
  // attention and MLP outputs normalised too (post_attention_layernorm,
  // post_feedforward_layernorm; pre_feedforward_layernorm before the MLP),
  // embeddings times sqrt(hidden_size), a tanh-GELU MLP, scores scaled by
  // query_pre_attn_scalar^-0.5 and soft-capped (tanh(x / cap) * cap) in the
  // attention and at the output.
  bool gemma = false;
  double embed_scale = 1.0;
  double attention_scale = 0;  // the factor of q . k
  std::optional<double> attn_softcap, final_softcap;
  bool mlp_bias = false;  // llama with mlp_bias
  // Window of the layers that use one (a token sees itself and the
  // sliding_window - 1 tokens before it); nullopt when no layer does.
  std::optional<int64_t> sliding_window;
  std::vector<bool> layer_sliding;  // per layer: does sliding_window apply
};

// Throws cocktail::Error naming the file and the key; an unsupported
// model_type, hidden_act or RoPE type is named with the supported ones.
DecoderConfig read_decoder_config(const std::filesystem::path& config_json);

}  // namespace cocktail
