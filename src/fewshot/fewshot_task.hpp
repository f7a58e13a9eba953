#pragma once
// A job's few-shot examples, tokenised once into the batches of the
// candidates' kind (decoder, encoder-decoder, embedding model, reranker),
// and their evaluation through any weight source: a candidate's checkpoint,
// or a merge of the candidates computed in memory (weight search, soups).
#include <string>
#include <vector>

#include <torch/torch.h>

#include "config/job.hpp"
#include "fewshot/decoder_sequences.hpp"
#include "fewshot/encoder_sequences.hpp"
#include "fewshot/reranker_sequences.hpp"
#include "fewshot/seq2seq_sequences.hpp"
#include "fewshot/weights.hpp"
#include "io/checkpoint.hpp"
#include "model/decoder_forward.hpp"
#include "model/weight_source.hpp"

namespace cocktail {

class FewShotTask {
 public:
  // No communication (every rank prepares the same batches). Refuses by
  // name, before any weight is read, a candidate family that cannot be
  // scored, candidates of different kinds and examples of the other kind.
  static FewShotTask prepare(const Job& job, const std::vector<Checkpoint>& models);

  size_t batches() const;
  size_t examples() const { return examples_; }
  // "file:line" of decoder examples with nothing to score within max_input_length.
  const std::vector<std::string>& skipped() const { return skipped_; }

  // Partials of batches [first, first + count) through `weights`; adds the
  // bytes read to `bytes_read`.
  std::vector<BatchPartial> evaluate(WeightSource& weights, size_t first, size_t count, torch::Device device,
                                     uint64_t& bytes_read) const;

  // Decoders only: one pipeline stage, layers [layers.begin, layers.end) of
  // every batch (decoder_stage). Partials of every batch when the stage ends
  // with the last layer, else none and the hidden states in `hidden`.
  std::vector<BatchPartial> evaluate_stage(WeightSource& weights, DecoderLayers layers,
                                           std::vector<torch::Tensor>& hidden, torch::Device device,
                                           uint64_t& bytes_read) const;
  // The shape of each batch's hidden states between two stages.
  std::vector<std::vector<int64_t>> hidden_shapes(int64_t hidden_size) const;

 private:
  // Exactly one is filled, by the candidates' kind.
  std::vector<std::vector<ScoredSequence>> decoder_;
  std::vector<std::vector<Seq2SeqRow>> seq2seq_;
  std::vector<EncoderRows> encoder_;
  std::vector<RerankerRows> reranker_;
  int64_t pad_id_ = 0, neg_number_ = 0;
  size_t examples_ = 0;
  std::vector<std::string> skipped_;
};

}  // namespace cocktail
