#include "model/decoder_layer.hpp"

#include <cmath>
#include <limits>

namespace cocktail {
namespace {

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  return bias.defined() ? torch::linear(x, w, bias) : torch::linear(x, w);
}

// [B, T, heads * head_dim] -> [B, heads, T, head_dim]
torch::Tensor split_heads(const torch::Tensor& x, int64_t head_dim) {
  return x.view({x.size(0), x.size(1), -1, head_dim}).transpose(1, 2);
}

// Grouped-query attention: each key/value head serves num_heads / num_kv_heads
// consecutive query heads (transformers' repeat_kv).
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const int64_t b = x.size(0), kv = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, kv, n_rep, t, d}).reshape({b, kv * n_rep, t, d});
}

// Queries or keys as heads, each head RMS-normalised first where the family
// does it (qwen3: over head_dim, before RoPE).
torch::Tensor heads(const torch::Tensor& projected, const torch::Tensor& norm, const DecoderConfig& cfg) {
  torch::Tensor h = split_heads(projected, cfg.head_dim);
  return norm.defined() ? rms_norm(h, norm, cfg.rms_norm_eps) : h;
}

torch::Tensor attention(const torch::Tensor& x, const LayerWeights& w, const DecoderConfig& cfg,
                        const RopeTables& rope, const torch::Tensor& allowed) {
  const int64_t b = x.size(0), t = x.size(1);
  const torch::Tensor q = apply_rope(heads(linear(x, w.q, w.q_bias), w.q_norm, cfg), rope);
  const torch::Tensor k = apply_rope(heads(linear(x, w.k, w.k_bias), w.k_norm, cfg), rope);
  const torch::Tensor v = split_heads(linear(x, w.v, w.v_bias), cfg.head_dim);
  const int64_t n_rep = cfg.num_heads / cfg.num_kv_heads;

  torch::Tensor scores = torch::matmul(q, repeat_kv(k, n_rep).transpose(2, 3)) * cfg.attention_scale;
  if (cfg.attn_softcap) scores = torch::tanh(scores / *cfg.attn_softcap) * *cfg.attn_softcap;
  // The lowest float, not -inf, as transformers' masks: a row with no allowed
  // key (all padding) becomes uniform instead of NaN, and is not scored.
  scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
  const torch::Tensor probs = torch::softmax(scores, -1);
  const torch::Tensor out = torch::matmul(probs, repeat_kv(v, n_rep)).transpose(1, 2).reshape({b, t, -1});
  return linear(out, w.o, w.o_bias);
}

torch::Tensor mlp(const torch::Tensor& x, const LayerWeights& w, const DecoderConfig& cfg) {
  const torch::Tensor g = linear(x, w.gate, w.gate_bias);
  return linear((cfg.gemma ? torch::gelu(g, "tanh") : torch::silu(g)) * linear(x, w.up, w.up_bias), w.down,
                w.down_bias);
}

torch::Tensor maybe_norm(const torch::Tensor& x, const torch::Tensor& norm, double eps) {
  return norm.defined() ? rms_norm(x, norm, eps) : x;
}

// transformers' MoE block: router softmax in float32, the top_k experts per
// token (renormalised where the family does), each expert's output times its
// weight added into the token's row, experts in index order.
torch::Tensor experts(const torch::Tensor& x, const LayerWeights& w, const MoeConfig& moe) {
  const torch::Tensor flat = x.reshape({-1, x.size(-1)});
  const torch::Tensor probs = torch::softmax(torch::linear(flat, w.router).to(torch::kFloat), -1);
  auto [top_weights, top_index] = torch::topk(probs, moe.top_k, -1);
  if (moe.normalize_top_k) top_weights = top_weights / top_weights.sum(-1, /*keepdim=*/true);
  torch::Tensor out = torch::zeros_like(flat);
  for (int64_t e = 0; e < moe.experts; ++e) {
    const torch::Tensor hit = top_index.eq(e);  // [tokens, top_k]
    // (position in the top_k, token) pairs, ordered as transformers' torch.where over [top_k, tokens]
    const std::vector<torch::Tensor> where = torch::where(hit.transpose(0, 1));
    if (where[0].numel() == 0) continue;
    const torch::Tensor& slot = where[0];
    const torch::Tensor& token = where[1];
    const ExpertWeights& ex = w.experts[static_cast<size_t>(e)];
    const torch::Tensor in = flat.index_select(0, token);
    torch::Tensor y = torch::linear(torch::silu(torch::linear(in, ex.gate)) * torch::linear(in, ex.up), ex.down);
    y = y * top_weights.index({token, slot}).unsqueeze(-1);
    out.index_add_(0, token, y);
  }
  return out.view(x.sizes());
}

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const torch::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x * torch::rsqrt(variance + eps));
}

torch::Tensor attention_allowed(const torch::Tensor& attention_mask, std::optional<int64_t> window) {
  const int64_t t = attention_mask.size(1);
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(attention_mask.device());
  const torch::Tensor q_idx = torch::arange(t, opts).unsqueeze(1);
  const torch::Tensor kv_idx = torch::arange(t, opts).unsqueeze(0);
  torch::Tensor allowed = kv_idx <= q_idx;
  if (window) allowed = allowed.logical_and(kv_idx > q_idx - *window);
  const torch::Tensor key_valid = attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(1);
  return allowed.unsqueeze(0).unsqueeze(0).logical_and(key_valid);
}

torch::Tensor decoder_layer(const torch::Tensor& hidden, const LayerWeights& w,
                            const DecoderConfig& cfg, const RopeTables& rope,
                            const torch::Tensor& allowed) {
  const double eps = cfg.rms_norm_eps;
  const torch::Tensor a = attention(rms_norm(hidden, w.input_norm, eps), w, cfg, rope, allowed);
  const torch::Tensor h = hidden + maybe_norm(a, w.attn_out_norm, eps);
  const torch::Tensor n = rms_norm(h, w.post_norm, eps);
  const torch::Tensor m = w.router.defined() ? experts(n, w, *cfg.moe) : mlp(n, w, cfg);
  return h + maybe_norm(m, w.mlp_out_norm, eps);
}

}  // namespace cocktail
