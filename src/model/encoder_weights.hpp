#pragma once
// Internal to the encoder forward pass: the names of a bert / xlm-roberta
// checkpoint's tensors (with or without the "bert." / "roberta." prefix that
// *For* model classes save), the check that they all exist with the shapes
// config.json implies, and one layer's weights read through a WeightStream.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_weights.hpp"
#include "model/encoder_config.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

// Where the encoder's tensors live in one checkpoint.
class EncoderTensorNames {
 public:
  // Finds the prefix ("", "bert." or "roberta.") under which the checkpoint
  // holds embeddings.word_embeddings.weight; throws cocktail::Error naming
  // the checkpoint and the names tried when there is none.
  explicit EncoderTensorNames(const Checkpoint& ckpt);
  explicit EncoderTensorNames(std::string prefix) : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string embedding(const std::string& what) const { return prefix_ + "embeddings." + what; }
  std::string layer(int64_t layer, const std::string& what) const {
    return prefix_ + "encoder.layer." + std::to_string(layer) + "." + what;
  }

 private:
  std::string prefix_;
};

// Names and shapes of encoder layer `layer`'s tensors.
std::vector<TensorSpec> encoder_layer_specs(const EncoderConfig& cfg, const EncoderTensorNames& names,
                                            int64_t layer);
// Every tensor the forward pass reads: embeddings and layers. The pooler (and
// an MLM head) are not part of CLS pooling and are never read.
std::vector<TensorSpec> encoder_tensor_specs(const EncoderConfig& cfg, const EncoderTensorNames& names);
// Throws cocktail::Error naming the first tensor that is missing or whose
// shape disagrees with config.json, before a byte of data is read.
void check_encoder_tensors(const Checkpoint& ckpt, const EncoderConfig& cfg,
                           const EncoderTensorNames& names);

struct EncoderLayerWeights {
  torch::Tensor q, q_bias, k, k_bias, v, v_bias;
  torch::Tensor attn_out, attn_out_bias, attn_norm, attn_norm_bias;
  torch::Tensor inter, inter_bias, out, out_bias, out_norm, out_norm_bias;
};

EncoderLayerWeights load_encoder_layer(WeightStream& stream, const EncoderTensorNames& names,
                                       int64_t layer);

}  // namespace cocktail
