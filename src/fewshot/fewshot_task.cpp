#include "fewshot/fewshot_task.hpp"

#include "core/error.hpp"
#include "fewshot/decoder_evaluator.hpp"
#include "fewshot/encoder_evaluator.hpp"
#include "fewshot/examples.hpp"
#include "fewshot/reranker_evaluator.hpp"
#include "fewshot/seq2seq_evaluator.hpp"
#include "model/model_family.hpp"
#include "tokenizer/special_tokens.hpp"
#include "tokenizer/tokenizer.hpp"

namespace cocktail {
namespace fs = std::filesystem;

namespace {

// Every candidate's family, before anything else is read: an unsupported one
// is refused by name, and examples of the other kind (which would fail later
// on a missing token with no hint of the real mistake) are refused here.
ModelKind check_families(const Job& job, const std::vector<Checkpoint>& models,
                         const std::vector<size_t>& candidates) {
  const Checkpoint& reference = models[job.reference_index()];
  const ModelFamily first = read_model_family(reference.folder());
  for (size_t c : candidates) {
    const ModelFamily f = read_model_family(models[c].folder());
    if (f.kind != first.kind)
      throw Error((models[c].folder() / "config.json").string() + ": model_type '" + f.model_type +
                  "' is not the same kind of model as the reference's '" + first.model_type + "' (" +
                  (reference.folder() / "config.json").string() + ")");
  }
  return first.kind;
}

void check_examples_fit(const Examples& examples, ModelKind kind, const fs::path& reference,
                        const fs::path& examples_file) {
  const bool query_examples = kind == ModelKind::Encoder || kind == ModelKind::Reranker;
  if (query_examples == examples.is_encoder()) return;
  const char* model = kind == ModelKind::Decoder    ? "a decoder, scored with {input, output} examples"
                      : kind == ModelKind::Encoder  ? "an embedding model, scored with {query, pos, neg} examples"
                      : kind == ModelKind::Reranker ? "a reranker, scored with {query, pos, neg} examples"
                                                    : "an encoder-decoder, scored with {input, output} examples";
  throw Error(examples_file.string() + ": these are " +
              (examples.is_encoder() ? "embedding examples ({query, pos, neg})"
                                     : "decoder examples ({input, output})") +
              ", but " + (reference / "config.json").string() + " describes " + model);
}

}  // namespace

FewShotTask FewShotTask::prepare(const Job& job, const std::vector<Checkpoint>& models) {
  const FewShot& cfg = *job.fewshot;
  FewShotTask task;
  const ModelKind kind = check_families(job, models, job.candidates());
  const Examples examples = load_examples(cfg.files, static_cast<size_t>(cfg.neg_number));
  // As the authors' code: the reference (first) model's tokenizer serves
  // every candidate, which share a base and so a vocabulary.
  const Checkpoint& reference = models[job.reference_index()];
  check_examples_fit(examples, kind, reference.folder(), cfg.files.front());
  const Tokenizer tokenizer = Tokenizer::from_file(reference.folder() / "tokenizer.json");
  const SpecialIds ids = read_special_ids(reference.folder(), tokenizer, !examples.is_encoder());
  task.pad_id_ = ids.pad;
  task.neg_number_ = cfg.neg_number;
  task.examples_ = examples.size();
  const auto max_len = static_cast<size_t>(cfg.max_input_length);
  const auto batch_size = static_cast<size_t>(cfg.batch_size);
  const auto neg = static_cast<size_t>(cfg.neg_number);
  switch (kind) {
    case ModelKind::Reranker:
      task.reranker_ = reranker_batches(tokenizer, examples.encoder, neg, max_len, batch_size, cfg.seed,
                                        passes_token_type_ids(reference.folder()));
      break;
    case ModelKind::Encoder:
      task.encoder_ = encoder_batches(tokenizer, examples.encoder, neg, max_len, batch_size, cfg.seed);
      break;
    case ModelKind::EncoderDecoder:
      task.seq2seq_ = seq2seq_batches(tokenizer, examples.decoder, max_len, batch_size);
      break;
    case ModelKind::Decoder:
      task.decoder_ = decoder_batches(tokenizer, examples.decoder, ids.eos, max_len, batch_size, task.skipped_);
      if (task.decoder_.empty())
        throw Error(cfg.files.front().string() + ": no example has a token to score within max_input_length");
      break;
  }
  return task;
}

size_t FewShotTask::batches() const {
  return decoder_.size() + seq2seq_.size() + encoder_.size() + reranker_.size();
}

std::vector<BatchPartial> FewShotTask::evaluate(WeightSource& weights, size_t first, size_t count,
                                                torch::Device device, uint64_t& bytes_read) const {
  // The run [first, first + count) of whichever kind this task holds.
  auto run = [&](const auto& all) {
    using Batch = typename std::decay_t<decltype(all)>::value_type;
    return std::vector<Batch>(all.begin() + static_cast<ptrdiff_t>(first),
                              all.begin() + static_cast<ptrdiff_t>(first + count));
  };
  if (!reranker_.empty()) return reranker_partials(weights, run(reranker_), pad_id_, device, bytes_read);
  if (!encoder_.empty()) return encoder_partials(weights, run(encoder_), pad_id_, neg_number_, device, bytes_read);
  if (!seq2seq_.empty()) return seq2seq_partials(weights, run(seq2seq_), pad_id_, device, bytes_read);
  return decoder_partials(weights, run(decoder_), pad_id_, device, bytes_read);
}

std::vector<BatchPartial> FewShotTask::evaluate_stage(WeightSource& weights, DecoderLayers layers,
                                                     std::vector<torch::Tensor>& hidden, torch::Device device,
                                                     uint64_t& bytes_read) const {
  if (decoder_.empty()) throw Error("internal: pipeline stages of a model that is not a decoder");
  return decoder_stage_partials(weights, decoder_, pad_id_, layers, hidden, device, bytes_read);
}

std::vector<std::vector<int64_t>> FewShotTask::hidden_shapes(int64_t hidden_size) const {
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& rows : decoder_) {
    const torch::Tensor ids = to_decoder_batch(rows, pad_id_).input_ids;
    shapes.push_back({ids.size(0), ids.size(1), hidden_size});
  }
  return shapes;
}

}  // namespace cocktail
