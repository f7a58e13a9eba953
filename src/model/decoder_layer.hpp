#pragma once
// One decoder layer of llama / mistral / qwen2 in float32, as transformers
// computes it: pre-norm attention with grouped-query heads and RoPE, then a
// pre-norm SiLU-gated MLP, each added to the residual stream.
#include <cstdint>
#include <optional>

#include <torch/torch.h>

#include "model/decoder_config.hpp"
#include "model/decoder_rope.hpp"
#include "model/decoder_weights.hpp"

namespace cocktail {

// weight * x * rsqrt(mean(x^2) + eps) over the last dimension.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// [B, 1, T, T] bool, true where query i may attend to key j: j <= i, key j not
// padding, and with a window W also j > i - W (transformers'
// sliding_window_overlay: the token itself and the W - 1 before it).
torch::Tensor attention_allowed(const torch::Tensor& attention_mask, std::optional<int64_t> window);

// hidden [B, T, hidden_size] -> the layer's output of the same shape.
torch::Tensor decoder_layer(const torch::Tensor& hidden, const LayerWeights& w,
                            const DecoderConfig& cfg, const RopeTables& rope,
                            const torch::Tensor& allowed);

}  // namespace cocktail
