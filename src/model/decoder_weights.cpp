#include "model/decoder_weights.hpp"

#include <array>

#include "core/error.hpp"
#include "model/tensor_loader.hpp"
#include "io/safetensors.hpp"

namespace cocktail {
namespace {

std::string layer_prefix(int64_t layer) { return "model.layers." + std::to_string(layer) + "."; }

bool is_moe_layer(const DecoderConfig& cfg, int64_t layer) {
  return cfg.moe && cfg.moe->layer_moe[static_cast<size_t>(layer)];
}

std::string router_name(const DecoderConfig& cfg, int64_t layer) {
  return layer_prefix(layer) + (cfg.moe->mixtral_names ? "block_sparse_moe.gate.weight" : "mlp.gate.weight");
}

// gate, up, down of expert e (mixtral's w1, w3, w2).
std::array<std::string, 3> expert_names(const DecoderConfig& cfg, int64_t layer, int64_t e) {
  const std::string p = layer_prefix(layer);
  if (cfg.moe->mixtral_names) {
    const std::string x = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
    return {x + "w1.weight", x + "w3.weight", x + "w2.weight"};
  }
  const std::string x = p + "mlp.experts." + std::to_string(e) + ".";
  return {x + "gate_proj.weight", x + "up_proj.weight", x + "down_proj.weight"};
}

}  // namespace

std::vector<TensorSpec> layer_tensor_specs(const DecoderConfig& cfg, int64_t layer) {
  const std::string p = layer_prefix(layer);
  const int64_t h = cfg.hidden_size, i = cfg.intermediate_size;
  const int64_t q = cfg.num_heads * cfg.head_dim, kv = cfg.num_kv_heads * cfg.head_dim;
  std::vector<TensorSpec> s = {{p + "input_layernorm.weight", {h}}};
  if (cfg.fused) {
    s.push_back({p + "self_attn.qkv_proj.weight", {q + 2 * kv, h}});
  } else {
    s.push_back({p + "self_attn.q_proj.weight", {q, h}});
    s.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    s.push_back({p + "self_attn.v_proj.weight", {kv, h}});
  }
  s.push_back({p + "self_attn.o_proj.weight", {h, q}});
  s.push_back({p + "post_attention_layernorm.weight", {h}});
  if (cfg.gemma) {
    s.push_back({p + "pre_feedforward_layernorm.weight", {h}});
    s.push_back({p + "post_feedforward_layernorm.weight", {h}});
  }
  if (is_moe_layer(cfg, layer)) {
    const int64_t e = cfg.moe->experts, ei = cfg.moe->expert_intermediate_size;
    s.push_back({router_name(cfg, layer), {e, h}});
    for (int64_t x = 0; x < e; ++x) {
      const auto [gate, up, down] = expert_names(cfg, layer, x);
      s.push_back({gate, {ei, h}});
      s.push_back({up, {ei, h}});
      s.push_back({down, {h, ei}});
    }
  } else {
    if (cfg.fused) {
      s.push_back({p + "mlp.gate_up_proj.weight", {2 * i, h}});
    } else {
      s.push_back({p + "mlp.gate_proj.weight", {i, h}});
      s.push_back({p + "mlp.up_proj.weight", {i, h}});
    }
    s.push_back({p + "mlp.down_proj.weight", {h, i}});
  }
  if (cfg.qkv_bias) {
    s.push_back({p + "self_attn.q_proj.bias", {q}});
    s.push_back({p + "self_attn.k_proj.bias", {kv}});
    s.push_back({p + "self_attn.v_proj.bias", {kv}});
  }
  if (cfg.o_bias) s.push_back({p + "self_attn.o_proj.bias", {h}});
  if (cfg.qk_norm) {
    s.push_back({p + "self_attn.q_norm.weight", {cfg.head_dim}});
    s.push_back({p + "self_attn.k_norm.weight", {cfg.head_dim}});
  }
  if (cfg.mlp_bias) {
    s.push_back({p + "mlp.gate_proj.bias", {i}});
    s.push_back({p + "mlp.up_proj.bias", {i}});
    s.push_back({p + "mlp.down_proj.bias", {h}});
  }
  return s;
}

std::string output_matrix_name(const DecoderConfig& cfg) {
  return cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
}

std::vector<TensorSpec> decoder_tensor_specs(const DecoderConfig& cfg) {
  std::vector<TensorSpec> all = {{"model.embed_tokens.weight", {cfg.vocab_size, cfg.hidden_size}}};
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    for (TensorSpec& s : layer_tensor_specs(cfg, l)) all.push_back(std::move(s));
  }
  all.push_back({"model.norm.weight", {cfg.hidden_size}});
  if (!cfg.tie_word_embeddings) all.push_back({"lm_head.weight", {cfg.vocab_size, cfg.hidden_size}});
  return all;
}

void check_tensor_shapes(const Checkpoint& ckpt, const std::vector<TensorSpec>& specs,
                         const std::string& model_type) {
  for (const TensorSpec& s : specs) {
    const CheckpointTensor& t = require_tensor(ckpt, s.name);
    const std::vector<uint64_t> want(s.shape.begin(), s.shape.end());
    if (t.info.shape != want)
      throw Error(ckpt.path().string() + ": tensor '" + s.name + "' has shape " + format_shape(t.info.shape) +
                  " but config.json (" + model_type + ") implies " + format_shape(want));
  }
}

void check_decoder_tensors(const Checkpoint& ckpt, const DecoderConfig& cfg) {
  check_tensor_shapes(ckpt, decoder_tensor_specs(cfg), cfg.model_type);
}

torch::Tensor WeightStream::hold(torch::Tensor t, uint64_t stored_bytes) {
  const int64_t bytes = t.numel() * static_cast<int64_t>(sizeof(float));
  bytes_read_ += stored_bytes;
  // While a BF16/F16 tensor is converted, its stored copy is alive beside it
  // (none when a mixture served it from its cache).
  const int64_t staging =
      stored_bytes == static_cast<uint64_t>(bytes) ? 0 : static_cast<int64_t>(stored_bytes);
  peak_bytes_ = std::max(peak_bytes_, held_bytes_ + bytes + staging);
  held_bytes_ += bytes;
  held_.push_back(t);
  return t;
}

torch::Tensor WeightStream::load(const std::string& name) {
  uint64_t read = 0;
  torch::Tensor t = source_.tensor(name, device_, read);
  return hold(std::move(t), read);
}

torch::Tensor WeightStream::load_rows(const std::string& name, int64_t begin, int64_t end) {
  uint64_t read = 0;
  torch::Tensor t = source_.rows(name, begin, end, device_, read);
  return hold(std::move(t), read);
}

void WeightStream::release() {
  std::vector<torch::Tensor> still;
  held_bytes_ = 0;
  for (torch::Tensor& t : held_) {
    // Our reference is one; a caller's copy of the tensor or a view of its
    // storage is another, and keeps the memory alive.
    if (t.use_count() > 1 || t.storage().use_count() > 1) {
      held_bytes_ += t.numel() * static_cast<int64_t>(sizeof(float));
      still.push_back(std::move(t));
    }
  }
  held_ = std::move(still);
}

torch::Tensor norm_weight(const DecoderConfig& cfg, torch::Tensor w) {
  return cfg.gemma ? w + 1 : w;
}

LayerWeights load_layer(WeightStream& stream, const DecoderConfig& cfg, int64_t layer) {
  const std::string p = layer_prefix(layer);
  LayerWeights w;
  w.input_norm = norm_weight(cfg, stream.load(p + "input_layernorm.weight"));
  if (cfg.fused) {
    // phi3's fused matrices: rows [q | k | v] and [gate | up], split as views.
    const int64_t q = cfg.num_heads * cfg.head_dim, kv = cfg.num_kv_heads * cfg.head_dim;
    const torch::Tensor qkv = stream.load(p + "self_attn.qkv_proj.weight");
    w.q = qkv.narrow(0, 0, q);
    w.k = qkv.narrow(0, q, kv);
    w.v = qkv.narrow(0, q + kv, kv);
  } else {
    w.q = stream.load(p + "self_attn.q_proj.weight");
    w.k = stream.load(p + "self_attn.k_proj.weight");
    w.v = stream.load(p + "self_attn.v_proj.weight");
  }
  w.o = stream.load(p + "self_attn.o_proj.weight");
  if (cfg.qkv_bias) {
    w.q_bias = stream.load(p + "self_attn.q_proj.bias");
    w.k_bias = stream.load(p + "self_attn.k_proj.bias");
    w.v_bias = stream.load(p + "self_attn.v_proj.bias");
  }
  if (cfg.o_bias) w.o_bias = stream.load(p + "self_attn.o_proj.bias");
  if (cfg.qk_norm) {
    w.q_norm = norm_weight(cfg, stream.load(p + "self_attn.q_norm.weight"));
    w.k_norm = norm_weight(cfg, stream.load(p + "self_attn.k_norm.weight"));
  }
  if (cfg.gemma) {
    // The MLP's input norm is pre_feedforward_layernorm; post_attention_layernorm
    // normalises the attention's output.
    w.attn_out_norm = norm_weight(cfg, stream.load(p + "post_attention_layernorm.weight"));
    w.post_norm = norm_weight(cfg, stream.load(p + "pre_feedforward_layernorm.weight"));
    w.mlp_out_norm = norm_weight(cfg, stream.load(p + "post_feedforward_layernorm.weight"));
  } else {
    w.post_norm = stream.load(p + "post_attention_layernorm.weight");
  }
  if (is_moe_layer(cfg, layer)) {
    w.router = stream.load(router_name(cfg, layer));
    for (int64_t x = 0; x < cfg.moe->experts; ++x) {
      const auto [gate, up, down] = expert_names(cfg, layer, x);
      w.experts.push_back({stream.load(gate), stream.load(up), stream.load(down)});
    }
    return w;
  }
  if (cfg.fused) {
    const torch::Tensor gate_up = stream.load(p + "mlp.gate_up_proj.weight");
    w.gate = gate_up.narrow(0, 0, cfg.intermediate_size);
    w.up = gate_up.narrow(0, cfg.intermediate_size, cfg.intermediate_size);
  } else {
    w.gate = stream.load(p + "mlp.gate_proj.weight");
    w.up = stream.load(p + "mlp.up_proj.weight");
  }
  w.down = stream.load(p + "mlp.down_proj.weight");
  if (cfg.mlp_bias) {
    w.gate_bias = stream.load(p + "mlp.gate_proj.bias");
    w.up_bias = stream.load(p + "mlp.up_proj.bias");
    w.down_bias = stream.load(p + "mlp.down_proj.bias");
  }
  return w;
}

}  // namespace cocktail
