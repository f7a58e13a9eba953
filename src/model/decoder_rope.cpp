#include "model/decoder_rope.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cocktail {
namespace {

// Each step mirrors the float32 tensor operations of transformers'
// modeling_rope_utils (Python `a / t` is t.reciprocal() * a), so the tables
// agree with it to the last bit where the operations allow.
torch::Tensor default_inv_freq(double base, int64_t dim, torch::Device device) {
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const torch::Tensor exponent = torch::arange(0, dim, 2, opts).to(torch::kFloat) / dim;
  return torch::pow(base, exponent).reciprocal();
}

// Llama 3.1: low frequencies (long wavelengths) are divided by `factor`, high
// ones kept, and the band between them interpolated smoothly.
torch::Tensor llama3_inv_freq(const RopeConfig& r, torch::Tensor inv_freq) {
  const double old_context = static_cast<double>(r.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / r.low_freq_factor;
  const double high_freq_wavelen = old_context / r.high_freq_factor;
  const torch::Tensor wavelen = inv_freq.reciprocal() * (2 * std::numbers::pi);
  torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / r.factor, inv_freq);
  const torch::Tensor smooth =
      (wavelen.reciprocal() * old_context - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  const torch::Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
  const torch::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return torch::where(medium, smoothed, scaled);
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

torch::Tensor rope_inv_freq(const DecoderConfig& cfg, int64_t seq_len, torch::Device device) {
  const RopeConfig& r = cfg.rope;
  const int64_t dim = rotary_dims(cfg);
  switch (r.type) {
    case RopeType::Default: return default_inv_freq(r.theta, dim, device);
    case RopeType::Linear: return default_inv_freq(r.theta, dim, device) / r.factor;
    case RopeType::Llama3: return llama3_inv_freq(r, default_inv_freq(r.theta, dim, device));
    case RopeType::Dynamic: {
      // NTK-aware: the base grows with the length beyond max_position_embeddings.
      // transformers keeps the largest length seen by the module across calls;
      // here each batch uses its own length, so results do not depend on order.
      const double len = static_cast<double>(std::max(seq_len, cfg.max_position_embeddings));
      const double max_pos = static_cast<double>(cfg.max_position_embeddings);
      const double d = static_cast<double>(dim);
      const double base = r.theta * std::pow(r.factor * len / max_pos - (r.factor - 1), d / (d - 2));
      return default_inv_freq(base, dim, device);
    }
  }
  return default_inv_freq(r.theta, dim, device);
}

RopeTables rope_tables(const DecoderConfig& cfg, int64_t seq_len, torch::Device device) {
  const torch::Tensor inv_freq = rope_inv_freq(cfg, seq_len, device);
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const torch::Tensor positions = torch::arange(seq_len, opts).to(torch::kFloat);
  const torch::Tensor freqs = positions.unsqueeze(1) * inv_freq.unsqueeze(0);
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

int64_t rotary_dims(const DecoderConfig& cfg) {
  return static_cast<int64_t>(static_cast<double>(cfg.head_dim) * cfg.rope.partial_rotary_factor);
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope) {
  const int64_t rot = rope.cos.size(-1);
  if (rot == x.size(-1)) return x * rope.cos + rotate_half(x) * rope.sin;
  const torch::Tensor r = x.narrow(-1, 0, rot);
  return torch::cat({r * rope.cos + rotate_half(r) * rope.sin, x.narrow(-1, rot, x.size(-1) - rot)}, -1);
}

}  // namespace cocktail
