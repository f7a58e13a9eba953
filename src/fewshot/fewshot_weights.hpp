#pragma once
// LM-Cocktail's weights from few-shot examples, across ranks: every rank
// tokenises the examples (cheap, identical everywhere), evaluates its items of
// the loss plan with a layer-streamed forward, and one all-reduce of the
// partials gives every rank the same losses, hence the same weights.
#include <vector>

#include "config/job.hpp"
#include "dist/comm.hpp"
#include "fewshot/fewshot_result.hpp"
#include "fewshot/fewshot_task.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {


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
