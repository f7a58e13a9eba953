#pragma once
// Failure agreement between ranks. A step runs on every rank; if any rank
// throws, every rank throws the same error (the lowest failing rank's
// message), so all ranks exit non-zero and rank 0 prints one line. Steps must
// not call collectives themselves, or a failing rank would leave the others
// waiting in them.
#include <functional>
#include <string>

#include "core/error.hpp"
#include "dist/comm.hpp"

namespace cocktail {

class JobFailed : public Error {
 public:
  JobFailed(const std::string& message, int failed_rank, bool interrupted = false)
      : Error(message), failed_rank_(failed_rank), interrupted_(interrupted) {}
  int failed_rank() const { return failed_rank_; }
  // Every failing rank only stopped for a signal: the job can be resumed.
  bool interrupted() const { return interrupted_; }

 private:
  int failed_rank_;
  bool interrupted_;
};

// Thrown by a rank asked to stop by a signal (SIGTERM, SIGUSR1). A real
// error on any rank wins the agreement over it.
class Interrupted : public Error {
 public:
  using Error::Error;
};

// Thrown by a rank that stops because another rank raised the failure flag.
// It never wins the agreement: the other rank's own error is the one reported.
class StoppedByOtherRank : public Error {
 public:
  StoppedByOtherRank() : Error("stopped because another rank failed") {}
};

// With a `flag`, a rank whose step throws raises it before joining the
// agreement, so ranks still busy in the step can stop early (they check the
// flag and throw StoppedByOtherRank).
void collective_step(Comm& comm, const std::function<void()>& step, FailureFlag* flag = nullptr);

}  // namespace cocktail
