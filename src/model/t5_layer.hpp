#pragma once
// One T5 block in float32, as transformers' T5Block computes it: pre-norm
// (RMS, no bias) self-attention with the stack's relative position bias and
// no 1/sqrt(d) scaling, in the decoder a pre-norm cross-attention over the
// encoder's output, then a pre-norm feed-forward, each added to the residual.
#include <cstdint>

#include <torch/torch.h>

#include "model/t5_config.hpp"
#include "model/t5_weights.hpp"

namespace cocktail {

// [q_len, k_len] int64 buckets of key position - query position, as
// T5Attention._relative_position_bucket: bidirectional (encoder) splits the
// buckets by sign; half of each side's are exact distances, the rest grow
// logarithmically up to max_distance.
torch::Tensor t5_relative_buckets(int64_t q_len, int64_t k_len, bool bidirectional, int64_t num_buckets,
                                  int64_t max_distance, torch::Device device);

// [1, heads, q_len, k_len] bias added to every block's self-attention scores,
// from block 0's relative_attention_bias [buckets, heads].
torch::Tensor t5_position_bias(const torch::Tensor& relative_bias, const torch::Tensor& buckets);

// hidden [B, T, d_model] -> the block's output of the same shape. `allowed`:
// bool masks broadcastable to [B, heads, T, keys], true where a query may
// attend to a key. encoder_out [B, S, d_model] and cross_allowed only for
// decoder blocks.
torch::Tensor t5_block(const torch::Tensor& hidden, const T5BlockWeights& w, const T5Config& cfg,
                       const torch::Tensor& position_bias, const torch::Tensor& self_allowed,
                       const torch::Tensor& encoder_out = {}, const torch::Tensor& cross_allowed = {});

}  // namespace cocktail
