#include "model/encoder_layer.hpp"

#include <cmath>
#include <limits>

namespace cocktail {
namespace {

// [B, T, heads * head_dim] -> [B, heads, T, head_dim]
torch::Tensor split_heads(const torch::Tensor& x, int64_t head_dim) {
  return x.view({x.size(0), x.size(1), -1, head_dim}).transpose(1, 2);
}

torch::Tensor self_attention(const torch::Tensor& x, const EncoderLayerWeights& w,
                             const EncoderConfig& cfg, const torch::Tensor& allowed) {
  const int64_t b = x.size(0), t = x.size(1);
  const torch::Tensor q = split_heads(torch::linear(x, w.q, w.q_bias), cfg.head_dim);
  const torch::Tensor k = split_heads(torch::linear(x, w.k, w.k_bias), cfg.head_dim);
  const torch::Tensor v = split_heads(torch::linear(x, w.v, w.v_bias), cfg.head_dim);
  const double scaling = 1.0 / std::sqrt(static_cast<double>(cfg.head_dim));
  torch::Tensor scores = torch::matmul(q, k.transpose(2, 3)) * scaling;
  // The lowest float, as transformers' additive mask: padded keys get zero
  // weight, and a row without any real key stays finite.
  scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
  const torch::Tensor probs = torch::softmax(scores, -1);
  return torch::matmul(probs, v).transpose(1, 2).reshape({b, t, -1});
}

}  // namespace

torch::Tensor encoder_position_ids(const torch::Tensor& input_ids, const EncoderConfig& cfg) {
  if (cfg.model_type == "xlm-roberta") {
    const torch::Tensor real = input_ids.ne(cfg.pad_token_id).to(torch::kLong);
    return torch::cumsum(real, 1) * real + cfg.pad_token_id;
  }
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(input_ids.device());
  return torch::arange(input_ids.size(1), opts).unsqueeze(0).expand_as(input_ids).contiguous();
}

torch::Tensor encoder_attention_allowed(const torch::Tensor& attention_mask) {
  return attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(1);
}

torch::Tensor encoder_layer(const torch::Tensor& hidden, const EncoderLayerWeights& w,
                            const EncoderConfig& cfg, const torch::Tensor& allowed) {
  const int64_t h = cfg.hidden_size;
  const torch::Tensor attended = torch::linear(self_attention(hidden, w, cfg, allowed), w.attn_out,
                                               w.attn_out_bias);
  const torch::Tensor x =
      torch::layer_norm(attended + hidden, {h}, w.attn_norm, w.attn_norm_bias, cfg.layer_norm_eps);
  // torch::gelu's default is the exact erf form, transformers' "gelu".
  const torch::Tensor ff =
      torch::linear(torch::gelu(torch::linear(x, w.inter, w.inter_bias)), w.out, w.out_bias);
  return torch::layer_norm(ff + x, {h}, w.out_norm, w.out_norm_bias, cfg.layer_norm_eps);
}

}  // namespace cocktail
