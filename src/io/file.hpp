#pragma once
// RAII file descriptor with full-length positional I/O. Short reads/writes
// and EINTR are retried; every failure names the file.
#include <cstddef>
#include <cstdint>
#include <string>

namespace cocktail {

// Reads a whole small file (index, config, tokenizer JSON). Refuses files over
// `max_bytes`: a hostile or wrong path must not make a rank allocate gigabytes.
std::string read_small_file(const std::string& path, uint64_t max_bytes);

// What tells a file's content changed without reading it.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

class File {
 public:
  enum class Mode { Read, ReadWrite, CreateReadWrite };
  File() = default;
  File(const std::string& path, Mode mode);
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint64_t size() const;
  FileStamp stamp() const;
  void pread_full(void* dst, size_t n, uint64_t offset) const;   // throws at EOF
  void pwrite_full(const void* src, size_t n, uint64_t offset) const;
  void truncate(uint64_t size) const;
  // Allocates disk blocks for [offset, offset + bytes) so a full disk fails
  // here, before the data is computed. A no-op where the filesystem has no
  // fallocate; a full disk then shows up as a write error naming the file.
  void reserve(uint64_t offset, uint64_t bytes) const;
  // Whether the file lives in memory (tmpfs), where reserve() would allocate
  // the memory itself.
  bool in_memory() const;
  // The bytes its filesystem has allocated to it (holes and unwritten
  // pages of tmpfs excluded).
  uint64_t allocated_bytes() const;
  // Throws the error reserve() gives on a full disk unless `bytes` more fit
  // in the file's filesystem (a check, not a reservation; a filesystem
  // without a size limit always has room).
  void check_room(uint64_t bytes) const;
  void sync() const;
  // Starts writeback of a written range without waiting for it, so dirty
  // pages stream to disk during the job instead of piling up for sync().
  void start_writeback(uint64_t offset, uint64_t bytes) const;
  const std::string& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace cocktail
