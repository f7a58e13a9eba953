#include "merge/statistics.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "dist/collective_step.hpp"
#include "merge/input_files.hpp"
#include "merge/stream_merge.hpp"  // unit_sizes

namespace cocktail {
namespace {

// Reads units' inputs, the next one while the current one is accumulated.
class UnitReader {
 public:
  UnitReader(const MergePlan& plan, const std::vector<Checkpoint>& models, int io_threads)
      : plan_(plan), files_(models), io_(io_threads) {}

  // Calls visit(unit, inputs) for each unit index in order.
  void each(const std::vector<size_t>& units, const std::function<void(const WorkUnit&, UnitInputs)>& visit,
            const std::function<void(uint64_t)>& read_bytes) {
    if (units.empty()) return;
    Slot slots[2];
    start(units[0], slots[0]);
    for (size_t i = 0; i < units.size(); ++i) {
      Slot& slot = slots[i % 2];
      for (auto& f : slot.reads) f.wait();
      for (auto& f : slot.reads) f.get();
      slot.reads.clear();
      if (i + 1 < units.size()) start(units[i + 1], slots[(i + 1) % 2]);
      const WorkUnit& unit = plan_.units[units[i]];
      std::vector<const std::byte*> in;
      for (auto& b : slot.buffers) in.push_back(b.data());
      visit(unit, in);
      read_bytes(unit_read_bytes(unit, plan_.tensors[unit.tensor]));
    }
  }

  void check_unchanged() const { files_.check_unchanged(); }

 private:
  struct Slot {
    std::vector<std::vector<std::byte>> buffers;
    std::vector<std::future<void>> reads;
  };
  void start(size_t u, Slot& slot) {
    const WorkUnit& unit = plan_.units[u];
    const PlannedTensor& t = plan_.tensors[unit.tensor];
    slot.buffers.resize(t.sources.size());
    for (size_t s = 0; s < t.sources.size(); ++s) {
      slot.buffers[s].resize(unit.count * dtype_size(t.sources[s].tensor->info.dtype));
      files_.submit_reads(io_, slot.reads, t, s, unit.first, unit.count, slot.buffers[s].data());
    }
  }

  const MergePlan& plan_;
  InputFiles files_;
  ThreadPool io_;  // last: its destructor finishes reads into the slots
};

// This rank's unit indices of each tensor it touches.
std::map<size_t, std::vector<size_t>> rank_units(const MergePlan& plan, int rank) {
  std::map<size_t, std::vector<size_t>> by_tensor;
  for (size_t u = plan.rank_bounds[rank]; u < plan.rank_bounds[rank + 1]; ++u)
    by_tensor[plan.units[u].tensor].push_back(u);
  return by_tensor;
}

}  // namespace

std::vector<size_t> split_tensors(const MergePlan& plan) {
  std::vector<size_t> split;
  const size_t ranks = plan.rank_bounds.size() - 1;
  for (size_t r = 1; r < ranks; ++r) {
    const size_t b = plan.rank_bounds[r];
    if (b == 0 || b >= plan.units.size()) continue;
    const size_t t = plan.units[b].tensor;
    if (plan.units[b - 1].tensor == t && (split.empty() || split.back() != t)) split.push_back(t);
  }
  return split;
}

uint64_t statistics_read_bytes(const TensorMethod& method, const MergePlan& plan, int rank) {
  uint64_t bytes = 0;
  for (size_t u = plan.rank_bounds[rank]; u < plan.rank_bounds[rank + 1]; ++u) {
    const size_t t = plan.units[u].tensor;
    bool read = false;
    for (int p = 0; p < method.passes(); ++p) read = read || method.reads(p, t);
    // A later pass may turn out to be needed (ties at a cut): count every pass.
    if (read) bytes += method.passes() * unit_read_bytes(plan.units[u], plan.tensors[t]);
  }
  return bytes;
}

void run_statistics(Comm& comm, TensorMethod& method, const MergePlan& plan, const std::vector<Checkpoint>& models,
                    const StatisticsOptions& options, const StatisticsProgress& progress) {
  if (method.passes() == 0) return;
  const std::map<size_t, std::vector<size_t>> mine = rank_units(plan, comm.rank());
  const std::vector<size_t> split = split_tensors(plan);
  std::unique_ptr<ChunkCompute> compute;
  std::unique_ptr<UnitReader> reader;
  uint64_t read = 0;
  auto count = [&](uint64_t bytes) {
    read += bytes;
    if (progress) progress(read);
  };
  auto accumulate = [&](int pass, size_t tensor) {
    const auto it = mine.find(tensor);
    if (it == mine.end()) return;
    reader->each(it->second, [&](const WorkUnit& unit, UnitInputs in) { compute->accumulate(pass, method, unit, in); },
                 count);
  };
  collective_step(comm, [&] {
    ComputeSizes sizes = unit_sizes(plan, plan.rank_bounds[comm.rank()], plan.rank_bounds[comm.rank() + 1]);
    sizes.slots = 1;
    // A method without device kernels (slerp's dot products) gathers its
    // statistics on the CPU; its merge may still run on the GPU.
    compute = make_compute(method.has_device_kernels() ? options.gpu : kCpu, options.compute_threads, sizes);
    reader = std::make_unique<UnitReader>(plan, models, options.io_threads);
  });

  // Split tensors first, pass by pass, their states summed over the ranks.
  for (int pass = 0; pass < method.passes(); ++pass) {
    collective_step(comm, [&] {
      for (size_t t : split)
        if (method.reads(pass, t)) accumulate(pass, t);
    });
    for (size_t t : split) {
      if (!method.reads(pass, t)) continue;
      comm.allreduce_sum(method.state(pass, t));
      collective_step(comm, [&] { method.finish(pass, t); });
    }
  }
  // Then each tensor this rank holds alone, all its passes at once.
  collective_step(comm, [&] {
    for (const auto& [t, units] : mine) {
      if (std::find(split.begin(), split.end(), t) != split.end()) continue;
      for (int pass = 0; pass < method.passes(); ++pass) {
        if (!method.reads(pass, t)) continue;
        accumulate(pass, t);
        method.finish(pass, t);
      }
    }
    reader->check_unchanged();
  }, options.failed);
}

}  // namespace cocktail
