#include "fewshot/fewshot_weights.hpp"

#include "core/error.hpp"
#include "dist/collective_step.hpp"
#include "fewshot/decoder_evaluator.hpp"
#include "fewshot/distributed_losses.hpp"
#include "fewshot/examples.hpp"
#include "fewshot/special_tokens.hpp"
#include "fewshot/tokenizer.hpp"

namespace cocktail {

FewShotResult compute_fewshot_weights(Comm& comm, const Job& job,
                                      const std::vector<Checkpoint>& models) {
  const FewShot& cfg = *job.fewshot;
  FewShotResult result;
  result.candidates = job.candidates();
  std::vector<std::vector<ScoredSequence>> batches;
  SpecialIds ids;
  collective_step(comm, [&] {
    const Examples examples = load_examples(cfg.files, static_cast<size_t>(cfg.neg_number));
    if (examples.is_encoder())
      throw Error(examples.encoder.front().where +
                  ": encoder (embedding model) examples are not supported yet; decoder "
                  "examples {input, output} are");
    // As the authors' code: the reference (first) model's tokenizer serves
    // every candidate, which share a base and so a vocabulary.
    const Checkpoint& reference = models[job.reference_index()];
    const Tokenizer tokenizer = Tokenizer::from_file(reference.folder() / "tokenizer.json");
    ids = read_special_ids(reference.folder(), tokenizer);
    batches = decoder_batches(tokenizer, examples.decoder, ids.eos,
                              static_cast<size_t>(cfg.max_input_length),
                              static_cast<size_t>(cfg.batch_size), result.skipped);
    if (batches.empty())
      throw Error(cfg.files.front().string() +
                  ": no example has a token to score within max_input_length");
    result.examples = examples.size();
  });
  result.batches = batches.size();

  const size_t candidates = result.candidates.size();
  std::vector<BatchPartial> partials;
  {
    const std::unique_ptr<FailureFlag> failed = comm.make_failure_flag();
    collective_step(
        comm,
        [&] {
          partials = local_partials(
              candidates, batches.size(), comm.size(), comm.rank(),
              [&](size_t c, size_t first, size_t count) {
                if (failed->raised()) throw StoppedByOtherRank();
                const std::vector<std::vector<ScoredSequence>> mine(
                    batches.begin() + static_cast<ptrdiff_t>(first),
                    batches.begin() + static_cast<ptrdiff_t>(first + count));
                return decoder_partials(models[result.candidates[c]], mine, ids.pad, torch::kCPU);
              });
        },
        failed.get());
  }
  allreduce_partials(comm, partials);
  result.losses = candidate_losses(partials, candidates, cfg.reduction);
  result.weights = softmax_weights(result.losses, cfg.temperature);
  return result;
}

}  // namespace cocktail
