#pragma once
// An output file that ranks fill at the plan's offsets: through the page
// cache with writeback started at once, or (`direct_writes: true`, the
// default, chosen by measurement: docs/performance.md, "The I/O path")
// gathered into aligned windows that go to disk with O_DIRECT.
//
// Why windows: a unit is 1 MiB (small enough to stay in cache between its
// read and its sum), and one direct write of 1 MiB at a time leaves this
// disk idle between writes. A window is kWindow bytes of the file at an
// aligned offset; each unit's bytes are copied into it (the copy the page
// cache would make anyway) or, from the CPU, summed there in the first
// place (window_place), and once every byte the writer declared in it
// has arrived, the window goes out in one write on the rank's window writer
// (one thread for all its output files), so the engine's threads never wait
// for the disk (at most kQueuedWindows of a file wait their turn; then its
// writers wait). Its unaligned ends, which another rank may share, go
// through the page cache, as does every write on tmpfs (memory: O_DIRECT
// would only add the copy) or where the filesystem refuses O_DIRECT.
//
// A window not yet complete holds bytes only in memory: units whose bytes it
// holds may already be in the journal. A job that stops (a signal, an error)
// writes them through the page cache when the file is closed; one killed
// loses them, and its resumed job finds their bytes missing (it checks every
// recorded unit) and computes them again.
//
// Reads stay buffered: O_DIRECT and io_uring read no faster cold, and a warm
// page cache serves pread at memory speed (docs/performance.md, "The I/O
// path").
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "io/file.hpp"

namespace cocktail {

class OutputFile {
 public:
  // Opens an existing file (the staged output) for writing. With a window
  // writer (one thread, shared by a rank's output files, outliving this),
  // windows go direct through it; without, every write goes through the
  // page cache.
  OutputFile(const std::string& path, ThreadPool* window_writer);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // The page-cache side: reserve, read back (resume checks), name.
  const File& file() const { return buffered_; }

  // Declares [offset, offset + n) as bytes this writer will write, before
  // any write. Ranges must not overlap.
  void will_write(uint64_t offset, uint64_t n);

  // Writes [data, data + n) at `offset`, within declared ranges. Any thread,
  // any alignment; writes of different threads must not overlap. With
  // direct writes it returns once the bytes are copied into their window;
  // a failed window write is thrown by a later write() or by sync().
  void write(const std::byte* data, uint64_t n, uint64_t offset);

  // Where the bytes of declared [offset, offset + n) wait to go out, when
  // the writes are direct and the range lies in one window: a caller that
  // computes them there spares write()'s copy, then calls arrived(). Else
  // nullptr: use write().
  std::byte* window_place(uint64_t offset, uint64_t n);
  // The bytes of a window_place() range are all there. The window may go
  // out (and its memory be reused) before this returns: read them before.
  void arrived(uint64_t offset, uint64_t n);

  // Every declared byte on disk (fsync). Throws cocktail::Error naming the
  // file when a write failed or a declared byte was never written.
  void sync();

  // Whether the aligned blocks go with O_DIRECT (for tests).
  bool direct() const { return direct_ok_; }

  // The unit of direct writes: offsets, lengths and memory aligned to it.
  // 4096 serves disks with 512-byte and 4 KiB sectors alike; never less than
  // a memory page, so a page a neighbouring rank writes through the page
  // cache is never also written direct (64 KiB pages on some arm64 nodes).
  static uint64_t block();
  // A window's size: direct writes this large ran at the device's speed in
  // tests/bench/io_path_bench.
  static constexpr uint64_t kWindow = 8ull << 20;
  // A file's complete windows waiting for the writer, at most.
  static constexpr size_t kQueuedWindows = 2;

 private:
  struct Window {
    uint64_t declared = 0, arrived = 0;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // declared [begin, end), in the file
    std::byte* memory = nullptr;                         // kWindow bytes, from the first write on
  };

  void write_buffered(const std::byte* data, uint64_t n, uint64_t offset);
  // The memory of [offset, offset + n), which lies in one declared window.
  std::byte* window_memory(uint64_t offset, uint64_t n);
  // Hands a complete window to the writer once fewer than kQueuedWindows wait.
  void queue(uint64_t start, const Window& w);
  void write_out(uint64_t start, const Window& w);
  // False when the filesystem refused a direct write: then all are buffered.
  bool write_direct(const std::byte* data, uint64_t n, uint64_t offset);
  std::byte* take_memory();
  void give_back(std::byte* memory);

  File buffered_;
  ThreadPool* writer_ = nullptr;
  int direct_fd_ = -1;
  std::atomic<bool> direct_ok_{false};
  // Taken around writes to a file in memory: see write_buffered.
  const bool in_memory_;
  std::mutex memory_write_mu_;
  std::mutex mu_;                            // guards what follows
  std::map<uint64_t, Window> windows_;       // by the window's offset in the file
  std::deque<std::future<void>> queued_;     // complete windows' writes, oldest first
  std::vector<std::byte*> spare_;            // window memory not in use
};

}  // namespace cocktail
