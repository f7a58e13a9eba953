#include "model/encoder_weights.hpp"

#include "core/error.hpp"
#include "model/tensor_loader.hpp"

namespace cocktail {
namespace {

// BertModel / XLMRobertaModel save bare names; BertForMaskedLM and friends
// (and some hub checkpoints of embedding models) nest them under the base
// model's attribute name.
const char* const kPrefixes[] = {"", "bert.", "roberta."};

}  // namespace

EncoderTensorNames::EncoderTensorNames(const Checkpoint& ckpt) {
  for (const char* p : kPrefixes) {
    if (ckpt.find(std::string(p) + "embeddings.word_embeddings.weight")) {
      prefix_ = p;
      return;
    }
  }
  throw Error(ckpt.path().string() +
              ": no 'embeddings.word_embeddings.weight' (nor 'bert.embeddings.word_embeddings.weight' "
              "or 'roberta.embeddings.word_embeddings.weight'): not a bert / xlm-roberta checkpoint");
}

std::vector<TensorSpec> encoder_layer_specs(const EncoderConfig& cfg, const EncoderTensorNames& n,
                                            int64_t l) {
  const int64_t h = cfg.hidden_size, i = cfg.intermediate_size;
  return {
      {n.layer(l, "attention.self.query.weight"), {h, h}},
      {n.layer(l, "attention.self.query.bias"), {h}},
      {n.layer(l, "attention.self.key.weight"), {h, h}},
      {n.layer(l, "attention.self.key.bias"), {h}},
      {n.layer(l, "attention.self.value.weight"), {h, h}},
      {n.layer(l, "attention.self.value.bias"), {h}},
      {n.layer(l, "attention.output.dense.weight"), {h, h}},
      {n.layer(l, "attention.output.dense.bias"), {h}},
      {n.layer(l, "attention.output.LayerNorm.weight"), {h}},
      {n.layer(l, "attention.output.LayerNorm.bias"), {h}},
      {n.layer(l, "intermediate.dense.weight"), {i, h}},
      {n.layer(l, "intermediate.dense.bias"), {i}},
      {n.layer(l, "output.dense.weight"), {h, i}},
      {n.layer(l, "output.dense.bias"), {h}},
      {n.layer(l, "output.LayerNorm.weight"), {h}},
      {n.layer(l, "output.LayerNorm.bias"), {h}},
  };
}

std::vector<TensorSpec> encoder_tensor_specs(const EncoderConfig& cfg, const EncoderTensorNames& n) {
  const int64_t h = cfg.hidden_size;
  std::vector<TensorSpec> all = {
      {n.embedding("word_embeddings.weight"), {cfg.vocab_size, h}},
      {n.embedding("position_embeddings.weight"), {cfg.max_position_embeddings, h}},
      {n.embedding("token_type_embeddings.weight"), {cfg.type_vocab_size, h}},
      {n.embedding("LayerNorm.weight"), {h}},
      {n.embedding("LayerNorm.bias"), {h}},
  };
  for (int64_t l = 0; l < cfg.num_layers; ++l)
    for (TensorSpec& s : encoder_layer_specs(cfg, n, l)) all.push_back(std::move(s));
  return all;
}

void check_encoder_tensors(const Checkpoint& ckpt, const EncoderConfig& cfg, const EncoderTensorNames& n) {
  check_tensor_shapes(ckpt, encoder_tensor_specs(cfg, n), cfg.model_type);
}

EncoderLayerWeights load_encoder_layer(WeightStream& stream, const EncoderTensorNames& n, int64_t l) {
  EncoderLayerWeights w;
  w.q = stream.load(n.layer(l, "attention.self.query.weight"));
  w.q_bias = stream.load(n.layer(l, "attention.self.query.bias"));
  w.k = stream.load(n.layer(l, "attention.self.key.weight"));
  w.k_bias = stream.load(n.layer(l, "attention.self.key.bias"));
  w.v = stream.load(n.layer(l, "attention.self.value.weight"));
  w.v_bias = stream.load(n.layer(l, "attention.self.value.bias"));
  w.attn_out = stream.load(n.layer(l, "attention.output.dense.weight"));
  w.attn_out_bias = stream.load(n.layer(l, "attention.output.dense.bias"));
  w.attn_norm = stream.load(n.layer(l, "attention.output.LayerNorm.weight"));
  w.attn_norm_bias = stream.load(n.layer(l, "attention.output.LayerNorm.bias"));
  w.inter = stream.load(n.layer(l, "intermediate.dense.weight"));
  w.inter_bias = stream.load(n.layer(l, "intermediate.dense.bias"));
  w.out = stream.load(n.layer(l, "output.dense.weight"));
  w.out_bias = stream.load(n.layer(l, "output.dense.bias"));
  w.out_norm = stream.load(n.layer(l, "output.LayerNorm.weight"));
  w.out_norm_bias = stream.load(n.layer(l, "output.LayerNorm.bias"));
  return w;
}

}  // namespace cocktail
