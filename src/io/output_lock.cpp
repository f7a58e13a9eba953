#include "io/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "core/error.hpp"
#include "io/output_folder.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

// What the lock file says: enough for a user to find the other job, and a
// random run id so that two runs never claim the same staging folder alike.
std::string describe_this_job(const std::string& config) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  const std::time_t now = std::time(nullptr);
  char when[32];
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  char run[17];
  std::snprintf(run, sizeof run, "%016llx", static_cast<unsigned long long>(std::random_device{}()) << 32 ^
                                                std::random_device{}());
  return std::string("host ") + host + " pid " + std::to_string(getpid()) + " started " + when + " run " + run +
         " config " + config;
}

std::string read_holder(int fd) {
  char text[4096];
  const ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return "a job that has not written its name yet";
  std::string s(text, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

bool same_file(int fd, const fs::path& path) {
  struct stat a {}, b {};
  return fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

OutputLock OutputLock::acquire(const fs::path& output, const std::string& config) {
  OutputLock lock;
  lock.path_ = lock_path(output);
  lock.holder_ = describe_this_job(config);
  // A holder unlinks the file before it lets go, so a job that opened the old
  // file and then got its lock must check it still locks the file on disk.
  for (;;) {
    const int fd = ::open(lock.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw Error(lock.path_.string() + ": cannot create the output's lock file: " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        const std::string holder = read_holder(fd);
        ::close(fd);
        throw Error("output " + output.string() + " is being written by another job (" + holder +
                    "); wait for it to end or choose another output");
      }
      ::close(fd);
      ::unlink(lock.path_.c_str());
      lock.warning_ = lock.path_.string() + ": this filesystem does not lock files (" + std::strerror(err) +
                      "): make sure no other job writes " + output.string();
      return lock;
    }
    if (!same_file(fd, lock.path_)) {
      ::close(fd);
      continue;
    }
    const std::string text = lock.holder_ + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      const int err = errno;
      ::unlink(lock.path_.c_str());
      ::close(fd);
      throw Error(lock.path_.string() + ": cannot write the output's lock file: " + std::strerror(err));
    }
    lock.fd_ = fd;
    return lock;
  }
}

void OutputLock::release() noexcept {
  if (fd_ < 0) return;
  // While still locked (see acquire()), and only while the path is still
  // this lock's file: never another job's.
  if (same_file(fd_, path_)) ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

OutputLock::~OutputLock() { release(); }

OutputLock::OutputLock(OutputLock&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), holder_(std::move(other.holder_)),
      warning_(std::move(other.warning_)) {
  other.fd_ = -1;
}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    holder_ = std::move(other.holder_);
    warning_ = std::move(other.warning_);
    other.fd_ = -1;
  }
  return *this;
}

}  // namespace cocktail
