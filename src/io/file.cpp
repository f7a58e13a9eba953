#include "io/file.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.hpp"

namespace cocktail {
namespace {

[[noreturn]] void throw_errno(const std::string& path, const char* what, int err) {
  throw Error(path + ": " + what + ": " + std::strerror(err));
}

int open_flags(File::Mode mode) {
  switch (mode) {
    case File::Mode::Read: return O_RDONLY | O_CLOEXEC;
    case File::Mode::ReadWrite: return O_RDWR | O_CLOEXEC;
    // No O_TRUNC: ranks write disjoint parts of one output file, so a late
    // opener must not wipe what earlier ones wrote.
    case File::Mode::CreateReadWrite: return O_CREAT | O_RDWR | O_CLOEXEC;
  }
  return O_RDONLY | O_CLOEXEC;
}

const char* open_what(File::Mode mode) {
  return mode == File::Mode::Read ? "cannot open for reading" : "cannot open for writing";
}

}  // namespace

File::File(const std::string& path, Mode mode) : path_(path) {
  do {
    fd_ = ::open(path.c_str(), open_flags(mode), 0644);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) throw_errno(path, open_what(mode), errno);
}

File::~File() {
  // Errors from close on a read-only or already-synced fd carry no news.
  if (fd_ >= 0) ::close(fd_);
}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

uint64_t File::size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) throw_errno(path_, "cannot stat", errno);
  return static_cast<uint64_t>(st.st_size);
}

FileStamp File::stamp() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) throw_errno(path_, "cannot stat", errno);
  return {static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

void File::pread_full(void* dst, size_t n, uint64_t offset) const {
  auto* p = static_cast<char*>(dst);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno(path_, "read failed", errno);
    }
    if (r == 0) {
      throw Error(path_ + ": unexpected end of file reading " + std::to_string(n) +
                  " bytes at offset " + std::to_string(offset));
    }
    done += static_cast<size_t>(r);
  }
}

void File::pwrite_full(const void* src, size_t n, uint64_t offset) const {
  const auto* p = static_cast<const char*>(src);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno(path_, "write failed", errno);
    }
    // pwrite never returns 0 for a non-empty request; retrying would spin.
    if (r == 0) throw_errno(path_, "write failed", EIO);
    done += static_cast<size_t>(r);
  }
}

void File::truncate(uint64_t size) const {
  int r;
  do {
    r = ::ftruncate(fd_, static_cast<off_t>(size));
  } while (r != 0 && errno == EINTR);
  if (r != 0) throw_errno(path_, "cannot truncate", errno);
}

bool File::in_memory() const {
  struct statfs st;
  return ::fstatfs(fd_, &st) == 0 && st.f_type == TMPFS_MAGIC;
}

uint64_t File::allocated_bytes() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) throw_errno(path_, "cannot stat", errno);
  return uint64_t(st.st_blocks) * 512;
}

void File::check_room(uint64_t bytes) const {
  struct statvfs fs;
  if (::fstatvfs(fd_, &fs) != 0) throw_errno(path_, "cannot stat its filesystem", errno);
  if (fs.f_blocks == 0) return;  // tmpfs mounted without a size limit
  if (bytes > uint64_t{fs.f_bavail} * fs.f_frsize)
    throw_errno(path_, ("cannot reserve " + std::to_string(bytes) + " bytes").c_str(), ENOSPC);
}

void File::reserve(uint64_t offset, uint64_t bytes) const {
  if (bytes == 0) return;
  // fallocate(2), not posix_fallocate: where the filesystem lacks it (NFSv3),
  // glibc's fallback writes a byte per block, one call each.
  int r;
  do {
    r = ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(bytes));
  } while (r != 0 && errno == EINTR);
  if (r == 0 || errno == EOPNOTSUPP) return;
  throw_errno(path_, ("cannot reserve " + std::to_string(bytes) + " bytes").c_str(), errno);
}

void File::start_writeback(uint64_t offset, uint64_t bytes) const {
  // Advisory: an error here resurfaces at sync(), which is checked.
  ::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(bytes),
                    SYNC_FILE_RANGE_WRITE);
}

std::string read_small_file(const std::string& path, uint64_t max_bytes) {
  File file(path, File::Mode::Read);
  const uint64_t size = file.size();
  if (size > max_bytes)
    throw Error(path + ": " + std::to_string(size) + " bytes, more than the " +
                std::to_string(max_bytes) + " expected of this file");
  std::string text(size, '\0');
  file.pread_full(text.data(), text.size(), 0);
  return text;
}

void File::sync() const {
  int r;
  do {
    r = ::fsync(fd_);
  } while (r != 0 && errno == EINTR);
  if (r != 0) throw_errno(path_, "fsync failed", errno);
}

}  // namespace cocktail
