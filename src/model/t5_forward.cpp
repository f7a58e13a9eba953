#include "model/t5_forward.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "model/decoder_layer.hpp"
#include "model/decoder_vocab.hpp"
#include "model/t5_layer.hpp"
#include "model/t5_weights.hpp"

namespace cocktail {
namespace {

struct DeviceBatch {
  torch::Tensor input_ids, decoder_ids, labels;
  torch::Tensor encoder_allowed;  // [B, 1, 1, S]: keys that are real input tokens
};

torch::Tensor checked(const torch::Tensor& t, const char* what, const std::string& where) {
  if (!t.defined() || t.dim() != 2 || t.is_floating_point() || t.is_complex())
    throw Error(where + ": " + what + " is not a [rows, tokens] integer tensor");
  return t.to(torch::kLong).cpu();
}

void check_in_vocab(const torch::Tensor& ids, const char* what, const std::string& where, int64_t vocab) {
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= vocab))
    throw Error(where + ": " + std::string(what) + " outside the vocabulary [0, " + std::to_string(vocab) + ")");
}

// transformers' _shift_right: the start token, then the labels but the last,
// -100 read as padding.
torch::Tensor shift_right(const torch::Tensor& labels, const T5Config& cfg) {
  torch::Tensor out = torch::full_like(labels, cfg.decoder_start_token_id);
  out.narrow(1, 1, labels.size(1) - 1).copy_(labels.narrow(1, 0, labels.size(1) - 1));
  return out.masked_fill(out.eq(-100), cfg.pad_token_id);
}

// Checked on the host before anything is read.
std::vector<DeviceBatch> prepare(const std::vector<Seq2SeqBatch>& batches, const T5Config& cfg,
                                 torch::Device device) {
  std::vector<DeviceBatch> out;
  for (size_t i = 0; i < batches.size(); ++i) {
    const std::string where = "batch " + std::to_string(i);
    const Seq2SeqBatch& b = batches[i];
    const torch::Tensor ids = checked(b.input_ids, "input_ids", where);
    const torch::Tensor mask = checked(b.attention_mask, "attention_mask", where);
    const torch::Tensor labels = checked(b.labels, "labels", where);
    if (mask.sizes() != ids.sizes()) throw Error(where + ": attention_mask is not of input_ids' shape");
    if (labels.size(0) != ids.size(0))
      throw Error(where + ": " + std::to_string(labels.size(0)) + " label rows for " +
                  std::to_string(ids.size(0)) + " input rows");
    if (ids.size(0) == 0 || ids.size(1) == 0 || labels.size(1) == 0)
      throw Error(where + ": no input or no label tokens");
    check_in_vocab(ids, "an input token id is", where, cfg.vocab_size);
    check_in_vocab(labels.masked_select(labels.ne(-100)), "a label is neither -100 nor", where, cfg.vocab_size);
    out.push_back({ids.to(device), shift_right(labels, cfg).to(device), labels.to(device),
                   mask.to(torch::kBool).unsqueeze(1).unsqueeze(1).to(device)});
  }
  return out;
}

int64_t block_float_bytes(const T5Config& cfg) {
  int64_t largest = 0;
  for (T5Stack s : {T5Stack::Encoder, T5Stack::Decoder}) {
    int64_t elements = 0;
    for (const TensorSpec& t : t5_block_specs(cfg, s, 0)) {
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      elements += n;
    }
    largest = std::max(largest, elements);
  }
  return largest * static_cast<int64_t>(sizeof(float));
}

// Sorted distinct ids of the given tensors: the embedding rows a lookup reads.
std::vector<int64_t> used_ids(const std::vector<torch::Tensor>& ids) {
  std::vector<torch::Tensor> flat;
  for (const torch::Tensor& t : ids) flat.push_back(t.reshape({-1}).cpu());
  if (flat.empty()) return {};
  const torch::Tensor u = std::get<0>(torch::_unique(torch::cat(flat), /*sorted=*/true));
  return std::vector<int64_t>(u.data_ptr<int64_t>(), u.data_ptr<int64_t>() + u.numel());
}

// One embedding lookup per distinct matrix: tied checkpoints read the shared
// rows of encoder and decoder tokens together.
void embed(WeightStream& stream, const T5VocabNames& names, const std::vector<DeviceBatch>& inputs,
           int64_t slice_rows, int64_t d_model, torch::Device device, std::vector<torch::Tensor>& encoder,
           std::vector<torch::Tensor>& decoder) {
  std::vector<torch::Tensor> enc_ids, dec_ids;
  for (const DeviceBatch& b : inputs) {
    enc_ids.push_back(b.input_ids);
    dec_ids.push_back(b.decoder_ids);
  }
  if (names.encoder_embedding == names.decoder_embedding) {
    std::vector<torch::Tensor> all = enc_ids;
    all.insert(all.end(), dec_ids.begin(), dec_ids.end());
    std::vector<torch::Tensor> rows =
        embed_batches(stream, names.encoder_embedding, all, id_runs(used_ids(all), slice_rows), d_model, device);
    encoder.assign(rows.begin(), rows.begin() + static_cast<ptrdiff_t>(inputs.size()));
    decoder.assign(rows.begin() + static_cast<ptrdiff_t>(inputs.size()), rows.end());
    return;
  }
  encoder = embed_batches(stream, names.encoder_embedding, enc_ids, id_runs(used_ids(enc_ids), slice_rows),
                          d_model, device);
  decoder = embed_batches(stream, names.decoder_embedding, dec_ids, id_runs(used_ids(dec_ids), slice_rows),
                          d_model, device);
}

// Every batch through the blocks of one stack, a block's weights at a time;
// the final norm at the end. The position bias comes from block 0 and serves
// every block (it depends on the lengths only).
void run_stack(WeightStream& stream, const T5Config& cfg, T5Stack stack, const std::vector<DeviceBatch>& inputs,
               std::vector<torch::Tensor>& hidden, const std::vector<torch::Tensor>& encoder_out) {
  const bool decoder = stack == T5Stack::Decoder;
  const int64_t blocks = decoder ? cfg.decoder_layers : cfg.encoder_layers;
  std::vector<torch::Tensor> bias(inputs.size()), allowed(inputs.size());
  for (size_t b = 0; b < inputs.size(); ++b) {
    const int64_t t = hidden[b].size(1);
    if (decoder) {  // causal; every label position is a real query
      const auto opts = torch::TensorOptions().dtype(torch::kLong).device(hidden[b].device());
      allowed[b] = (torch::arange(t, opts).unsqueeze(0) <= torch::arange(t, opts).unsqueeze(1)).unsqueeze(0).unsqueeze(0);
    } else {
      allowed[b] = inputs[b].encoder_allowed;
    }
  }
  for (int64_t l = 0; l < blocks; ++l) {
    {
      const T5BlockWeights w = load_t5_block(stream, cfg, stack, l);
      for (size_t b = 0; b < inputs.size(); ++b) {
        if (l == 0) {
          const int64_t t = hidden[b].size(1);
          bias[b] = t5_position_bias(w.relative_bias, t5_relative_buckets(t, t, !decoder, cfg.num_buckets,
                                                                           cfg.max_distance, hidden[b].device()));
        }
        hidden[b] = decoder ? t5_block(hidden[b], w, cfg, bias[b], allowed[b], encoder_out[b], inputs[b].encoder_allowed)
                            : t5_block(hidden[b], w, cfg, bias[b], allowed[b]);
      }
    }
    stream.release();
  }
  const torch::Tensor norm = stream.load(std::string(decoder ? "decoder" : "encoder") + ".final_layer_norm.weight");
  for (torch::Tensor& h : hidden) h = rms_norm(h, norm, cfg.layer_norm_epsilon);
}

}  // namespace

std::vector<BatchLoss> t5_batch_losses(WeightSource& weights, const T5Config& cfg,
                                       const std::vector<Seq2SeqBatch>& batches, torch::Device device,
                                       ForwardStats* stats) {
  const Checkpoint& ckpt = weights.layout();
  torch::NoGradGuard no_grad;
  const T5VocabNames names(ckpt);
  check_t5_tensors(ckpt, cfg, names);
  const std::vector<DeviceBatch> inputs = prepare(batches, cfg, device);
  WeightStream stream(weights, device);
  // Vocabulary slices no larger than a block keep the weight peak at one block.
  const int64_t layer_bytes = block_float_bytes(cfg);
  const int64_t slice_rows = std::max<int64_t>(1, layer_bytes / (cfg.d_model * 4));

  std::vector<torch::Tensor> encoder, decoder;
  embed(stream, names, inputs, slice_rows, cfg.d_model, device, encoder, decoder);
  run_stack(stream, cfg, T5Stack::Encoder, inputs, encoder, {});
  stream.release();
  run_stack(stream, cfg, T5Stack::Decoder, inputs, decoder, encoder);
  encoder.clear();
  stream.release();

  std::vector<ScoredTokens> scored;
  for (size_t b = 0; b < inputs.size(); ++b) {
    torch::Tensor h = decoder[b];
    // A Python float times a float32 tensor: the factor rounded to float32.
    if (cfg.scale_decoder_outputs) h = h * std::pow(static_cast<double>(cfg.d_model), -0.5);
    const torch::Tensor keep = inputs[b].labels.ne(-100);
    scored.push_back({h.index({keep}), inputs[b].labels.index({keep})});
  }
  decoder.clear();
  std::vector<BatchLoss> losses =
      output_losses(stream, names.output, scored, row_slices(cfg.vocab_size, slice_rows));
  stream.report(layer_bytes, stats);
  return losses;
}

}  // namespace cocktail
