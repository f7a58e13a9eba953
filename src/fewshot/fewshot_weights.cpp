#include "fewshot/fewshot_weights.hpp"

#include <dlfcn.h>

#include <chrono>

#include "core/error.hpp"
#include "dist/collective_step.hpp"
#include "fewshot/decoder_evaluator.hpp"
#include "fewshot/encoder_evaluator.hpp"
#include "fewshot/reranker_evaluator.hpp"
#include "fewshot/seq2seq_evaluator.hpp"
#include "fewshot/distributed_losses.hpp"
#include "fewshot/examples.hpp"
#include "model/model_family.hpp"
#include "tokenizer/special_tokens.hpp"
#include "tokenizer/tokenizer.hpp"
#include "io/json_file.hpp"

namespace cocktail {
namespace fs = std::filesystem;

namespace {

// OpenBLAS's matrix products give other bits with another thread count (its
// threaded driver splits the work by the count; measured: docs/fewshot.md),
// and the count would follow the ranks per node. So the BLAS runs on one
// thread, and a batch's loss is the same bits on any rank of any job; libtorch's
// own kernels keep `threads` (their bits do not depend on it). Looked up at
// run time: libblas.so.3 may be another BLAS.
void use_one_blas_thread() {
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

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

bool fewshot_forward_on_gpu(int gpu) { return gpu >= 0 && torch::cuda::is_available(); }

FewShotResult compute_fewshot_weights(Comm& comm, const Job& job,
                                      const std::vector<Checkpoint>& models, int threads, int gpu) {
  torch::set_num_threads(threads);
  use_one_blas_thread();
  const FewShot& cfg = *job.fewshot;
  FewShotResult result;
  result.candidates = job.candidates();
  // Exactly one of the four is filled, by the candidates' kind.
  std::vector<std::vector<ScoredSequence>> decoder_batches_;
  std::vector<std::vector<Seq2SeqRow>> seq2seq_batches_;
  std::vector<EncoderRows> encoder_batches_;
  std::vector<RerankerRows> reranker_batches_;
  SpecialIds ids;
  collective_step(comm, [&] {
    const ModelKind kind = check_families(job, models, result.candidates);
    const Examples examples = load_examples(cfg.files, static_cast<size_t>(cfg.neg_number));
    // As the authors' code: the reference (first) model's tokenizer serves
    // every candidate, which share a base and so a vocabulary.
    const Checkpoint& reference = models[job.reference_index()];
    check_examples_fit(examples, kind, reference.folder(), cfg.files.front());
    const Tokenizer tokenizer = Tokenizer::from_file(reference.folder() / "tokenizer.json");
    ids = read_special_ids(reference.folder(), tokenizer, !examples.is_encoder());
    const auto max_len = static_cast<size_t>(cfg.max_input_length);
    const auto batch_size = static_cast<size_t>(cfg.batch_size);
    if (kind == ModelKind::Reranker) {
      reranker_batches_ = reranker_batches(tokenizer, examples.encoder,
                                           static_cast<size_t>(cfg.neg_number), max_len, batch_size,
                                           cfg.seed, passes_token_type_ids(reference.folder()));
    } else if (kind == ModelKind::Encoder) {
      encoder_batches_ = encoder_batches(tokenizer, examples.encoder,
                                         static_cast<size_t>(cfg.neg_number), max_len, batch_size,
                                         cfg.seed);
    } else if (kind == ModelKind::EncoderDecoder) {
      seq2seq_batches_ = seq2seq_batches(tokenizer, examples.decoder, max_len, batch_size);
    } else {
      decoder_batches_ = decoder_batches(tokenizer, examples.decoder, ids.eos, max_len,
                                         batch_size, result.skipped);
      if (decoder_batches_.empty())
        throw Error(cfg.files.front().string() +
                    ": no example has a token to score within max_input_length");
    }
    result.examples = examples.size();
  });
  result.batches = decoder_batches_.size() + seq2seq_batches_.size() + encoder_batches_.size() +
                   reranker_batches_.size();

  const torch::Device device = fewshot_forward_on_gpu(gpu)
                                   ? torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(gpu))
                                   : torch::Device(torch::kCPU);
  result.device = device.str();

  // The candidate's share of batches [first, first + count) through its model.
  auto evaluate = [&](size_t c, size_t first, size_t count, uint64_t& bytes_read) {
    const Checkpoint& ckpt = models[result.candidates[c]];
    const auto from = static_cast<ptrdiff_t>(first), to = static_cast<ptrdiff_t>(first + count);
    if (!reranker_batches_.empty())
      return reranker_partials(ckpt, {reranker_batches_.begin() + from, reranker_batches_.begin() + to},
                               ids.pad, device, bytes_read);
    if (!seq2seq_batches_.empty())
      return seq2seq_partials(ckpt, {seq2seq_batches_.begin() + from, seq2seq_batches_.begin() + to},
                              ids.pad, device, bytes_read);
    if (!encoder_batches_.empty())
      return encoder_partials(ckpt, {encoder_batches_.begin() + from, encoder_batches_.begin() + to},
                              ids.pad, cfg.neg_number, device, bytes_read);
    return decoder_partials(ckpt, {decoder_batches_.begin() + from, decoder_batches_.begin() + to},
                            ids.pad, device, bytes_read);
  };

  const size_t candidates = result.candidates.size();
  std::vector<BatchPartial> partials;
  uint64_t bytes_read = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    const std::unique_ptr<FailureFlag> failed = comm.make_failure_flag();
    collective_step(
        comm,
        [&] {
          partials = local_partials(candidates, result.batches, comm.size(), comm.rank(),
                                    [&](size_t c, size_t first, size_t count) {
                                      if (failed->raised()) throw StoppedByOtherRank();
                                      return evaluate(c, first, count, bytes_read);
                                    });
        },
        failed.get());
  }
  double cost[2] = {static_cast<double>(bytes_read), 0}, slowest[1] = {
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  comm.allreduce_sum(cost);
  comm.allreduce_max(slowest);
  result.bytes_read = cost[0];
  result.seconds = slowest[0];
  allreduce_partials(comm, partials);
  for (const BatchPartial& p : partials) result.tokens += p.count;
  result.losses = candidate_losses(partials, candidates, cfg.reduction);
  result.weights = softmax_weights(result.losses, cfg.temperature);
  return result;
}

}  // namespace cocktail
