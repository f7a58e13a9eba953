#pragma once
// What the few-shot step found: losses, weights, and what it cost. Free of
// libtorch, so the command line can hold it while the step itself lives in
// the module loaded on demand (cli/fewshot_module.hpp).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fewshot/choice_trace.hpp"
#include "fewshot/weights.hpp"

namespace cocktail {

class FewShotTask;  // fewshot/fewshot_task.hpp

struct FewShotResult {
  std::vector<size_t> candidates;  // indices into Job::models
  std::vector<double> losses;      // per candidate, over the batches that choose the weights
  std::vector<double> held_out_losses;  // per candidate over the held-out batches; empty: none held out
  BatchSplit split;
  // softmax(-loss / temperature), or what a search or soup chose (`choice`)
  std::vector<double> weights;
  std::optional<WeightChoiceTrace> choice;
  size_t examples = 0, batches = 0;
  std::vector<std::string> skipped;  // "file:line" of examples with nothing to score
  // What the evaluation cost, over all ranks: checkpoint bytes read (each
  // evaluating rank reads its candidate once), tokens scored, slowest rank.
  double bytes_read = 0, tokens = 0, seconds = 0;
  std::string device;  // where this rank ran the forward: cpu, or cuda:N
  // The tokenised batches, for a step that scores merged models next (src/search/).
  std::shared_ptr<const FewShotTask> task;
};

}  // namespace cocktail
