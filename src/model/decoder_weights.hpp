#pragma once
// Internal to the decoder forward pass: which tensors a decoder checkpoint
// must hold, and the stream that reads them while keeping the tally that
// ForwardStats reports (bytes read, weight bytes alive).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_config.hpp"
#include "io/checkpoint.hpp"
#include "model/weight_source.hpp"

namespace cocktail {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// HF names and shapes of decoder layer `layer`'s tensors.
std::vector<TensorSpec> layer_tensor_specs(const DecoderConfig& cfg, int64_t layer);
// Every tensor the forward pass reads, layers included.
std::vector<TensorSpec> decoder_tensor_specs(const DecoderConfig& cfg);
// Throws cocktail::Error naming the first tensor of `specs` that is missing
// from `ckpt` or whose shape disagrees with its config.json (of model_type),
// before a byte of data is read. Decoders and encoders both use it.
void check_tensor_shapes(const Checkpoint& ckpt, const std::vector<TensorSpec>& specs,
                         const std::string& model_type);
void check_decoder_tensors(const Checkpoint& ckpt, const DecoderConfig& cfg);

// Name of the matrix the output projection uses (lm_head, or the embedding).
std::string output_matrix_name(const DecoderConfig& cfg);

struct ForwardStats {
  uint64_t bytes_read = 0;     // checkpoint bytes read, all tensors together
  int64_t peak_layer_bytes = 0;  // most weight bytes alive at once (float32, plus
                                 // the stored-dtype buffer of a tensor being converted)
  int64_t largest_layer_bytes = 0;  // float32 bytes of one decoder layer, for scale
};

class WeightStream {
 public:
  WeightStream(WeightSource& source, torch::Device device) : source_(source), device_(device) {}

  torch::Tensor load(const std::string& name);
  torch::Tensor load_rows(const std::string& name, int64_t begin, int64_t end);
  // Forgets the weights loaded so far. Call it after dropping them: a weight
  // someone still references stays counted as alive.
  void release();

  // Fills `stats` (when given) with what this stream saw.
  void report(int64_t layer_bytes, ForwardStats* stats) const {
    if (stats) *stats = {bytes_read_, peak_bytes_, layer_bytes};
  }

 private:
  torch::Tensor hold(torch::Tensor t, uint64_t stored_bytes);

  WeightSource& source_;
  torch::Device device_;
  std::vector<torch::Tensor> held_;
  int64_t held_bytes_ = 0, peak_bytes_ = 0;
  uint64_t bytes_read_ = 0;
};

struct ExpertWeights {
  torch::Tensor gate, up, down;
};

struct LayerWeights {
  torch::Tensor input_norm, post_norm;  // before the attention, before the MLP
  torch::Tensor attn_out_norm, mlp_out_norm;  // gemma2: of their outputs, else undefined
  torch::Tensor q, k, v, o, q_bias, k_bias, v_bias, o_bias;  // biases undefined when absent
  torch::Tensor q_norm, k_norm;  // per-head RMSNorm of queries and keys (qwen3), else undefined
  torch::Tensor gate, up, down, gate_bias, up_bias, down_bias;  // a dense MLP
  torch::Tensor router;                // a mixture-of-experts layer: [experts, hidden]
  std::vector<ExpertWeights> experts;  // and its experts, read with the layer
};

LayerWeights load_layer(WeightStream& stream, const DecoderConfig& cfg, int64_t layer);
// A norm weight as the forward multiplies by it: gemma stores it as an
// offset from 1.
torch::Tensor norm_weight(const DecoderConfig& cfg, torch::Tensor w);

}  // namespace cocktail
