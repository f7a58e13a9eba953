#include "io/output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.hpp"

namespace cocktail {

namespace {

uint64_t window_of(uint64_t offset) { return offset / OutputFile::kWindow * OutputFile::kWindow; }

}  // namespace

uint64_t OutputFile::block() {
  static const uint64_t size = std::max<uint64_t>(4096, static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
  return size;
}

OutputFile::OutputFile(const std::string& path, ThreadPool* window_writer)
    : buffered_(path, File::Mode::ReadWrite), writer_(window_writer), in_memory_(buffered_.in_memory()) {
  // EINVAL: the filesystem has no O_DIRECT; every write is buffered. In
  // memory O_DIRECT (which tmpfs takes since Linux 6.6) would only add the copy.
  if (writer_ && !in_memory_) direct_fd_ = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  direct_ok_ = direct_fd_ >= 0;
}

OutputFile::~OutputFile() {
  // Queued writes use this file and their windows' memory.
  for (auto& f : queued_) f.wait();
  // A job that stops early (a signal, a failure on any rank) keeps what its
  // incomplete windows hold, since the journal may already vouch for those
  // units: each window's declared ranges go through the page cache whole. A
  // part that never arrived belongs to a unit with no record, which a
  // resumed job computes again. Best effort: a failure here only costs that.
  for (const auto& [start, w] : windows_) {
    if (!w.memory) continue;
    try {
      for (const auto& [begin, end] : w.ranges) write_buffered(w.memory + (begin - start), end - begin, begin);
    } catch (const std::exception&) {
    }
    std::free(w.memory);
  }
  if (direct_fd_ >= 0) ::close(direct_fd_);
  for (std::byte* m : spare_) std::free(m);
}

void OutputFile::will_write(uint64_t offset, uint64_t n) {
  if (direct_fd_ < 0) return;
  std::lock_guard lock(mu_);
  for (uint64_t at = offset, end = offset + n; at < end;) {
    const uint64_t start = window_of(at), piece_end = std::min(end, start + kWindow);
    Window& w = windows_[start];
    w.declared += piece_end - at;
    if (!w.ranges.empty() && w.ranges.back().second == at)
      w.ranges.back().second = piece_end;
    else
      w.ranges.emplace_back(at, piece_end);
    at = piece_end;
  }
}

void OutputFile::write(const std::byte* data, uint64_t n, uint64_t offset) {
  if (direct_fd_ < 0) return write_buffered(data, n, offset);
  for (uint64_t done = 0; done < n;) {
    const uint64_t at = offset + done, piece = std::min(n - done, window_of(at) + kWindow - at);
    // Writers' ranges never overlap: the copies need no lock.
    std::memcpy(window_memory(at, piece), data + done, piece);
    arrived(at, piece);
    done += piece;
  }
}

std::byte* OutputFile::window_place(uint64_t offset, uint64_t n) {
  if (direct_fd_ < 0 || n == 0 || window_of(offset) != window_of(offset + n - 1)) return nullptr;
  return window_memory(offset, n);
}

std::byte* OutputFile::window_memory(uint64_t offset, uint64_t n) {
  const uint64_t start = window_of(offset);
  std::lock_guard lock(mu_);
  const auto it = windows_.find(start);
  const auto inside = [&](const std::pair<uint64_t, uint64_t>& r) { return r.first <= offset && offset + n <= r.second; };
  if (it == windows_.end() || std::none_of(it->second.ranges.begin(), it->second.ranges.end(), inside))
    throw Error(buffered_.path() + ": internal error: a write at byte " + std::to_string(offset) +
                " that was not declared");
  if (!it->second.memory) it->second.memory = take_memory();
  return it->second.memory + (offset - start);
}

void OutputFile::arrived(uint64_t offset, uint64_t n) {
  const uint64_t start = window_of(offset);
  Window done;
  {
    std::lock_guard lock(mu_);
    const auto it = windows_.find(start);
    if (it == windows_.end() || it->second.arrived + n > it->second.declared)
      throw Error(buffered_.path() + ": internal error: " + std::to_string(n) + " bytes arrived at byte " +
                  std::to_string(offset) + " that were not declared");
    it->second.arrived += n;
    if (it->second.arrived < it->second.declared) return;
    done = std::move(it->second);
    windows_.erase(it);
  }
  queue(start, done);
}

void OutputFile::queue(uint64_t start, const Window& w) {
  try {
    std::unique_lock lock(mu_);
    // The writer takes windows in order: waiting for the oldest makes room.
    // A failed write surfaces here (or in sync()).
    while (queued_.size() >= kQueuedWindows) {
      std::future<void> oldest = std::move(queued_.front());
      queued_.pop_front();
      lock.unlock();
      oldest.get();
      lock.lock();
    }
    // The slot first: once submitted, the task owns the window's memory.
    queued_.emplace_back();
    try {
      queued_.back() = writer_->submit([this, start, w] {
        try {
          write_out(start, w);
        } catch (...) {
          give_back(w.memory);
          throw;
        }
        give_back(w.memory);
      });
    } catch (...) {
      queued_.pop_back();
      throw;
    }
  } catch (...) {
    give_back(w.memory);  // never handed to the writer
    throw;
  }
}

void OutputFile::write_out(uint64_t start, const Window& w) {
  for (const auto& [begin, end] : w.ranges) {
    const std::byte* data = w.memory + (begin - start);
    const uint64_t b = block(), first = (begin + b - 1) / b * b, last = end / b * b;
    if (!direct_ok_ || last <= first || !write_direct(data + (first - begin), last - first, first)) {
      write_buffered(data, end - begin, begin);
      continue;
    }
    write_buffered(data, first - begin, begin);
    write_buffered(data + (last - begin), end - last, last);
  }
}

void OutputFile::write_buffered(const std::byte* data, uint64_t n, uint64_t offset) {
  if (n == 0) return;
  if (in_memory_) {
    // tmpfs takes the file's lock for each write, and a writer waiting for
    // it spins while the holder copies: a process's two I/O threads writing
    // one file spent 4% of a merge's CPU so (perf). Here the waiter sleeps,
    // and its core goes to the reads and sums. (There is no writeback.)
    std::lock_guard lock(memory_write_mu_);
    buffered_.pwrite_full(data, n, offset);
    return;
  }
  buffered_.pwrite_full(data, n, offset);
  buffered_.start_writeback(offset, n);
}

bool OutputFile::write_direct(const std::byte* data, uint64_t n, uint64_t offset) {
  for (uint64_t done = 0; done < n;) {
    const ssize_t r = ::pwrite(direct_fd_, data + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EINVAL && done == 0) {
      // The filesystem takes O_DIRECT opens but not these writes (another
      // block size): the rest of the job goes through the page cache.
      direct_ok_ = false;
      return false;
    }
    if (r <= 0) throw Error(buffered_.path() + ": write failed: " + std::strerror(r < 0 ? errno : EIO));
    // A short direct write ends on a block: the rest follows from there.
    done += static_cast<uint64_t>(r);
  }
  return true;
}

void OutputFile::sync() {
  std::deque<std::future<void>> queued;
  {
    std::lock_guard lock(mu_);
    queued.swap(queued_);
  }
  for (auto& f : queued) f.wait();
  for (auto& f : queued) f.get();
  {
    std::lock_guard lock(mu_);
    if (!windows_.empty())
      throw Error(buffered_.path() + ": internal error: " + std::to_string(windows_.size()) +
                  " output windows were declared and never filled");
  }
  buffered_.sync();
}

// Called with mu_ held.
std::byte* OutputFile::take_memory() {
  if (!spare_.empty()) {
    std::byte* m = spare_.back();
    spare_.pop_back();
    return m;
  }
  void* p = std::aligned_alloc(block(), kWindow);
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

// Kept for the next window while the file has windows to fill; once all are
// full the file needs no more (a rank writes its files one after another,
// and each would otherwise keep its spares to the end of the job).
void OutputFile::give_back(std::byte* memory) {
  std::vector<std::byte*> done;
  {
    std::lock_guard lock(mu_);
    spare_.push_back(memory);
    if (windows_.empty()) done.swap(spare_);
  }
  for (std::byte* m : done) std::free(m);
}

}  // namespace cocktail
