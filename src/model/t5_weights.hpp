#pragma once
// Internal to the encoder-decoder forward pass: the names of a t5 / mt5
// checkpoint's tensors, the check that they all exist with the shapes
// config.json implies, and one block's weights read through a WeightStream.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_weights.hpp"
#include "model/t5_config.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

enum class T5Stack { Encoder, Decoder };

// The three [vocab, d_model] matrices as transformers resolves them: the
// encoder's and decoder's embed_tokens and the lm_head are tied to
// shared.weight unless the checkpoint holds them itself (with other values:
// then transformers keeps them apart, and so does this).
struct T5VocabNames {
  std::string encoder_embedding, decoder_embedding, output;
  explicit T5VocabNames(const Checkpoint& ckpt);
};

std::string t5_block_name(T5Stack stack, int64_t block, const std::string& what);

// Names and shapes of one block's tensors (block 0 holds the stack's
// relative position bias, which every block of the stack uses).
std::vector<TensorSpec> t5_block_specs(const T5Config& cfg, T5Stack stack, int64_t block);
// Throws cocktail::Error naming the first tensor that is missing or whose
// shape disagrees with config.json, before a byte of data is read.
void check_t5_tensors(const Checkpoint& ckpt, const T5Config& cfg, const T5VocabNames& vocab);

struct T5AttentionWeights {
  torch::Tensor norm, q, k, v, o;  // norm: the T5LayerNorm before it
};

struct T5BlockWeights {
  T5AttentionWeights self, cross;  // cross: decoder blocks only
  torch::Tensor relative_bias;     // [buckets, heads], block 0 only
  torch::Tensor ff_norm, wi, wi_0, wi_1, wo;  // wi when plain, wi_0 / wi_1 when gated
};

T5BlockWeights load_t5_block(WeightStream& stream, const T5Config& cfg, T5Stack stack, int64_t block);

}  // namespace cocktail
