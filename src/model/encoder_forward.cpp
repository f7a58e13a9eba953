#include "model/encoder_forward.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "model/decoder_vocab.hpp"
#include "model/encoder_layer.hpp"
#include "model/encoder_weights.hpp"

namespace cocktail {
namespace {

// One padded group of texts (a batch's queries, its passages, its pairs),
// checked and on the device.
struct Sequences {
  torch::Tensor ids, positions, allowed;
  torch::Tensor type_ids;  // undefined: type 0 everywhere
};

torch::Tensor checked_ids(const torch::Tensor& t, const std::string& what, const std::string& where) {
  if (!t.defined() || t.dim() != 2 || t.is_floating_point() || t.is_complex())
    throw Error(where + ": " + what + " is not a [rows, tokens] integer tensor");
  return t.to(torch::kLong).cpu();
}

// Checked on the host before anything is read: ids outside the vocabulary or
// positions past the position table would index out of range.
Sequences prepare_sequences(const EncoderRowsTensor& rows, const std::string& where,
                            const EncoderConfig& cfg, torch::Device device) {
  const torch::Tensor& ids_in = rows.ids;
  const torch::Tensor& mask_in = rows.mask;
  const std::string& what = rows.what;
  const torch::Tensor ids = checked_ids(ids_in, what + "_ids", where);
  const torch::Tensor mask = checked_ids(mask_in, what + "_mask", where);
  if (mask.sizes() != ids.sizes())
    throw Error(where + ": " + what + "_mask is not of " + what + "_ids' shape");
  if (ids.size(0) == 0 || ids.size(1) == 0)
    throw Error(where + ": no " + what + " tokens (CLS pooling needs the first token of each row)");
  if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= cfg.vocab_size)
    throw Error(where + ": a " + what + " token id is outside the vocabulary [0, " +
                std::to_string(cfg.vocab_size) + ")");
  const torch::Tensor positions = encoder_position_ids(ids, cfg);
  if (positions.max().item<int64_t>() >= cfg.max_position_embeddings)
    throw Error(where + ": " + what + " rows of " + std::to_string(ids.size(1)) +
                " tokens need more than max_position_embeddings " +
                std::to_string(cfg.max_position_embeddings) + " positions");
  Sequences out{ids.to(device), positions.to(device), encoder_attention_allowed(mask).to(device), {}};
  if (rows.type_ids.defined()) {
    const torch::Tensor types = checked_ids(rows.type_ids, what + "_type_ids", where);
    if (types.sizes() != ids.sizes())
      throw Error(where + ": " + what + "_type_ids is not of " + what + "_ids' shape");
    if (types.min().item<int64_t>() < 0 || types.max().item<int64_t>() >= cfg.type_vocab_size)
      throw Error(where + ": a " + what + " token type is outside [0, type_vocab_size " +
                  std::to_string(cfg.type_vocab_size) + ")");
    out.type_ids = types.to(device);
  }
  return out;
}

int64_t layer_float_bytes(const EncoderConfig& cfg, const EncoderTensorNames& names) {
  int64_t elements = 0;
  for (const TensorSpec& s : encoder_layer_specs(cfg, names, 0)) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    elements += n;
  }
  return elements * static_cast<int64_t>(sizeof(float));
}

// word + position + token type (type 0 where the rows carry none: the
// authors pass no token_type_ids to an embedder, so transformers uses 0),
// then LayerNorm. The two large tables are read in slices of at most
// `slice_rows` rows.
std::vector<torch::Tensor> embed(WeightStream& stream, const EncoderTensorNames& names,
                                 const EncoderConfig& cfg, const std::vector<Sequences>& seqs,
                                 int64_t slice_rows, torch::Device device) {
  std::vector<torch::Tensor> ids, positions;
  for (const Sequences& s : seqs) {
    ids.push_back(s.ids);
    positions.push_back(s.positions);
  }
  std::vector<torch::Tensor> hidden =
      embed_batches(stream, names.embedding("word_embeddings.weight"), ids,
                    row_slices(cfg.vocab_size, slice_rows), cfg.hidden_size, device);
  {
    const std::vector<torch::Tensor> pos =
        embed_batches(stream, names.embedding("position_embeddings.weight"), positions,
                      row_slices(cfg.max_position_embeddings, slice_rows), cfg.hidden_size, device);
    for (size_t i = 0; i < hidden.size(); ++i) hidden[i] += pos[i];
  }
  {
    const torch::Tensor types = stream.load(names.embedding("token_type_embeddings.weight"));
    const torch::Tensor norm = stream.load(names.embedding("LayerNorm.weight"));
    const torch::Tensor norm_bias = stream.load(names.embedding("LayerNorm.bias"));
    for (size_t i = 0; i < hidden.size(); ++i) {
      const torch::Tensor type = seqs[i].type_ids.defined() ? torch::embedding(types, seqs[i].type_ids) : types[0];
      hidden[i] = torch::layer_norm(hidden[i] + type, {cfg.hidden_size}, norm, norm_bias, cfg.layer_norm_eps);
    }
  }
  stream.release();
  return hidden;
}

// L2-normalised CLS rows, as torch.nn.functional.normalize (norm floored at 1e-12).
torch::Tensor cls_embedding(const torch::Tensor& hidden) {
  const torch::Tensor cls = hidden.select(1, 0);
  return cls / cls.norm(2, -1, /*keepdim=*/true).clamp_min(1e-12);
}

}  // namespace

std::vector<torch::Tensor> encoder_hidden_states(const EncoderConfig& cfg,
                                                 const EncoderTensorNames& names,
                                                 const std::vector<EncoderRowsTensor>& groups,
                                                 torch::Device device, WeightStream& stream,
                                                 int64_t& layer_bytes) {
  std::vector<Sequences> seqs;
  for (size_t i = 0; i < groups.size(); ++i)
    seqs.push_back(prepare_sequences(groups[i], groups[i].where, cfg, device));
  // Table slices no larger than a layer keep the weight peak at one layer.
  layer_bytes = layer_float_bytes(cfg, names);
  const int64_t slice_rows = std::max<int64_t>(1, layer_bytes / (cfg.hidden_size * 4));
  std::vector<torch::Tensor> hidden = embed(stream, names, cfg, seqs, slice_rows, device);
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    {
      const EncoderLayerWeights w = load_encoder_layer(stream, names, l);
      for (size_t s = 0; s < seqs.size(); ++s) hidden[s] = encoder_layer(hidden[s], w, cfg, seqs[s].allowed);
    }
    stream.release();
  }
  return hidden;
}

std::vector<EncoderBatchLoss> encoder_batch_losses(WeightSource& weights, const EncoderConfig& cfg,
                                                   const std::vector<EncoderBatch>& batches,
                                                   int64_t neg_number, torch::Device device,
                                                   ForwardStats* stats) {
  const Checkpoint& ckpt = weights.layout();
  torch::NoGradGuard no_grad;
  const EncoderTensorNames names(ckpt);
  check_encoder_tensors(ckpt, cfg, names);
  if (neg_number < 0) throw Error("neg_number " + std::to_string(neg_number) + " is negative");
  std::vector<EncoderRowsTensor> groups;
  for (size_t i = 0; i < batches.size(); ++i) {
    const std::string where = "batch " + std::to_string(i);
    const EncoderBatch& b = batches[i];
    groups.push_back({b.query_ids, b.query_mask, {}, "query", where});
    groups.push_back({b.passage_ids, b.passage_mask, {}, "passage", where});
    const int64_t q = b.query_ids.defined() && b.query_ids.dim() == 2 ? b.query_ids.size(0) : -1;
    const int64_t p = b.passage_ids.defined() && b.passage_ids.dim() == 2 ? b.passage_ids.size(0) : -1;
    if (q >= 0 && p >= 0 && p != q * (1 + neg_number))
      throw Error(where + ": " + std::to_string(p) + " passages for " + std::to_string(q) +
                  " queries; with neg_number " + std::to_string(neg_number) + " there must be " +
                  std::to_string(q * (1 + neg_number)) + " (a positive and the negatives per query)");
  }
  WeightStream stream(weights, device);
  int64_t layer_bytes = 0;
  const std::vector<torch::Tensor> hidden =
      encoder_hidden_states(cfg, names, groups, device, stream, layer_bytes);

  std::vector<EncoderBatchLoss> losses;
  for (size_t b = 0; b < batches.size(); ++b) {
    const torch::Tensor q = cls_embedding(hidden[2 * b]), p = cls_embedding(hidden[2 * b + 1]);
    const torch::Tensor scores = torch::matmul(q, p.transpose(0, 1)) / kEncoderScoreTemperature;
    const int64_t n = q.size(0);
    const torch::Tensor target =
        torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(device)) * (1 + neg_number);
    const torch::Tensor sum = torch::nn::functional::cross_entropy(
        scores, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    losses.push_back({sum.item<double>(), n});
  }
  stream.report(layer_bytes, stats);
  return losses;
}

}  // namespace cocktail
