#include "search/method_source.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "merge/chunk_compute.hpp"
#include "model/tensor_loader.hpp"

namespace cocktail {
namespace {

const Method& method_of(const Job& job) {
  const Method* m = find_method(job.method_name);
  if (!m) throw Error("internal: scoring merges of unknown method '" + job.method_name + "'");
  return *m;
}

}  // namespace

MethodSource::MethodSource(const Job& job, const std::vector<Checkpoint>& models, uint64_t cache_bytes, int threads)
    : models_(models),
      method_(method_of(job)),
      reference_(job.reference_index()),
      files_(models),
      compute_(make_cpu_compute(std::max(1, threads))),
      io_(2),
      cache_budget_(cache_bytes) {
  // The plan the merge itself builds (merge_command's plan_merge), on one
  // rank: the whole tensor is one unit, which every method's contract gives
  // the same bytes as any split.
  PlanOptions options;
  options.reference = reference_;
  options.summed = method_.sources(job);
  options.unit_alignment = [this, &job](const PlannedTensor& t) { return method_.unit_alignment(job, t); };
  options.out_dtype = job.out_dtype;
  options.chunk_size = job.chunk_size;
  plan_ = make_merge_plan(models_, options);
  for (size_t t = 0; t < plan_.tensors.size(); ++t) index_[plan_.tensors[t].name] = t;
}

void MethodSource::set_job(const Job& job) {
  job_ = job;
  prepared_ = method_.prepare(job_, plan_);
  merged_index_ = SIZE_MAX;
  merged_ = torch::Tensor();
}

const std::byte* MethodSource::source_bytes(size_t t, size_t s, std::vector<std::byte>& scratch,
                                            uint64_t& bytes_read) {
  if (const auto hit = cache_.find({t, s}); hit != cache_.end()) return hit->second.data();
  const PlannedTensor& pt = plan_.tensors[t];
  const uint64_t bytes = pt.sources[s].tensor->info.nbytes();
  scratch.resize(bytes);
  std::vector<std::future<void>> reads;
  files_.submit_reads(io_, reads, pt, s, 0, pt.numel, scratch.data());
  wait_all(reads);
  bytes_read += bytes;
  if (cached_ + bytes > cache_budget_) return scratch.data();
  cached_ += bytes;
  return cache_.emplace(std::pair{t, s}, std::move(scratch)).first->second.data();
}

// The engine's steps for one unit (stream_merge's compute_unit, statistics'
// passes) with the whole tensor as the unit.
std::vector<std::byte> MethodSource::merge_tensor(size_t t, uint64_t& bytes_read) {
  const PlannedTensor& pt = plan_.tensors[t];
  const size_t n = pt.sources.size();
  std::vector<std::vector<std::byte>> scratch(n);
  std::vector<const std::byte*> in(n);
  for (size_t s = 0; s < n; ++s) in[s] = source_bytes(t, s, scratch[s], bytes_read);
  std::vector<std::byte> out(pt.out_bytes());
  if (pt.action == TensorAction::CopyReference) {
    std::memcpy(out.data(), in[0], out.size());
    return out;
  }
  const WorkUnit unit{static_cast<uint32_t>(t), 0, pt.numel};
  for (int pass = 0; pass < prepared_->passes(); ++pass) {
    if (!prepared_->reads(pass, t)) continue;
    compute_->accumulate(pass, *prepared_, unit, in);
    prepared_->finish(pass, t);
  }
  std::vector<uint64_t> nonfinite(n + 1, 0);
  if (prepared_->weighted_by_tensor()) {
    const std::vector<float> weights = prepared_->tensor_weights(t);
    std::vector<WeightedInput> weighted;
    for (size_t s = 0; s < n; ++s) weighted.push_back({in[s], pt.sources[s].tensor->info.dtype, weights[s]});
    compute_->start(0, weighted, out.data(), pt.out_dtype, pt.numel, nonfinite.data());
  } else {
    compute_->start_method(0, *prepared_, unit, in, out.data(), nonfinite.data());
  }
  compute_->finish(0);
  return out;
}

torch::Tensor MethodSource::rows(const std::string& name, int64_t begin, int64_t end, torch::Device device,
                                 uint64_t& bytes_read) {
  const auto at = index_.find(name);
  if (at == index_.end()) require_tensor(layout(), name);  // throws naming the checkpoint
  const size_t t = at->second;
  if (!prepared_) throw Error("internal: a method's merged tensor asked for before its weights were set");
  if (merged_index_ != t) {
    const PlannedTensor& pt = plan_.tensors[t];
    std::vector<std::byte> bytes = merge_tensor(t, bytes_read);
    const std::vector<int64_t> shape(pt.shape.begin(), pt.shape.end());
    const torch::ScalarType type = float_scalar_type(pt.out_dtype, layout().path().string() + ": merged tensor '" + name + "'");
    merged_ = torch::from_blob(bytes.data(), shape, torch::TensorOptions().dtype(type)).to(torch::kFloat, false, true);
    merged_index_ = t;
  }
  const int64_t rows = merged_.dim() == 0 ? 1 : merged_.size(0);
  if (begin < 0 || begin > end || end > rows)
    throw Error(layout().path().string() + ": tensor '" + name + "': rows [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") are outside its " + std::to_string(rows) + " rows");
  // A copy: the forward frees what it holds, which must not keep this alive.
  if (merged_.dim() == 0) return merged_.to(device, false, true);
  return merged_.narrow(0, begin, end - begin).to(device, false, true);
}

}  // namespace cocktail
