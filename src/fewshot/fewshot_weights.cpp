#include "fewshot/fewshot_weights.hpp"

#include <dlfcn.h>

#include <chrono>

#include "core/error.hpp"
#include "dist/collective_step.hpp"
#include "fewshot/distributed_losses.hpp"

namespace cocktail {

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

}  // namespace

bool fewshot_forward_on_gpu(int gpu) { return gpu >= 0 && torch::cuda::is_available(); }

torch::Device fewshot_device(int gpu) {
  return fewshot_forward_on_gpu(gpu) ? torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(gpu))
                                     : torch::Device(torch::kCPU);
}

FewShotResult compute_fewshot_weights(Comm& comm, const Job& job,
                                      const std::vector<Checkpoint>& models, int threads, int gpu) {
  torch::set_num_threads(threads);
  use_one_blas_thread();
  const FewShot& cfg = *job.fewshot;
  FewShotResult result;
  result.candidates = job.candidates();
  auto task = std::make_shared<FewShotTask>();
  collective_step(comm, [&] { *task = FewShotTask::prepare(job, models); });
  result.task = task;
  result.examples = task->examples();
  result.batches = task->batches();
  result.skipped = task->skipped();

  const torch::Device device = fewshot_device(gpu);
  result.device = device.str();

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
                                      CheckpointSource source(models[result.candidates[c]]);
                                      return task->evaluate(source, first, count, device, bytes_read);
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
  result.split = BatchSplit::of(result.batches, cfg.held_out);
  const BatchSplit& split = result.split;
  for (size_t c = 0; c < candidates; ++c) {
    result.losses.push_back(loss_over(partials, c, result.batches, 0, split.train, cfg.reduction));
    if (split.held_out > 0)
      result.held_out_losses.push_back(
          loss_over(partials, c, result.batches, split.train, split.held_out, cfg.reduction));
  }
  result.weights = softmax_weights(result.losses, cfg.temperature);
  return result;
}

}  // namespace cocktail
