#pragma once
// LM-Cocktail's weights from few-shot examples, across ranks: every rank
// tokenises the examples (cheap, identical everywhere), evaluates its items of
// the loss plan with a layer-streamed forward, and one all-reduce of the
// partials gives every rank the same losses, hence the same weights.
#include <string>
#include <vector>

#include "config/job.hpp"
#include "dist/comm.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

struct FewShotResult {
  std::vector<size_t> candidates;  // indices into Job::models
  std::vector<double> losses;      // per candidate
  std::vector<double> weights;     // softmax(-loss / temperature)
  size_t examples = 0, batches = 0;
  std::vector<std::string> skipped;  // "file:line" of examples with nothing to score
  // What the evaluation cost, over all ranks: checkpoint bytes read (each
  // evaluating rank reads its candidate once), tokens scored, slowest rank.
  double bytes_read = 0, tokens = 0, seconds = 0;
  std::string device;  // where this rank ran the forward: cpu, or cuda:N
};

// Collective. On any rank's failure every rank throws JobFailed. The forward
// runs libtorch with `threads` intra-op threads.
FewShotResult compute_fewshot_weights(Comm& comm, const Job& job,
                                      const std::vector<Checkpoint>& models, int threads);

}  // namespace cocktail
