#pragma once
// LM-Cocktail's weights from few-shot examples, across ranks: every rank
// tokenises the examples (cheap, identical everywhere), evaluates its items of
// the loss plan with a layer-streamed forward, and one all-reduce of the
// partials gives every rank the same losses, hence the same weights.
#include <string>
#include <vector>

#include <memory>
#include <optional>

#include "config/job.hpp"
#include "fewshot/choice_trace.hpp"
#include "fewshot/fewshot_task.hpp"
#include "fewshot/weights.hpp"
#include "dist/comm.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

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

// Whether the forward runs on CUDA device `gpu` (-1: the rank has none):
// when this libtorch was built with CUDA. Debian's is CPU-only; on clusters
// users build against their PyTorch's libtorch.
bool fewshot_forward_on_gpu(int gpu);
// The device the forward runs on: cuda:gpu when fewshot_forward_on_gpu(gpu), else the CPU.
torch::Device fewshot_device(int gpu);

// Collective. On any rank's failure every rank throws JobFailed. The forward
// runs libtorch on `gpu` when fewshot_forward_on_gpu(gpu), else on the CPU
// with `threads` intra-op threads. Losses from a GPU forward differ from the
// CPU's in the last bits (other reduction orders in the matmuls), and so may
// the weights.
FewShotResult compute_fewshot_weights(Comm& comm, const Job& job,
                                      const std::vector<Checkpoint>& models, int threads, int gpu);

}  // namespace cocktail
