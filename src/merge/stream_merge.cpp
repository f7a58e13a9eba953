#include "merge/stream_merge.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "io/file.hpp"
#include "io/journal.hpp"
#include "io/output_file.hpp"
#include "merge/chunk_compute.hpp"
#include "merge/input_files.hpp"

namespace cocktail {
namespace {

struct Slot {
  std::vector<HostBuffer> inputs;  // one per source
  HostBuffer output;
  std::vector<std::future<void>> reads, writes;
  // The unit whose write is in `writes`: its bytes and statistics, added to
  // the totals and the journal once the write is done.
  size_t written_unit = SIZE_MAX;
  std::vector<uint64_t> piece_sums;  // checksum of each kIoPiece, by the writers
  bool output_in_window = false;     // the unit's output is in its output window, not `output`
  std::vector<uint64_t> stats;  // NaN/Inf per summed model and written, then "differs"
};

// A unit's statistics into the job's: see StreamStats.
void add_unit_stats(StreamStats& stats, uint32_t tensor, const std::vector<uint64_t>& unit) {
  const size_t counters = unit.size() - 1;
  for (size_t s = 0; s < counters; ++s) stats.nonfinite[tensor * counters + s] += unit[s];
  if (unit.back()) stats.differs[tensor] = 1;
}

// Opens each input and output file once per rank, on first use.
class FileCache {
 public:
  FileCache(const std::vector<Checkpoint>& models, const std::filesystem::path& out_dir,
            const OutputLayout& layout, bool direct_writes)
      : inputs_(models), out_dir_(out_dir), layout_(layout) {
    if (direct_writes) window_writer_.emplace(1);
  }

  InputFiles& inputs() { return inputs_; }
  void check_inputs_unchanged() const { inputs_.check_unchanged(); }

  OutputFile& output(size_t shard) {
    auto it = outputs_.find(shard);
    if (it == outputs_.end())
      it = outputs_.emplace(shard, std::make_unique<OutputFile>((out_dir_ / layout_.shards[shard].file_name).string(),
                                                                  window_writer_ ? &*window_writer_ : nullptr))
               .first;
    return *it->second;
  }

  void sync_outputs() {
    for (const auto& [shard, file] : outputs_) file->sync();
  }

 private:
  InputFiles inputs_;
  std::filesystem::path out_dir_;
  const OutputLayout& layout_;
  // With direct writes, the one thread that writes every output file's
  // windows (io/output_file.hpp); declared before the files, so it outlives
  // them.
  std::optional<ThreadPool> window_writer_;
  std::map<size_t, std::unique_ptr<OutputFile>> outputs_;
};

// A unit's checksum for the journal, from the checksums of its kIoPiece
// pieces: the I/O threads compute those beside their writes, off the
// pipeline's one thread.
uint64_t unit_checksum(const std::vector<uint64_t>& piece_sums) {
  return bytes_checksum(piece_sums.data(), piece_sums.size() * sizeof(uint64_t));
}

uint64_t unit_checksum(const std::byte* data, uint64_t bytes) {
  std::vector<uint64_t> sums;
  for (uint64_t at = 0; at < bytes; at += kIoPiece) sums.push_back(bytes_checksum(data + at, std::min(kIoPiece, bytes - at)));
  return unit_checksum(sums);
}

// Reserving this rank's output first makes a full disk fail before any
// work, and spreads the allocation over the ranks. In memory (tmpfs) a
// reservation allocates the memory itself, all of it before the first read,
// the ranks in turn under the file's lock (a quarter of a 1.3 GB merge into
// /dev/shm, docs/performance.md). There every rank checks instead that what
// the whole output still lacks fits, so a tmpfs too small fails before any
// work on every rank, and the writes allocate the pages as they go.
void reserve_output(const MergePlan& plan, int rank, FileCache& files) {
  if (plan.layout.shards.empty()) return;
  if (!files.output(0).file().in_memory()) {
    for (const auto& [shard, range] : plan.rank_output_ranges(rank))
      files.output(shard).file().reserve(range.first, range.second - range.first);
    return;
  }
  uint64_t lacking = 0;
  for (size_t shard = 0; shard < plan.layout.shards.size(); ++shard) {
    const File& file = files.output(shard).file();
    lacking += file.size() - std::min(file.size(), file.allocated_bytes());
  }
  files.output(0).file().check_room(lacking);
}

// This rank's units still to do. Recorded units count as done only if the
// output still holds the bytes their record vouches for (a machine crash
// can lose written pages the journal already names).
std::vector<size_t> units_to_do(const MergePlan& plan, size_t begin, size_t end, const Resume& resume,
                                FileCache& files, ThreadPool& io, StreamStats& stats) {
  std::vector<uint8_t> done(end - begin, 0);
  std::vector<std::future<void>> checks;
  for (size_t u = begin; u < end; ++u) {
    const auto it = resume.recorded.find(u);
    if (it == resume.recorded.end()) continue;
    const WorkUnit& unit = plan.units[u];
    const File* file = &files.output(plan.layout.shard_of[unit.tensor]).file();
    const uint64_t offset = plan.output_offset(unit);
    const uint64_t bytes = unit_write_bytes(unit, plan.tensors[unit.tensor]);
    uint8_t* ok = &done[u - begin];
    checks.push_back(io.submit([file, offset, bytes, want = it->second.checksum, ok] {
      std::vector<std::byte> data(bytes);
      file->pread_full(data.data(), bytes, offset);
      *ok = unit_checksum(data.data(), bytes) == want;
    }));
  }
  wait_all(checks);
  std::vector<size_t> todo;
  for (size_t u = begin; u < end; ++u) {
    if (!done[u - begin]) {
      todo.push_back(u);
      continue;
    }
    ++stats.skipped_units;
    stats.skipped_bytes += unit_read_bytes(plan.units[u], plan.tensors[plan.units[u].tensor]);
    add_unit_stats(stats, plan.units[u].tensor, resume.recorded.at(u).stats);
  }
  return todo;
}

}  // namespace

ComputeSizes unit_sizes(const MergePlan& plan, size_t begin, size_t end) {
  ComputeSizes sizes;
  for (size_t u = begin; u < end; ++u) {
    const PlannedTensor& t = plan.tensors[plan.units[u].tensor];
    sizes.max_models = std::max(sizes.max_models, t.sources.size());
    sizes.max_out_bytes = std::max(sizes.max_out_bytes, unit_write_bytes(plan.units[u], t));
    for (const auto& s : t.sources)
      sizes.max_in_bytes = std::max(sizes.max_in_bytes, plan.units[u].count * dtype_size(s.tensor->info.dtype));
  }
  return sizes;
}

StreamStats stream_merge(const MergePlan& plan, const std::vector<Checkpoint>& models,
                         const MergeRecipe& recipe, const std::filesystem::path& out_dir,
                         int rank, const StreamOptions& options, const Resume& resume,
                         const ProgressFn& progress) {
  const size_t begin = plan.rank_bounds[rank], end = plan.rank_bounds[rank + 1];
  const size_t summed = recipe.models.size();
  StreamStats stats;
  stats.nonfinite.assign(plan.tensors.size() * (summed + 1), 0);
  stats.differs.assign(plan.tensors.size(), 0);

  // Size the ring for the largest unit this rank will see. One slot more
  // than the reads ahead and the unit being summed lets unit u's sum (on the
  // CPU threads or the GPU's stream) run while unit u-1's write drains on the
  // I/O threads and units u+1.. are read.
  ComputeSizes sizes = unit_sizes(plan, begin, end);
  const size_t max_sources = sizes.max_models;
  const size_t lookahead = static_cast<size_t>(std::max(1, options.prefetch));
  sizes.slots = lookahead + 2;
  sizes.max_models = std::max(sizes.max_models, summed);
  // Before the compute: its destructor waits for the GPU to stop using them.
  std::vector<Slot> slots(sizes.slots);
  const std::unique_ptr<ChunkCompute> compute = make_compute(options.gpu, options.compute_threads, sizes);
  stats.compute = compute->name();
  for (auto& slot : slots) {
    for (size_t s = 0; s < max_sources; ++s) slot.inputs.push_back(compute->host_buffer(sizes.max_in_bytes));
    slot.output = compute->host_buffer(sizes.max_out_bytes);
    slot.stats.assign(resume_stats(recipe), 0);
  }
  FileCache files(models, out_dir, plan.layout, options.direct_writes);
  // Declared after the slots, files and compute they use: on an exception
  // the pool's destructor finishes every queued transfer before those go.
  ThreadPool io(options.io_threads);

  reserve_output(plan, rank, files);

  const std::vector<size_t> todo = units_to_do(plan, begin, end, resume, files, io, stats);
  for (size_t u : todo) {
    const WorkUnit& unit = plan.units[u];
    files.output(plan.layout.shard_of[unit.tensor])
        .will_write(plan.output_offset(unit), unit_write_bytes(unit, plan.tensors[unit.tensor]));
  }
  if (progress && stats.skipped_bytes) progress(stats.skipped_bytes);

  // A GPU adds LoRA updates to its copies of the inputs; a copied tensor
  // never reaches it.
  auto lora_on_compute = [&](const PlannedTensor& t) {
    return compute->adds_lora_updates() && t.action != TensorAction::CopyReference;
  };
  auto set_updates = [&](size_t i, const PlannedTensor& t, const WorkUnit& unit) {
    if (!lora_on_compute(t)) return;
    std::vector<LoraUpdate> updates;
    for (size_t s = 0; s < t.sources.size(); ++s)
      if (auto u = files.inputs().lora_update(t, s, unit.first, unit.count)) updates.push_back(std::move(*u));
    compute->set_updates(i % slots.size(), std::move(updates));
  };

  // Position i of `todo` uses slot i % slots.
  auto slot_of = [&](size_t i) -> Slot& { return slots[i % slots.size()]; };

  // The slot's previous unit must be written before the slot is reused; its
  // journal record follows. Written means in the page cache, or with direct
  // writes possibly in a window not yet on disk: a record vouches for bytes
  // a resumed job checks before it skips the unit.
  auto retire = [&](size_t slot_index) {
    Slot& slot = slots[slot_index];
    wait_all(slot.writes);
    compute->finish(slot_index);
    if (slot.written_unit == SIZE_MAX) return;
    add_unit_stats(stats, plan.units[slot.written_unit].tensor, slot.stats);
    if (options.fault) options.fault("written", slot.written_unit);
    if (resume.journal)
      resume.journal->record(slot.written_unit, {unit_checksum(slot.piece_sums), slot.stats});
    slot.written_unit = SIZE_MAX;
  };

  auto start_reads = [&](size_t i) {
    Slot& slot = slot_of(i);
    retire(i % slots.size());
    const WorkUnit& unit = plan.units[todo[i]];
    const PlannedTensor& t = plan.tensors[unit.tensor];
    for (size_t s = 0; s < t.sources.size(); ++s)
      files.inputs().submit_reads(io, slot.reads, t, s, unit.first, unit.count, slot.inputs[s].get(),
                                  !lora_on_compute(t));
  };

  // Where a unit's sum goes: on the CPU, straight into the output file's
  // window when the writes are direct, sparing the copy of every output byte
  // into it (a seventh of the CPU time of a merge to disk at 2 ranks, with
  // the inputs cached); else the slot's buffer. Kernels and methods store
  // elements at any alignment (memcpy, unaligned vector stores).
  auto output_of = [&](size_t i) -> std::byte* {
    Slot& slot = slot_of(i);
    const WorkUnit& unit = plan.units[todo[i]];
    std::byte* place = nullptr;
    if (compute->writes_any_memory())
      place = files.output(plan.layout.shard_of[unit.tensor])
                  .window_place(plan.output_offset(unit), unit_write_bytes(unit, plan.tensors[unit.tensor]));
    slot.output_in_window = place != nullptr;
    return place ? place : slot.output.get();
  };

  auto compute_unit = [&](size_t i) -> const std::byte* {
    Slot& slot = slot_of(i);
    const WorkUnit& unit = plan.units[todo[i]];
    const PlannedTensor& t = plan.tensors[unit.tensor];
    std::fill(slot.stats.begin(), slot.stats.end(), 0);
    slot.output_in_window = false;
    if (t.action == TensorAction::CopyReference) {
      const uint64_t bytes = unit_write_bytes(unit, t);
      for (size_t s = 1; s < t.sources.size(); ++s)
        if (std::memcmp(slot.inputs[0].get(), slot.inputs[s].get(), bytes) != 0) slot.stats.back() = 1;
      return slot.inputs[0].get();
    }
    set_updates(i, t, unit);
    std::byte* out = output_of(i);
    if (options.method && !options.method->weighted_by_tensor()) {
      std::vector<const std::byte*> in;
      for (size_t s = 0; s < t.sources.size(); ++s) in.push_back(slot.inputs[s].get());
      compute->start_method(i % slots.size(), *options.method, unit, in, out, slot.stats.data());
      return out;
    }
    const std::vector<float> weights = options.method ? options.method->tensor_weights(unit.tensor) : recipe.weights;
    std::vector<WeightedInput> in;
    for (size_t s = 0; s < weights.size(); ++s)
      in.push_back({slot.inputs[s].get(), t.sources[s].tensor->info.dtype, weights[s]});
    compute->start(i % slots.size(), in, out, t.out_dtype, unit.count, slot.stats.data());
    return out;
  };

  auto start_write = [&](size_t i, const std::byte* data) {
    Slot& slot = slot_of(i);
    const WorkUnit& unit = plan.units[todo[i]];
    const PlannedTensor& t = plan.tensors[unit.tensor];
    const uint64_t bytes = unit_write_bytes(unit, t);
    OutputFile* file = &files.output(plan.layout.shard_of[unit.tensor]);
    const uint64_t offset = plan.output_offset(unit);
    ChunkCompute* sum = compute.get();
    const size_t slot_index = i % slots.size();
    slot.piece_sums.assign((bytes + kIoPiece - 1) / kIoPiece, 0);
    uint64_t* piece_sums = slot.piece_sums.data();
    const bool in_window = slot.output_in_window;
    submit_pieces(io, slot.writes, bytes, [=](uint64_t at, uint64_t n) {
      sum->wait(slot_index);
      // Before arrived(): a window may go out then, and its memory serve another.
      piece_sums[at / kIoPiece] = bytes_checksum(data + at, n);
      if (in_window)
        file->arrived(offset + at, n);
      else
        file->write(data + at, n, offset + at);
    });
    slot.written_unit = todo[i];
    stats.bytes_written += bytes;
  };

  for (size_t i = 0; i < std::min(todo.size(), lookahead); ++i) start_reads(i);
  for (size_t i = 0; i < todo.size(); ++i) {
    wait_all(slot_of(i).reads);
    if (options.fault) options.fault("read", todo[i]);
    // Reuses the slot of the oldest unit in the ring, whose write ran while
    // we waited above.
    if (i + lookahead < todo.size()) start_reads(i + lookahead);
    start_write(i, compute_unit(i));
    ++stats.units;
    stats.bytes_read += unit_read_bytes(plan.units[todo[i]], plan.tensors[plan.units[todo[i]].tensor]);
    if (progress) progress(stats.skipped_bytes + stats.bytes_read);
  }
  for (size_t i = 0; i < slots.size(); ++i) retire(i);
  files.check_inputs_unchanged();
  files.sync_outputs();
  return stats;
}

}  // namespace cocktail
