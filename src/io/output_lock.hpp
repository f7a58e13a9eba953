#pragma once
// At most one job owns an output at a time. Rank 0 holds an flock(2) on
// <parent>/.<name>.cocktail-lock, beside the staging folder, from validation
// to the end of the job; the kernel drops it when the process dies, so a
// killed job never leaves a stale lock behind. The file names the holder, so
// a second job can say who it is waiting for.
#include <filesystem>
#include <string>

namespace cocktail {

class OutputLock {
 public:
  // Takes the lock of `output` or throws cocktail::Error naming the output
  // and the holder (host, pid, start time, config). Where the filesystem has
  // no flock (some Lustre and NFS mounts) it returns without a lock and sets
  // warning(); the journal's owner check before the rename is then the only
  // defence.
  static OutputLock acquire(const std::filesystem::path& output, const std::string& config);

  OutputLock() = default;
  ~OutputLock();
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  // "host H pid P started T config C": this job, as the lock file says it.
  const std::string& holder() const { return holder_; }
  const std::string& warning() const { return warning_; }

 private:
  void release() noexcept;

  int fd_ = -1;
  std::filesystem::path path_;
  std::string holder_, warning_;
};

}  // namespace cocktail
