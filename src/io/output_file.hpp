#pragma once
// An output file that ranks fill at the plan's offsets. The block-aligned
// middle of each write goes to disk with O_DIRECT (from an aligned copy, since
// a unit's bytes sit at any offset of its buffer); the unaligned ends, and
// every write where the filesystem refuses O_DIRECT or is memory (tmpfs), go
// through the page cache with writeback started at once.
//
// Why, and why only when asked (`direct_writes: true`): tests/bench/
// io_path_bench wrote an output-sized file here at the device's speed every
// time with O_DIRECT and at 0.26-1.50 GB/s through the page cache, and a
// merge's output is bytes no one reads back soon; but whole merges were
// faster with it in some cases and slower in others: a direct write holds
// its I/O thread, where the page cache's writeback runs beside the engine
// (docs/performance.md, "The I/O path"). Reads stay buffered: O_DIRECT and io_uring read no faster cold,
// and a warm page cache serves pread at memory speed.
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "io/file.hpp"

namespace cocktail {

class OutputFile {
 public:
  // Opens an existing file (the staged output) for writing; `direct` false
  // sends every write through the page cache.
  OutputFile(const std::string& path, bool direct);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // The page-cache side: reserve, read back (resume checks), name.
  const File& file() const { return buffered_; }

  // Writes [data, data + n) at `offset`. Any thread, any alignment; writes
  // of different threads must not overlap.
  void write(const std::byte* data, uint64_t n, uint64_t offset);

  // Every write on disk (fsync).
  void sync() const { buffered_.sync(); }

  // Whether the aligned middles go with O_DIRECT (for tests).
  bool direct() const { return direct_ok_; }

  // O_DIRECT's alignment of offsets, lengths and memory (4096 serves disks
  // with 512-byte and 4 KiB sectors alike).
  static constexpr uint64_t kBlock = 4096;
  // The aligned copy a writer fills; larger middles go in several writes.
  static constexpr uint64_t kBounceBytes = 8ull << 20;

 private:
  void write_buffered(const std::byte* data, uint64_t n, uint64_t offset) const;
  // False when the filesystem refused a direct write: then all are buffered.
  bool write_direct(const std::byte* data, uint64_t n, uint64_t offset);
  std::byte* take_bounce();
  void give_back(std::byte* bounce);

  File buffered_;
  int direct_fd_ = -1;
  std::atomic<bool> direct_ok_{false};
  std::mutex mu_;                    // guards bounces_
  std::vector<std::byte*> bounces_;  // aligned copies not in use
};

}  // namespace cocktail
