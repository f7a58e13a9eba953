#pragma once
// Rotary position embedding as transformers computes it for llama, mistral,
// qwen2, qwen3 and phi3: the inverse frequencies of the config's RoPE type, then cos and sin of
// positions 0..T-1 (transformers' positions for a batch without a cache,
// whatever its padding).
#include <cstdint>

#include <torch/torch.h>

#include "model/decoder_config.hpp"

namespace cocktail {

struct RopeTables {
  torch::Tensor cos, sin;  // [T, rotary_dims], float32
};

// The leading dimensions of each head that rotate: head_dim times
// partial_rotary_factor (all of them but for phi3-style partial RoPE).
int64_t rotary_dims(const DecoderConfig& cfg);

// inv_freq [rotary_dims / 2] for a sequence of `seq_len` positions (only dynamic
// RoPE depends on it: beyond max_position_embeddings the base grows).
torch::Tensor rope_inv_freq(const DecoderConfig& cfg, int64_t seq_len, torch::Device device);

RopeTables rope_tables(const DecoderConfig& cfg, int64_t seq_len, torch::Device device);

// x [B, heads, T, head_dim] rotated: x * cos + rotate_half(x) * sin on the
// first rotary_dims dimensions, the rest unchanged.
torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope);

}  // namespace cocktail
