#include "model/t5_layer.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "model/decoder_layer.hpp"

namespace cocktail {
namespace {

// [B, T, heads * d_kv] -> [B, heads, T, d_kv]
torch::Tensor split_heads(const torch::Tensor& x, int64_t d_kv) {
  return x.view({x.size(0), x.size(1), -1, d_kv}).transpose(1, 2);
}

// queries from x, keys and values from kv (x itself, or the encoder's output).
torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& kv, const T5AttentionWeights& w,
                        const T5Config& cfg, const torch::Tensor& bias, const torch::Tensor& allowed) {
  const int64_t b = x.size(0), t = x.size(1);
  const torch::Tensor q = split_heads(torch::linear(x, w.q), cfg.d_kv);
  const torch::Tensor k = split_heads(torch::linear(kv, w.k), cfg.d_kv);
  const torch::Tensor v = split_heads(torch::linear(kv, w.v), cfg.d_kv);
  torch::Tensor scores = torch::matmul(q, k.transpose(2, 3));
  if (bias.defined()) scores = scores + bias;
  // The lowest float, as transformers' additive mask: masked keys get zero
  // weight, and a row without any allowed key stays finite.
  scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
  const torch::Tensor out = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({b, t, -1});
  return torch::linear(out, w.o);
}

torch::Tensor activation(const torch::Tensor& x, const std::string& name) {
  if (name == "relu") return torch::relu(x);
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "silu") return torch::silu(x);
  // gelu_new, written as transformers' NewGELUActivation writes it.
  const double c = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + torch::tanh(c * (x + 0.044715 * torch::pow(x, 3.0))));
}

torch::Tensor feed_forward(const torch::Tensor& x, const T5BlockWeights& w, const T5Config& cfg) {
  const torch::Tensor inner = cfg.gated
                                  ? activation(torch::linear(x, w.wi_0), cfg.activation) * torch::linear(x, w.wi_1)
                                  : activation(torch::linear(x, w.wi), cfg.activation);
  return torch::linear(inner, w.wo);
}

}  // namespace

torch::Tensor t5_relative_buckets(int64_t q_len, int64_t k_len, bool bidirectional, int64_t num_buckets,
                                  int64_t max_distance, torch::Device device) {
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  torch::Tensor relative = torch::arange(k_len, opts).unsqueeze(0) - torch::arange(q_len, opts).unsqueeze(1);
  torch::Tensor buckets = torch::zeros_like(relative);
  if (bidirectional) {
    num_buckets /= 2;
    buckets += relative.gt(0).to(torch::kLong) * num_buckets;
    relative = relative.abs();
  } else {
    relative = -torch::minimum(relative, torch::zeros_like(relative));
  }
  const int64_t max_exact = num_buckets / 2;
  const torch::Tensor small = relative.lt(max_exact);
  // In float32, as transformers: the casts decide the bucket boundaries. The
  // log of distance 0 is -inf, but those positions take the exact branch.
  torch::Tensor large =
      max_exact + (torch::log(relative.to(torch::kFloat) / max_exact) /
                   std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
                   (num_buckets - max_exact))
                      .to(torch::kLong);
  large = torch::minimum(large, torch::full_like(large, num_buckets - 1));
  return buckets + torch::where(small, relative, large);
}

torch::Tensor t5_position_bias(const torch::Tensor& relative_bias, const torch::Tensor& buckets) {
  return torch::embedding(relative_bias, buckets).permute({2, 0, 1}).unsqueeze(0);
}

torch::Tensor t5_block(const torch::Tensor& hidden, const T5BlockWeights& w, const T5Config& cfg,
                       const torch::Tensor& position_bias, const torch::Tensor& self_allowed,
                       const torch::Tensor& encoder_out, const torch::Tensor& cross_allowed) {
  const double eps = cfg.layer_norm_epsilon;
  const torch::Tensor n = rms_norm(hidden, w.self.norm, eps);
  torch::Tensor h = hidden + attention(n, n, w.self, cfg, position_bias, self_allowed);
  if (encoder_out.defined())
    h = h + attention(rms_norm(h, w.cross.norm, eps), encoder_out, w.cross, cfg, {}, cross_allowed);
  return h + feed_forward(rms_norm(h, w.ff_norm, eps), w, cfg);
}

}  // namespace cocktail
