#pragma once
// Rank 0's progress line at a steady pace. Rank 0 sees only its own units;
// ranks carry equal byte shares, so its fraction done stands for the job's.
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace cocktail {

class ProgressReporter {
 public:
  // `phase` prefixes each line ("statistics: "); empty for the merge.
  ProgressReporter(std::ostream& out, double interval_seconds, uint64_t job_bytes,
                   uint64_t own_bytes, std::string phase = "");
  // Prints when `interval_seconds` have passed since the last line.
  void update(uint64_t own_done);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  double interval_;
  uint64_t job_bytes_, own_bytes_;
  std::string phase_;
  Clock::time_point start_, last_;
};

std::string format_bytes(double bytes);       // "1.23 GB"
std::string format_seconds(double seconds);   // "1m05s"

}  // namespace cocktail
