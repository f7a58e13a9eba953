#pragma once
// config.json of an encoder checkpoint (bert, xlm-roberta: BGE, BGE-M3), read
// with the defaults transformers' BertConfig / XLMRobertaConfig apply when a
// key is absent, so an older config means the same model here as there.
#include <cstdint>
#include <filesystem>
#include <string>

namespace cocktail {

struct EncoderConfig {
  std::string model_type;  // "bert" or "xlm-roberta"
  int64_t hidden_size = 0, intermediate_size = 0, num_layers = 0, num_heads = 0, head_dim = 0;
  int64_t vocab_size = 0, max_position_embeddings = 0, type_vocab_size = 0;
  // XLM-RoBERTa numbers positions from pad_token_id + 1 and gives padding
  // pad_token_id; BERT ignores it (positions 0..T-1).
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";  // exact (erf) GELU, the only one supported
};

// Throws cocktail::Error naming the file and the key; an unsupported
// model_type, hidden_act or position_embedding_type is named with the
// supported ones.
EncoderConfig read_encoder_config(const std::filesystem::path& config_json);

}  // namespace cocktail
