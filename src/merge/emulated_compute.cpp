// The GPU path's code on the CPU: what gpu/cuda_compute.cpp enqueues, run here
// element by element with the same __host__ __device__ functions
// (weighted_sum_group.hpp, task_vector_unit.hpp), with the two steps the
// GPU leaves to CUB (the prefix count of a cut's ties, the sort of a DELLA
// row) done by their definition. It lets a machine without a GPU run the
// device descriptions of every method end to end under mpirun and compare
// the bytes with the CPU path's (`cocktail_dist --emulate-gpu`); it is slow
// (one thread, no vectors) and exists for that check.
#include <algorithm>
#include <vector>

#include "exact_sum.hpp"
#include "lora_update.hpp"
#include "merge/chunk_compute.hpp"
#include "weighted_sum_group.hpp"

namespace cocktail {
namespace {

struct Sources {
  explicit Sources(UnitInputs in) { std::copy(in.begin(), in.end(), p); }
  const void* p[kMaxTaskVectorModels + 1] = {};
};

// The masks task_vector.cu computes before the apply, into masks[i * count + j].
void precompute_masks(const TaskVectorUnit& u, const void* const* src, std::vector<uint8_t>& masks) {
  masks.assign(size_t(u.models) * u.count, 0);
  std::vector<uint64_t> row;
  for (int i = 0; i < u.models; ++i) {
    const ModelMask& m = u.mask[i];
    if (!mask_precomputed(m)) continue;
    uint8_t* keep = masks.data() + size_t(i) * u.count;
    if (m.kind == MaskKind::Magnitude) {
      uint64_t hi_equal = 0, lo_equal = 0;  // the exclusive prefix sums of the GPU's scan
      for (uint64_t j = 0; j < u.count; ++j) {
        const uint32_t key = magnitude_key(unit_delta(u, src, i, j));
        keep[j] = magnitude_keep(m, key, hi_equal, lo_equal);
        hi_equal += key == m.hi.threshold;
        lo_equal += key == m.lo.threshold;
      }
      continue;
    }
    // DELLA: each row's (key, column) pairs ascending, as the segmented sort.
    row.resize(u.cols);
    for (uint64_t r = 0; r * u.cols < u.count; ++r) {
      for (uint64_t c = 0; c < u.cols; ++c)
        row[c] = (uint64_t(magnitude_key(unit_delta(u, src, i, r * u.cols + c))) << 32) | c;
      std::sort(row.begin(), row.end());
      for (uint64_t rank = 0; rank < u.cols; ++rank) {
        const uint64_t j = r * u.cols + (row[rank] & 0xFFFFFFFFu);
        keep[j] = della_keep(u, i, j, rank);
      }
    }
  }
}

class EmulatedCompute : public ChunkCompute {
 public:
  HostBuffer host_buffer(size_t bytes) override { return aligned_host_buffer(bytes); }

  bool adds_lora_updates() const override { return true; }
  void set_updates(size_t, std::vector<LoraUpdate> updates) override { updates_ = std::move(updates); }

  void start(size_t, std::span<const WeightedInput> in, std::byte* out, DType out_dtype, size_t n,
             uint64_t* nonfinite) override {
    std::vector<const std::byte*> data;
    for (const WeightedInput& w : in) data.push_back(static_cast<const std::byte*>(w.data));
    apply_updates(data);
    SumArgs args;
    args.models = static_cast<int>(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      args.in[i] = data[i];
      args.dtype[i] = in[i].dtype;
      args.weight[i] = in[i].weight;
    }
    std::vector<unsigned long long> counts(in.size() + 1, 0);
    args.out = out;
    args.out_dtype = out_dtype;
    args.n = n;
    args.nonfinite = counts.data();
    for (uint64_t j = 0; j < n; ++j) sum_element(args, j);
    for (size_t i = 0; i < counts.size(); ++i) nonfinite[i] += counts[i];
  }

  void start_method(size_t, const TensorMethod& method, const WorkUnit& unit, UnitInputs in, std::byte* out,
                    uint64_t* nonfinite) override {
    const TaskVectorUnit u = method.device_unit(unit);
    std::vector<const std::byte*> data(in.begin(), in.end());
    apply_updates(data);
    const Sources src(data);
    precompute_masks(u, src.p, masks_);
    for (uint64_t j = 0; j < u.count; ++j) apply_element(u, src.p, masks_.data(), out, j, nonfinite);
  }

  void accumulate(int pass, TensorMethod& method, const WorkUnit& unit, UnitInputs in) override {
    const TaskVectorUnit u = method.device_unit(unit);
    const TaskVectorStats s = method.device_statistics(pass, unit);
    const Sources src(in);
    if (s.kind == StatsKind::Norms) precompute_masks(u, src.p, masks_);
    uint64_t* state = method.state(pass, unit.tensor).data();
    uint64_t unused[ExactSum::kSize];
    for (int i = 0; i < u.models; ++i) {
      const ModelStats& m = s.model[i];
      if (!m.active) continue;
      uint64_t* sums[2];
      for (int k = 0; k < 2; ++k) sums[k] = m.sum[k] == kNone ? unused : state + m.sum[k];
      for (uint64_t j = 0; j < u.count; ++j) stats_unit_element(u, s, src.p, masks_.data(), i, j, state, sums);
    }
  }

  void wait(size_t) override {}
  void finish(size_t) override {}
  const char* name() const override { return "cuda emulated on the cpu"; }

 private:
  // What gpu/cuda_compute.cpp does to its device copies of the inputs: each
  // update into a copy of its input, which then stands for it.
  void apply_updates(std::vector<const std::byte*>& data) {
    copies_.resize(updates_.size());
    for (size_t k = 0; k < updates_.size(); ++k) {
      LoraArgs a = updates_[k].args;
      const std::byte* src = data.at(updates_[k].input);
      copies_[k].assign(src, src + a.count * dtype_size(a.dtype));
      a.data = copies_[k].data();
      for (uint64_t j = 0; j < a.count; ++j) lora_update_element(a, j);
      data[updates_[k].input] = copies_[k].data();
    }
    updates_.clear();
  }

  std::vector<uint8_t> masks_;
  std::vector<LoraUpdate> updates_;  // of the next start
  std::vector<std::vector<std::byte>> copies_;
};

}  // namespace

std::unique_ptr<ChunkCompute> make_emulated_compute() { return std::make_unique<EmulatedCompute>(); }

}  // namespace cocktail
