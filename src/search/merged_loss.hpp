#pragma once
// The few-shot loss of a merged model sum_i w_i M_i without writing it. The
// task's batches are split across the ranks (a contiguous run each); every
// rank streams the mixture's tensors, computed in memory from the
// candidates' (model/mixture_source), through the forward for its run, and
// one all-reduce of the partials gives every rank the same losses bit for
// bit, so every rank takes the same next step of a search.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "config/job.hpp"
#include "dist/comm.hpp"
#include "fewshot/choice_trace.hpp"
#include "fewshot/fewshot_task.hpp"
#include "fewshot/weights.hpp"
#include "model/mixture_source.hpp"

namespace cocktail {

class MergedModelLoss {
 public:
  // `candidates`: indices into `models`, in the order weights are given;
  // `split`: the task's batches that choose and those held out.
  MergedModelLoss(Comm& comm, const FewShotTask& task, const std::vector<Checkpoint>& models,
                  const std::vector<size_t>& candidates, BatchSplit split, const FewShot& cfg,
                  torch::Device device);

  // Collective. On any rank's failure every rank throws JobFailed.
  MergedLoss operator()(const std::vector<double>& weights) {
    return (*this)(std::vector<std::vector<double>>{weights});
  }
  // With weights per layer group (MixtureSource::set_group_weights).
  MergedLoss operator()(const std::vector<std::vector<double>>& by_group);

  int64_t layers() const { return layers_; }  // decoder layers of the candidates (0: not a decoder)

  BatchSplit split() const { return split_; }
  uint64_t bytes_read() const { return bytes_read_; }  // this rank's, all evaluations

 private:
  Comm& comm_;
  const FewShotTask& task_;
  MixtureSource source_;
  BatchSplit split_;
  LossReduction reduction_;
  torch::Device device_;
  int64_t layers_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace cocktail
