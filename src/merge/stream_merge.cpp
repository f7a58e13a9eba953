#include "merge/stream_merge.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "core/thread_pool.hpp"
#include "io/file.hpp"
#include "merge/chunk_compute.hpp"

namespace cocktail {
namespace {

// Large transfers are split so several I/O threads work on one range: one
// outstanding pread per thread leaves fast storage idle.
constexpr uint64_t kIoPiece = 8ull << 20;

struct Slot {
  std::vector<HostBuffer> inputs;  // one per source
  HostBuffer output;
  std::vector<std::future<void>> reads, writes;
};

void wait_all(std::vector<std::future<void>>& futures) {
  for (auto& f : futures) f.wait();
  for (auto& f : futures) f.get();  // rethrows the first failure
  futures.clear();
}

// Opens each input and output file once per rank, on first use.
class FileCache {
 public:
  FileCache(const std::vector<Checkpoint>& models, const std::filesystem::path& out_dir,
            const OutputLayout& layout)
      : models_(models), out_dir_(out_dir), layout_(layout) {}

  const File& input(const TensorSource& s) {
    auto key = std::make_pair(s.model, s.tensor->file);
    auto it = inputs_.find(key);
    if (it == inputs_.end())
      it = inputs_.emplace(key, File(models_[s.model].files()[s.tensor->file].path.string(),
                                     File::Mode::Read)).first;
    return it->second;
  }

  const File& output(size_t shard) {
    auto it = outputs_.find(shard);
    if (it == outputs_.end())
      it = outputs_.emplace(shard, File((out_dir_ / layout_.shards[shard].file_name).string(),
                                        File::Mode::ReadWrite)).first;
    return it->second;
  }

  void sync_outputs() const {
    for (const auto& [shard, file] : outputs_) file.sync();
  }

 private:
  const std::vector<Checkpoint>& models_;
  std::filesystem::path out_dir_;
  const OutputLayout& layout_;
  std::map<std::pair<size_t, uint32_t>, File> inputs_;
  std::map<size_t, File> outputs_;
};

void submit_pieces(ThreadPool& io, std::vector<std::future<void>>& into, uint64_t bytes,
                   const std::function<void(uint64_t, uint64_t)>& transfer) {
  for (uint64_t done = 0; done < bytes; done += kIoPiece) {
    const uint64_t n = std::min(kIoPiece, bytes - done);
    into.push_back(io.submit([transfer, done, n] { transfer(done, n); }));
  }
}

}  // namespace

StreamStats stream_merge(const MergePlan& plan, const std::vector<Checkpoint>& models,
                         const MergeRecipe& recipe, const std::filesystem::path& out_dir,
                         int rank, const StreamOptions& options, const ProgressFn& progress) {
  const size_t begin = plan.rank_bounds[rank], end = plan.rank_bounds[rank + 1];
  const size_t summed = recipe.models.size();
  StreamStats stats;
  stats.nonfinite.assign(plan.tensors.size() * (summed + 1), 0);
  stats.differs.assign(plan.tensors.size(), 0);

  // Size the ring for the largest unit this rank will see.
  size_t max_sources = 0;
  uint64_t max_in = 0, max_out = 0;
  for (size_t u = begin; u < end; ++u) {
    const PlannedTensor& t = plan.tensors[plan.units[u].tensor];
    max_sources = std::max(max_sources, t.sources.size());
    max_out = std::max(max_out, plan.units[u].count * dtype_size(t.out_dtype));
    for (const auto& s : t.sources)
      max_in = std::max(max_in, plan.units[u].count * dtype_size(s.tensor->info.dtype));
  }
  // The GPU computes asynchronously: one more slot lets unit u's sum run
  // while unit u-1's write drains and units u+1.. are read.
  const size_t lookahead = static_cast<size_t>(std::max(1, options.prefetch));
  const size_t slot_count = lookahead + 1 + (options.gpu >= 0 ? 1 : 0);
  // Before the compute: its destructor waits for the GPU to stop using them.
  std::vector<Slot> slots(slot_count);
  const std::unique_ptr<ChunkCompute> compute =
      options.gpu >= 0 ? make_cuda_compute(options.gpu, {slot_count, summed, max_in, max_out})
                       : make_cpu_compute(options.compute_threads);
  stats.compute = compute->name();
  for (auto& slot : slots) {
    for (size_t s = 0; s < max_sources; ++s) slot.inputs.push_back(compute->host_buffer(max_in));
    slot.output = compute->host_buffer(max_out);
  }
  FileCache files(models, out_dir, plan.layout);
  // Declared after the slots, files and compute they use: on an exception
  // the pool's destructor finishes every queued transfer before those go.
  ThreadPool io(options.io_threads);

  // Reserving this rank's output first makes a full disk fail before any
  // work, and spreads the allocation over the ranks.
  for (const auto& [shard, range] : plan.rank_output_ranges(rank))
    files.output(shard).reserve(range.first, range.second - range.first);

  auto slot_index = [&](size_t u) { return (u - begin) % slots.size(); };
  auto slot_of = [&](size_t u) -> Slot& { return slots[slot_index(u)]; };

  auto start_reads = [&](size_t u) {
    Slot& slot = slot_of(u);
    wait_all(slot.writes);  // the slot's previous unit must be on disk first
    compute->finish(slot_index(u));
    const WorkUnit& unit = plan.units[u];
    const PlannedTensor& t = plan.tensors[unit.tensor];
    for (size_t s = 0; s < t.sources.size(); ++s) {
      const CheckpointTensor& src = *t.sources[s].tensor;
      const uint64_t size = dtype_size(src.info.dtype);
      const File* file = &files.input(t.sources[s]);
      const uint64_t offset = src.file_offset() + unit.first * size;
      std::byte* dst = slot.inputs[s].get();
      submit_pieces(io, slot.reads, unit.count * size, [file, dst, offset](uint64_t at, uint64_t n) {
        file->pread_full(dst + at, n, offset + at);
      });
    }
  };

  auto compute_unit = [&](size_t u) -> const std::byte* {
    Slot& slot = slot_of(u);
    const WorkUnit& unit = plan.units[u];
    const PlannedTensor& t = plan.tensors[unit.tensor];
    if (t.action == TensorAction::CopyReference) {
      const uint64_t bytes = unit.count * dtype_size(t.out_dtype);
      for (size_t s = 1; s < t.sources.size(); ++s)
        if (std::memcmp(slot.inputs[0].get(), slot.inputs[s].get(), bytes) != 0)
          stats.differs[unit.tensor] = 1;
      return slot.inputs[0].get();
    }
    std::vector<WeightedInput> in;
    for (size_t s = 0; s < summed; ++s)
      in.push_back({slot.inputs[s].get(), t.sources[s].tensor->info.dtype, recipe.weights[s]});
    compute->start(slot_index(u), in, slot.output.get(), t.out_dtype, unit.count,
                   &stats.nonfinite[unit.tensor * (summed + 1)]);
    return slot.output.get();
  };

  auto start_write = [&](size_t u, const std::byte* data) {
    const WorkUnit& unit = plan.units[u];
    const PlannedTensor& t = plan.tensors[unit.tensor];
    const uint64_t size = dtype_size(t.out_dtype);
    const File* file = &files.output(plan.layout.shard_of[unit.tensor]);
    const uint64_t offset = plan.output_offset(unit);
    ChunkCompute* sum = compute.get();
    const size_t slot = slot_index(u);
    submit_pieces(io, slot_of(u).writes, unit.count * size, [=](uint64_t at, uint64_t n) {
      sum->wait(slot);
      file->pwrite_full(data + at, n, offset + at);
      file->start_writeback(offset + at, n);
    });
    stats.bytes_written += unit.count * size;
  };

  for (size_t u = begin; u < std::min(end, begin + lookahead); ++u) start_reads(u);
  for (size_t u = begin; u < end; ++u) {
    wait_all(slot_of(u).reads);
    // Reuses the slot of the oldest unit in the ring, whose write ran while
    // we waited above.
    if (u + lookahead < end) start_reads(u + lookahead);
    start_write(u, compute_unit(u));
    ++stats.units;
    stats.bytes_read += unit_read_bytes(plan.units[u], plan.tensors[plan.units[u].tensor]);
    if (progress) progress(stats.bytes_read);
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    wait_all(slots[i].writes);
    compute->finish(i);
  }
  files.sync_outputs();
  return stats;
}

}  // namespace cocktail
