#pragma once
// config.json of an encoder-decoder checkpoint (t5, mt5: T5, Flan-T5, mT5),
// read as transformers 5's T5Config / MT5Config read it, so an older config
// means the same model here as there.
#include <cstdint>
#include <filesystem>
#include <string>

namespace cocktail {

struct T5Config {
  std::string model_type;  // "t5" or "mt5"
  int64_t d_model = 0, d_kv = 0, d_ff = 0, num_heads = 0, vocab_size = 0;
  int64_t encoder_layers = 0, decoder_layers = 0;  // num_layers, num_decoder_layers
  int64_t num_buckets = 32, max_distance = 128;    // relative attention
  double layer_norm_epsilon = 1e-6;
  // feed_forward_proj "relu" (T5) or "gated-gelu" (T5 v1.1, Flan-T5, mT5):
  // act(wi x) or act(wi_0 x) * wi_1 x before wo.
  bool gated = false;
  std::string activation = "relu";  // relu, gelu, gelu_new, gelu_pytorch_tanh, silu
  // Original T5 ties its output to the embedding and scales the decoder's
  // last hidden states by d_model^-0.5; T5 v1.1 / Flan-T5 ("tie_word_embeddings":
  // false) and mT5 do not.
  bool scale_decoder_outputs = true;
  int64_t decoder_start_token_id = 0, pad_token_id = 0;

  int64_t inner_dim() const { return num_heads * d_kv; }
};

// Throws cocktail::Error naming the file and the key; an unsupported
// activation is named with the supported ones.
T5Config read_t5_config(const std::filesystem::path& config_json);

}  // namespace cocktail
