#pragma once
// The merged model of a method of src/merge/methods/ (ties, dare_ties,
// della, task_arithmetic, ...) computed in memory a tensor at a time when the
// forward asks for it, so a search can score a recipe of weights and
// densities without writing it. Every method's statistics are per tensor
// (merge/tensor_method.hpp), so one tensor's passes and apply need only that
// tensor of each source: the values are the bytes the streaming merge would
// write for the same job, converted to float32 for the forward.
//
// A search evaluates the same sources many times: their stored bytes stay in
// host memory while they fit `cache_bytes`, else are re-read. The merged
// tensor asked for last is kept until another is asked for, since the
// embedding and output heads are read a slice of rows at a time.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "config/job.hpp"
#include "core/thread_pool.hpp"
#include "merge/chunk_compute.hpp"
#include "merge/input_files.hpp"
#include "merge/methods/method.hpp"
#include "model/weight_source.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

class MethodSource : public WeightSource {
 public:
  // `job` names a registered method and gives the plan (its weights may
  // still be unset); `models` outlive the source.
  MethodSource(const Job& job, const std::vector<Checkpoint>& models, uint64_t cache_bytes, int threads);

  // The job with this evaluation's parameters (the candidates' weights and
  // densities), before the first tensor is asked for: the method resolves
  // them again for every tensor. Throws naming the setting when a value is
  // out of the method's range.
  void set_job(const Job& job);

  const Checkpoint& layout() const override { return models_[reference_]; }
  torch::Tensor rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                     uint64_t& bytes_read) override;

 private:
  // Whole tensor t merged, in the plan's output dtype.
  std::vector<std::byte> merge_tensor(size_t t, uint64_t& bytes_read);
  // Source s of tensor t as stored, from the cache or the file.
  const std::byte* source_bytes(size_t t, size_t s, std::vector<std::byte>& scratch, uint64_t& bytes_read);

  const std::vector<Checkpoint>& models_;
  const Method& method_;
  size_t reference_;
  Job job_;
  MergePlan plan_;
  std::map<std::string, size_t> index_;  // tensor name -> plan_.tensors index
  std::unique_ptr<PreparedMethod> prepared_;
  InputFiles files_;
  std::unique_ptr<ChunkCompute> compute_;  // the CPU kernels the merge runs
  ThreadPool io_;
  uint64_t cache_budget_, cached_ = 0;
  std::map<std::pair<size_t, size_t>, std::vector<std::byte>> cache_;  // (tensor, source) -> stored bytes
  size_t merged_index_ = SIZE_MAX;  // the tensor `merged_` holds for this job, if any
  torch::Tensor merged_;
};

}  // namespace cocktail
