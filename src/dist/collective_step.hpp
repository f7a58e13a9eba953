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
  JobFailed(const std::string& message, int failed_rank)
      : Error(message), failed_rank_(failed_rank) {}
  int failed_rank() const { return failed_rank_; }

 private:
  int failed_rank_;
};

void collective_step(Comm& comm, const std::function<void()>& step);

}  // namespace cocktail
