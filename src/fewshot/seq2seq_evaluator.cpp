#include "fewshot/seq2seq_evaluator.hpp"

#include <algorithm>

#include "fewshot/decoder_sequences.hpp"

namespace cocktail {
namespace {

// [rows, longest] filled with `fill`, each row's ids at its start.
torch::Tensor padded(const std::vector<Seq2SeqRow>& rows, std::vector<int64_t> Seq2SeqRow::*field, int64_t fill) {
  size_t length = 0;
  for (const Seq2SeqRow& r : rows) length = std::max(length, (r.*field).size());
  torch::Tensor t = torch::full({static_cast<int64_t>(rows.size()), static_cast<int64_t>(length)}, fill, torch::kInt64);
  auto a = t.accessor<int64_t, 2>();
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < (rows[i].*field).size(); ++j)
      a[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = (rows[i].*field)[j];
  return t;
}

}  // namespace

Seq2SeqBatch to_seq2seq_batch(const std::vector<Seq2SeqRow>& rows, int64_t pad_id) {
  // The mask marks real tokens by length, not by id: an input token equal to
  // the pad id (none in T5's templates) still counts, as the tokenizer's mask says.
  torch::Tensor mask = padded(rows, &Seq2SeqRow::input, -1).ne(-1).to(torch::kInt64);
  torch::Tensor ids = padded(rows, &Seq2SeqRow::input, pad_id);
  return {ids, mask, padded(rows, &Seq2SeqRow::labels, kIgnoredLabel)};
}

std::vector<BatchPartial> seq2seq_partials(WeightSource& weights,
                                           const std::vector<std::vector<Seq2SeqRow>>& batches,
                                           int64_t pad_id, torch::Device device, uint64_t& bytes_read) {
  const T5Config config = read_t5_config(weights.layout().folder() / "config.json");
  std::vector<Seq2SeqBatch> tensors;
  for (const auto& b : batches) tensors.push_back(to_seq2seq_batch(b, pad_id));
  ForwardStats stats;
  std::vector<BatchPartial> out;
  for (const BatchLoss& l : t5_batch_losses(weights, config, tensors, device, &stats))
    out.push_back({l.loss_sum, static_cast<double>(l.tokens)});
  bytes_read += stats.bytes_read;
  return out;
}

}  // namespace cocktail
