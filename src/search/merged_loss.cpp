#include "search/merged_loss.hpp"

#include <algorithm>

#include "dist/collective_step.hpp"
#include "fewshot/distributed_losses.hpp"
#include "model/decoder_config.hpp"

namespace cocktail {
namespace {

std::vector<const Checkpoint*> pointers(const std::vector<Checkpoint>& models, const std::vector<size_t>& candidates) {
  std::vector<const Checkpoint*> out;
  for (size_t c : candidates) out.push_back(&models[c]);
  return out;
}

// What the caches would hold to keep every input on one rank: the
// candidates as float32 for lm_cocktail's mixture, every model's stored
// bytes for a method (the base is a source too).
uint64_t bytes_to_cache_all(const std::vector<Checkpoint>& models, const std::vector<size_t>& candidates,
                            bool mixture) {
  uint64_t total = 0;
  for (size_t m = 0; m < models.size(); ++m) {
    if (mixture && std::find(candidates.begin(), candidates.end(), m) == candidates.end()) continue;
    for (const CheckpointTensor& t : models[m].tensors())
      total += mixture ? t.info.numel() * sizeof(float) : t.info.nbytes();
  }
  return total;
}

}  // namespace

MergedModelLoss::MergedModelLoss(Comm& comm, const FewShotTask& task, const Job& job,
                                 const std::vector<Checkpoint>& models, const std::vector<size_t>& candidates,
                                 BatchSplit split, torch::Device device, int threads)
    : comm_(comm),
      task_(task),
      job_(job),
      candidates_(candidates),
      split_(split),
      reduction_(job.fewshot->reduction),
      device_(device),
      layers_(decoder_layer_count(models[candidates.front()])) {
  const FewShot& cfg = *job.fewshot;
  if (job.method == MergeMethod::Registered) {
    method_ = std::make_unique<MethodSource>(job, models, cfg.cache_bytes, threads);
  } else {  // The GPU tier only where the forward runs on a GPU.
    mixture_ = std::make_unique<MixtureSource>(pointers(models, candidates), cfg.cache_bytes,
                                               device.is_cuda() ? cfg.gpu_cache_bytes : 0);
  }
  // From what every rank shares (not whether its own GPU was found), so all
  // ranks agree: a method caches on the host only.
  const uint64_t cache = cfg.cache_bytes + (mixture_ ? cfg.gpu_cache_bytes : 0);
  stages_ = cfg.pipeline ? *cfg.pipeline
                         : comm.size() > 1 && layers_ > 0 &&
                               cache < bytes_to_cache_all(models, candidates, mixture_ != nullptr);
  if (stages_) {
    const int64_t hidden = read_decoder_config(models[candidates.front()].folder() / "config.json").hidden_size;
    hidden_shapes_ = task_.hidden_shapes(hidden);
  }
}

void MergedModelLoss::set_recipe(const std::vector<std::vector<double>>& by_group, const std::vector<double>& density) {
  if (mixture_) return mixture_->set_group_weights(by_group, layers_);
  method_->set_job(with_candidate_recipe(job_, candidates_, by_group.front(), density));
}

std::vector<BatchPartial> MergedModelLoss::staged_partials(WeightSource& source) {
  const int ranks = comm_.size(), rank = comm_.rank();
  const DecoderLayers mine{layer_group_begin(rank, ranks, layers_), layer_group_begin(rank + 1, ranks, layers_),
                           rank == 0};
  std::vector<BatchPartial> partials(task_.batches());  // zeros but on the last stage
  std::vector<torch::Tensor> hidden;
  for (int stage = 0; stage < ranks; ++stage) {
    // One rank works, the next makes room for what it will receive, the
    // others wait in the agreement that follows.
    collective_step(comm_, [&] {
      if (rank == stage) {
        std::vector<BatchPartial> p = task_.evaluate_stage(source, mine, hidden, device_, bytes_read_);
        if (stage == ranks - 1) partials = std::move(p);
        for (torch::Tensor& h : hidden) h = h.to(torch::kCPU, torch::kFloat).contiguous();
      } else if (rank == stage + 1) {
        for (const std::vector<int64_t>& shape : hidden_shapes_) hidden.push_back(torch::empty(shape, torch::kFloat));
      }
    });
    if (stage + 1 == ranks) break;
    // Both ranks passed the agreement with their buffers ready: nothing
    // between here and the next step can fail on one side only.
    if (rank == stage) {
      for (const torch::Tensor& h : hidden) comm_.send({h.data_ptr<float>(), static_cast<size_t>(h.numel())}, stage + 1);
      hidden.clear();
    } else if (rank == stage + 1) {
      for (torch::Tensor& h : hidden) comm_.receive({h.data_ptr<float>(), static_cast<size_t>(h.numel())}, stage);
    }
  }
  return partials;
}

MergedLoss MergedModelLoss::operator()(const std::vector<std::vector<double>>& by_group,
                                       const std::vector<double>& density) {
  WeightSource& source = mixture_ ? static_cast<WeightSource&>(*mixture_) : *method_;
  const size_t batches = task_.batches();
  std::vector<BatchPartial> partials;
  if (stages_) {
    collective_step(comm_, [&] { set_recipe(by_group, density); });
    partials = staged_partials(source);
  } else {
    const std::unique_ptr<FailureFlag> failed = comm_.make_failure_flag();
    collective_step(
        comm_,
        [&] {
          set_recipe(by_group, density);
          // One "candidate", the merged model: its batches split over every rank.
          partials = local_partials(1, batches, comm_.size(), comm_.rank(), [&](size_t, size_t first, size_t count) {
            if (failed->raised()) throw StoppedByOtherRank();
            return task_.evaluate(source, first, count, device_, bytes_read_);
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
