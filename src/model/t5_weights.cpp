#include "model/t5_weights.hpp"

#include "core/error.hpp"

namespace cocktail {
namespace {

const char* stack_name(T5Stack s) { return s == T5Stack::Encoder ? "encoder" : "decoder"; }

// The sublayer index of each part: decoders put cross-attention between.
int ff_layer(T5Stack s) { return s == T5Stack::Encoder ? 1 : 2; }

std::string attention(T5Stack s, int64_t b, bool cross, const std::string& what) {
  return t5_block_name(s, b, cross ? "layer.1.EncDecAttention." + what : "layer.0.SelfAttention." + what);
}

std::string ff(T5Stack s, int64_t b, const std::string& what) {
  return t5_block_name(s, b, "layer." + std::to_string(ff_layer(s)) + "." + what);
}

std::string own_or_shared(const Checkpoint& ckpt, const std::string& name) {
  return ckpt.find(name) ? name : "shared.weight";
}

}  // namespace

T5VocabNames::T5VocabNames(const Checkpoint& ckpt)
    : encoder_embedding(own_or_shared(ckpt, "encoder.embed_tokens.weight")),
      decoder_embedding(own_or_shared(ckpt, "decoder.embed_tokens.weight")),
      output(own_or_shared(ckpt, "lm_head.weight")) {}

std::string t5_block_name(T5Stack stack, int64_t block, const std::string& what) {
  return std::string(stack_name(stack)) + ".block." + std::to_string(block) + "." + what;
}

std::vector<TensorSpec> t5_block_specs(const T5Config& cfg, T5Stack s, int64_t b) {
  const int64_t d = cfg.d_model, inner = cfg.inner_dim(), f = cfg.d_ff;
  std::vector<TensorSpec> out;
  for (bool cross : {false, true}) {
    if (cross && s == T5Stack::Encoder) continue;
    out.push_back({t5_block_name(s, b, cross ? "layer.1.layer_norm.weight" : "layer.0.layer_norm.weight"), {d}});
    for (const char* m : {"q", "k", "v"}) out.push_back({attention(s, b, cross, std::string(m) + ".weight"), {inner, d}});
    out.push_back({attention(s, b, cross, "o.weight"), {d, inner}});
  }
  if (b == 0) out.push_back({attention(s, 0, false, "relative_attention_bias.weight"), {cfg.num_buckets, cfg.num_heads}});
  out.push_back({ff(s, b, "layer_norm.weight"), {d}});
  if (cfg.gated) {
    out.push_back({ff(s, b, "DenseReluDense.wi_0.weight"), {f, d}});
    out.push_back({ff(s, b, "DenseReluDense.wi_1.weight"), {f, d}});
  } else {
    out.push_back({ff(s, b, "DenseReluDense.wi.weight"), {f, d}});
  }
  out.push_back({ff(s, b, "DenseReluDense.wo.weight"), {d, f}});
  return out;
}

void check_t5_tensors(const Checkpoint& ckpt, const T5Config& cfg, const T5VocabNames& vocab) {
  std::vector<TensorSpec> all;
  for (const std::string& name : {vocab.encoder_embedding, vocab.decoder_embedding, vocab.output})
    all.push_back({name, {cfg.vocab_size, cfg.d_model}});
  all.push_back({"encoder.final_layer_norm.weight", {cfg.d_model}});
  all.push_back({"decoder.final_layer_norm.weight", {cfg.d_model}});
  for (T5Stack s : {T5Stack::Encoder, T5Stack::Decoder}) {
    const int64_t blocks = s == T5Stack::Encoder ? cfg.encoder_layers : cfg.decoder_layers;
    for (int64_t b = 0; b < blocks; ++b)
      for (TensorSpec& t : t5_block_specs(cfg, s, b)) all.push_back(std::move(t));
  }
  check_tensor_shapes(ckpt, all, cfg.model_type);
}

T5BlockWeights load_t5_block(WeightStream& stream, const T5Config& cfg, T5Stack s, int64_t b) {
  T5BlockWeights w;
  for (bool cross : {false, true}) {
    if (cross && s == T5Stack::Encoder) continue;
    T5AttentionWeights& a = cross ? w.cross : w.self;
    a.norm = stream.load(t5_block_name(s, b, cross ? "layer.1.layer_norm.weight" : "layer.0.layer_norm.weight"));
    a.q = stream.load(attention(s, b, cross, "q.weight"));
    a.k = stream.load(attention(s, b, cross, "k.weight"));
    a.v = stream.load(attention(s, b, cross, "v.weight"));
    a.o = stream.load(attention(s, b, cross, "o.weight"));
  }
  if (b == 0) w.relative_bias = stream.load(attention(s, 0, false, "relative_attention_bias.weight"));
  w.ff_norm = stream.load(ff(s, b, "layer_norm.weight"));
  if (cfg.gated) {
    w.wi_0 = stream.load(ff(s, b, "DenseReluDense.wi_0.weight"));
    w.wi_1 = stream.load(ff(s, b, "DenseReluDense.wi_1.weight"));
  } else {
    w.wi = stream.load(ff(s, b, "DenseReluDense.wi.weight"));
  }
  w.wo = stream.load(ff(s, b, "DenseReluDense.wo.weight"));
  return w;
}

}  // namespace cocktail
