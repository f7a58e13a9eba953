#include "search/merged_loss.hpp"

#include <algorithm>

#include "dist/collective_step.hpp"
#include "fewshot/distributed_losses.hpp"

namespace cocktail {
namespace {

std::vector<const Checkpoint*> pointers(const std::vector<Checkpoint>& models, const std::vector<size_t>& candidates) {
  std::vector<const Checkpoint*> out;
  for (size_t c : candidates) out.push_back(&models[c]);
  return out;
}

}  // namespace

MergedModelLoss::MergedModelLoss(Comm& comm, const FewShotTask& task, const std::vector<Checkpoint>& models,
                                 const std::vector<size_t>& candidates, BatchSplit split, const FewShot& cfg,
                                 torch::Device device)
    : comm_(comm),
      task_(task),
      // The GPU tier only where the forward runs on a GPU.
      source_(pointers(models, candidates), cfg.cache_bytes, device.is_cuda() ? cfg.gpu_cache_bytes : 0),
      split_(split),
      reduction_(cfg.reduction),
      device_(device),
      layers_(decoder_layer_count(models[candidates.front()])) {}

MergedLoss MergedModelLoss::operator()(const std::vector<std::vector<double>>& by_group) {
  source_.set_group_weights(by_group, layers_);
  const size_t batches = task_.batches();
  std::vector<BatchPartial> partials;
  {
    const std::unique_ptr<FailureFlag> failed = comm_.make_failure_flag();
    collective_step(
        comm_,
        [&] {
          // One "candidate", the merged model: its batches split over every rank.
          partials = local_partials(1, batches, comm_.size(), comm_.rank(), [&](size_t, size_t first, size_t count) {
            if (failed->raised()) throw StoppedByOtherRank();
            return task_.evaluate(source_, first, count, device_, bytes_read_);
          });
        },
        failed.get());
  }
  allreduce_partials(comm_, partials);
  MergedLoss loss;
  loss.train = loss_over(partials, 0, batches, 0, split_.train, reduction_);
  if (split_.held_out > 0) loss.held_out = loss_over(partials, 0, batches, split_.train, split_.held_out, reduction_);
  return loss;
}

}  // namespace cocktail
