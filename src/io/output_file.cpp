#include "io/output_file.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.hpp"

namespace cocktail {

namespace {

// Memory is the device there: O_DIRECT (which tmpfs takes since Linux 6.6)
// would only add the aligned copy.
bool in_memory(const File& f) {
  struct statfs st;
  return ::statfs(f.path().c_str(), &st) == 0 && st.f_type == TMPFS_MAGIC;
}

}  // namespace

OutputFile::OutputFile(const std::string& path, bool direct) : buffered_(path, File::Mode::ReadWrite) {
  // EINVAL: the filesystem has no O_DIRECT; every write is buffered.
  if (direct && !in_memory(buffered_)) direct_fd_ = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  direct_ok_ = direct_fd_ >= 0;
}

OutputFile::~OutputFile() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  for (std::byte* b : bounces_) std::free(b);
}

void OutputFile::write(const std::byte* data, uint64_t n, uint64_t offset) {
  const uint64_t begin = (offset + kBlock - 1) / kBlock * kBlock, end = (offset + n) / kBlock * kBlock;
  if (!direct_ok_ || end <= begin || !write_direct(data + (begin - offset), end - begin, begin)) {
    write_buffered(data, n, offset);
    return;
  }
  write_buffered(data, begin - offset, offset);
  write_buffered(data + (end - offset), offset + n - end, end);
}

void OutputFile::write_buffered(const std::byte* data, uint64_t n, uint64_t offset) const {
  if (n == 0) return;
  buffered_.pwrite_full(data, n, offset);
  buffered_.start_writeback(offset, n);
}

bool OutputFile::write_direct(const std::byte* data, uint64_t n, uint64_t offset) {
  std::byte* bounce = take_bounce();
  for (uint64_t done = 0; done < n;) {
    const uint64_t piece = std::min(kBounceBytes, n - done);
    std::memcpy(bounce, data + done, piece);
    const ssize_t r = ::pwrite(direct_fd_, bounce, piece, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EINVAL && done == 0) {
      // The filesystem takes O_DIRECT opens but not these writes (another
      // block size): the rest of the job goes through the page cache.
      direct_ok_ = false;
      give_back(bounce);
      return false;
    }
    if (r <= 0) {
      const int err = r < 0 ? errno : EIO;
      give_back(bounce);
      throw Error(buffered_.path() + ": write failed: " + std::strerror(err));
    }
    // A short direct write ends on a block: the rest follows from there.
    done += static_cast<uint64_t>(r);
  }
  give_back(bounce);
  return true;
}

std::byte* OutputFile::take_bounce() {
  {
    std::lock_guard lock(mu_);
    if (!bounces_.empty()) {
      std::byte* b = bounces_.back();
      bounces_.pop_back();
      return b;
    }
  }
  void* p = std::aligned_alloc(kBlock, kBounceBytes);
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

void OutputFile::give_back(std::byte* bounce) {
  std::lock_guard lock(mu_);
  bounces_.push_back(bounce);
}

}  // namespace cocktail
