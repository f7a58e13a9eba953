#pragma once
// The few-shot loss of a merged model without writing it: lm_cocktail's
// sum_i w_i M_i (model/mixture_source), or the job's method of
// src/merge/methods/ with the candidates' weights (and densities) set
// (search/method_source). Across ranks, either the task's batches are split
// (a contiguous run each, every rank streaming every merged tensor) or a
// decoder's layers are (pipeline stages, each rank computing only its
// layers' merged tensors). Either way each batch runs through the same
// operations, and one all-reduce of the partials gives every rank the same
// losses bit for bit, so every rank takes the same next step of a search.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "config/job.hpp"
#include "dist/comm.hpp"
#include "fewshot/choice_trace.hpp"
#include "fewshot/fewshot_task.hpp"
#include "fewshot/weights.hpp"
#include "model/mixture_source.hpp"
#include "search/method_source.hpp"

namespace cocktail {

class MergedModelLoss {
 public:
  // `candidates`: indices into `job.models`, in the order weights are given;
  // `split`: the task's batches that choose and those held out; `threads`:
  // a method's merge kernels'. `job` and `models` outlive this.
  MergedModelLoss(Comm& comm, const FewShotTask& task, const Job& job, const std::vector<Checkpoint>& models,
                  const std::vector<size_t>& candidates, BatchSplit split, torch::Device device, int threads);

  // Collective. On any rank's failure every rank throws JobFailed.
  MergedLoss operator()(const std::vector<double>& weights) {
    return (*this)(std::vector<std::vector<double>>{weights});
  }
  // With weights per layer group (MixtureSource::set_group_weights), and
  // for a method one density per candidate (empty: the job's own).
  MergedLoss operator()(const std::vector<std::vector<double>>& by_group, const std::vector<double>& density = {});

  int64_t layers() const { return layers_; }  // decoder layers of the candidates (0: not a decoder)
  // Ranks the layers are split over as pipeline stages (1: the batches are split).
  int stages() const { return stages_ ? comm_.size() : 1; }

  BatchSplit split() const { return split_; }
  uint64_t bytes_read() const { return bytes_read_; }  // this rank's, all evaluations

 private:
  void set_recipe(const std::vector<std::vector<double>>& by_group, const std::vector<double>& density);
  // Rank r of R runs layers [rL/R, (r+1)L/R) of every batch (the first
  // also embeds, the last scores) and passes the hidden states to rank
  // r + 1: each rank reads, mixes and caches only its layers. Returns every
  // batch's partials on the last rank, zeros elsewhere.
  std::vector<BatchPartial> staged_partials(WeightSource& source);

  Comm& comm_;
  const FewShotTask& task_;
  const Job& job_;
  std::vector<size_t> candidates_;
  std::unique_ptr<MixtureSource> mixture_;  // lm_cocktail
  std::unique_ptr<MethodSource> method_;    // a method of src/merge/methods/
  BatchSplit split_;
  LossReduction reduction_;
  torch::Device device_;
  int64_t layers_ = 0;
  bool stages_ = false;
  std::vector<std::vector<int64_t>> hidden_shapes_;  // each batch's, between stages
  uint64_t bytes_read_ = 0;
};

}  // namespace cocktail
