#include "model/decoder_forward.hpp"

#include <string>

#include "core/error.hpp"
#include "model/decoder_layer.hpp"
#include "model/decoder_rope.hpp"
#include "model/decoder_vocab.hpp"
#include "model/decoder_weights.hpp"

namespace cocktail {
namespace {

const std::string kEmbedding = "model.embed_tokens.weight";

struct DeviceBatch {
  torch::Tensor input_ids, attention_mask, labels;  // int64 on the device
};

torch::Tensor checked_ids(const torch::Tensor& t, const char* what, const std::string& where,
                          const std::vector<int64_t>& shape) {
  if (!t.defined()) throw Error(where + ": no " + what);
  if (t.sizes().vec() != shape || t.is_floating_point() || t.is_complex())
    throw Error(where + ": " + what + " is not an integer tensor of the input_ids' shape [B, T]");
  return t.to(torch::kLong);
}

// Token ids outside the vocabulary would index past the embedding; labels
// outside it have no logit. Checked on the host before anything is read.
std::vector<DeviceBatch> prepare(const std::vector<DecoderBatch>& batches, int64_t vocab,
                                 torch::Device device) {
  std::vector<DeviceBatch> out;
  for (size_t i = 0; i < batches.size(); ++i) {
    const std::string where = "batch " + std::to_string(i);
    const DecoderBatch& b = batches[i];
    if (!b.input_ids.defined() || b.input_ids.dim() != 2)
      throw Error(where + ": input_ids is not a [B, T] tensor");
    const std::vector<int64_t> shape = b.input_ids.sizes().vec();
    DeviceBatch d{checked_ids(b.input_ids, "input_ids", where, shape),
                  checked_ids(b.attention_mask, "attention_mask", where, shape),
                  checked_ids(b.labels, "labels", where, shape)};
    if (d.input_ids.numel() > 0 && (d.input_ids.min().item<int64_t>() < 0 ||
                                    d.input_ids.max().item<int64_t>() >= vocab))
      throw Error(where + ": a token id is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    const torch::Tensor scored = d.labels.masked_select(d.labels.ne(-100));
    if (scored.numel() > 0 && (scored.min().item<int64_t>() < 0 || scored.max().item<int64_t>() >= vocab))
      throw Error(where + ": a label is neither -100 nor in the vocabulary [0, " +
                  std::to_string(vocab) + ")");
    out.push_back({d.input_ids.to(device), d.attention_mask.to(device), d.labels.to(device)});
  }
  return out;
}

// The largest layer's float32 bytes (layers differ where some are dense and
// some mixtures of experts).
int64_t layer_float_bytes(const DecoderConfig& cfg) {
  int64_t largest = 0;
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    int64_t elements = 0;
    for (const TensorSpec& s : layer_tensor_specs(cfg, l)) {
      int64_t n = 1;
      for (int64_t d : s.shape) n *= d;
      elements += n;
    }
    largest = std::max(largest, elements);
  }
  return largest * static_cast<int64_t>(sizeof(float));
}

// Sorted distinct token ids of all batches: the embedding rows a tied model's
// lookup reads.
std::vector<int64_t> used_ids(const std::vector<DeviceBatch>& batches) {
  std::vector<torch::Tensor> flat;
  for (const DeviceBatch& b : batches) flat.push_back(b.input_ids.reshape({-1}).cpu());
  if (flat.empty()) return {};
  const torch::Tensor ids = std::get<0>(torch::_unique(torch::cat(flat), /*sorted=*/true));
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
}

}  // namespace

std::vector<BatchLoss> decoder_stage(WeightSource& weights, const DecoderConfig& cfg,
                                     const std::vector<DecoderBatch>& batches, torch::Device device,
                                     DecoderLayers layers, std::vector<torch::Tensor>& hidden, ForwardStats* stats) {
  const Checkpoint& ckpt = weights.layout();
  torch::NoGradGuard no_grad;
  if (layers.begin < 0 || layers.begin > layers.end || layers.end > cfg.num_layers || (layers.first && layers.begin > 0))
    throw Error("internal: decoder layers [" + std::to_string(layers.begin) + ", " + std::to_string(layers.end) +
                ") of " + std::to_string(cfg.num_layers));
  const bool first = layers.first, last = layers.end == cfg.num_layers;
  check_decoder_tensors(ckpt, cfg);
  const std::vector<DeviceBatch> inputs = prepare(batches, cfg.vocab_size, device);
  if (!first && hidden.size() != inputs.size())
    throw Error("internal: " + std::to_string(hidden.size()) + " hidden states for " +
                std::to_string(inputs.size()) + " batches");
  WeightStream stream(weights, device);
  // Vocabulary slices no larger than a layer keep the weight peak at one layer.
  const int64_t layer_bytes = layer_float_bytes(cfg);
  const int64_t slice_rows = std::max<int64_t>(1, layer_bytes / (cfg.hidden_size * 4));

  if (first) {
    std::vector<torch::Tensor> ids;
    for (const DeviceBatch& b : inputs) ids.push_back(b.input_ids);
    // Untied, the embedding is read whole, once. Tied, it is read whole at the
    // end for the output, so the lookup reads only the rows it needs rather
    // than holding the matrix through every layer.
    const std::vector<RowRange> lookup = cfg.tie_word_embeddings
                                             ? id_runs(used_ids(inputs), slice_rows)
                                             : row_slices(cfg.vocab_size, slice_rows);
    hidden = embed_batches(stream, kEmbedding, ids, lookup, cfg.hidden_size, device);
    if (cfg.embed_scale != 1.0) {
      // gemma2: sqrt(hidden_size) in the embedding's dtype (float32 here), as transformers.
      const float scale = static_cast<float>(cfg.embed_scale);
      for (torch::Tensor& h : hidden) h = h * scale;
    }
  } else {
    for (torch::Tensor& h : hidden) h = h.to(device);
  }

  if (layers.begin < layers.end) {
    // Positions, hence RoPE tables and masks, are the same in every layer.
    std::vector<RopeTables> rope, sliding_rope;
    std::vector<torch::Tensor> full_mask, window_mask;
    DecoderConfig sliding_cfg = cfg;
    if (cfg.sliding_rope) sliding_cfg.rope = *cfg.sliding_rope;
    for (const DeviceBatch& b : inputs) {
      rope.push_back(rope_tables(cfg, b.input_ids.size(1), device));
      if (cfg.sliding_rope) sliding_rope.push_back(rope_tables(sliding_cfg, b.input_ids.size(1), device));
      full_mask.push_back(attention_allowed(b.attention_mask, std::nullopt));
      window_mask.push_back(cfg.sliding_window ? attention_allowed(b.attention_mask, cfg.sliding_window)
                                               : torch::Tensor());
    }
    for (int64_t l = layers.begin; l < layers.end; ++l) {
      {
        const LayerWeights w = load_layer(stream, cfg, l);
        const bool sliding = cfg.layer_sliding[static_cast<size_t>(l)];
        const std::vector<RopeTables>& tables = sliding && cfg.sliding_rope ? sliding_rope : rope;
        for (size_t b = 0; b < inputs.size(); ++b)
          hidden[b] = decoder_layer(hidden[b], w, cfg, tables[b], sliding ? window_mask[b] : full_mask[b]);
      }
      stream.release();
    }
  }
  if (!last) {
    stream.report(layer_bytes, stats);
    return {};
  }

  std::vector<ScoredTokens> scored;
  {
    const torch::Tensor norm = norm_weight(cfg, stream.load("model.norm.weight"));
    for (size_t b = 0; b < inputs.size(); ++b)
      scored.push_back(scored_tokens(rms_norm(hidden[b], norm, cfg.rms_norm_eps), inputs[b].labels));
  }
  hidden.clear();
  stream.release();
  std::vector<BatchLoss> losses = output_losses(stream, output_matrix_name(cfg), scored,
                                                row_slices(cfg.vocab_size, slice_rows), cfg.final_softcap);
  stream.report(layer_bytes, stats);
  return losses;
}

std::vector<BatchLoss> decoder_batch_losses(WeightSource& weights, const DecoderConfig& cfg,
                                            const std::vector<DecoderBatch>& batches,
                                            torch::Device device, ForwardStats* stats) {
  std::vector<torch::Tensor> hidden;
  return decoder_stage(weights, cfg, batches, device, {0, cfg.num_layers, true}, hidden, stats);
}

}  // namespace cocktail
