#pragma once
// One bert / xlm-roberta layer in float32, as transformers computes it in eval
// mode: post-norm self-attention over the non-padding keys, then a post-norm
// GELU (erf) feed-forward, each added to the residual stream.
#include <torch/torch.h>

#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"

namespace cocktail {

// Position ids of a [B, T] batch. BERT: 0..T-1 on every row. XLM-RoBERTa
// (transformers' create_position_ids_from_input_ids): tokens that are not
// pad_token_id count up from pad_token_id + 1, padding gets pad_token_id.
torch::Tensor encoder_position_ids(const torch::Tensor& input_ids, const EncoderConfig& cfg);

// [B, 1, 1, T] bool, true where the key is not padding: every query sees
// every real token of its sequence, in both directions.
torch::Tensor encoder_attention_allowed(const torch::Tensor& attention_mask);

// hidden [B, T, hidden_size] -> the layer's output of the same shape.
torch::Tensor encoder_layer(const torch::Tensor& hidden, const EncoderLayerWeights& w,
                            const EncoderConfig& cfg, const torch::Tensor& allowed);

}  // namespace cocktail
