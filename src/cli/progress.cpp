#include "cli/progress.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace cocktail {

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) bytes /= 1000, ++u;
  char s[32];
  std::snprintf(s, sizeof s, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
  return s;
}

std::string format_seconds(double seconds) {
  char s[32];
  if (seconds < 60) {
    std::snprintf(s, sizeof s, seconds < 10 ? "%.2fs" : "%.1fs", seconds);
  } else {
    const long total = std::lround(seconds);
    std::snprintf(s, sizeof s, total < 3600 ? "%ldm%02lds" : "%ldh%02ldm",
                  total < 3600 ? total / 60 : total / 3600,
                  total < 3600 ? total % 60 : total % 3600 / 60);
  }
  return s;
}

ProgressReporter::ProgressReporter(std::ostream& out, double interval_seconds, uint64_t job_bytes,
                                   uint64_t own_bytes, std::string phase)
    : out_(out), interval_(interval_seconds), job_bytes_(job_bytes), own_bytes_(own_bytes),
      phase_(std::move(phase)), start_(Clock::now()), last_(start_) {}

void ProgressReporter::update(uint64_t own_done) {
  if (interval_ <= 0 || own_bytes_ == 0) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double fraction = static_cast<double>(own_done) / own_bytes_;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double done = fraction * job_bytes_;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (job_bytes_ - done) / rate : 0;
  out_ << "cocktail: " << phase_ << static_cast<int>(fraction * 100) << "% (read " << format_bytes(done)
       << " of " << format_bytes(job_bytes_) << "), " << format_bytes(rate) << "/s, ETA "
       << format_seconds(eta) << std::endl;
}

}  // namespace cocktail
