#include "dist/collective_step.hpp"

#include <exception>

namespace cocktail {

void collective_step(Comm& comm, const std::function<void()>& step, FailureFlag* flag) {
  std::string error;
  bool stopped = false, interrupted = false;
  try {
    step();
  } catch (const StoppedByOtherRank&) {
    stopped = true;
  } catch (const Interrupted& e) {
    error = e.what();
    interrupted = true;
  } catch (const std::bad_alloc&) {
    error = "out of memory (lower chunk_size or prefetch)";
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  if (!error.empty() && flag) flag->raise();
  // The max of severity * (size + 1) + (size - rank) over ranks with their
  // own error picks the most severe (an error over an interrupt), then the
  // lowest rank; a rank that only stopped never has the message to report.
  const int size = comm.size();
  const int severity = error.empty() ? 0 : interrupted ? 1 : 2;
  double failed[2] = {severity == 0 ? 0.0 : static_cast<double>(severity * (size + 1) + (size - comm.rank())),
                      stopped ? 1.0 : 0.0};
  comm.allreduce_max(failed);
  if (failed[0] == 0 && failed[1] == 0) return;
  // A stop without any rank's error cannot happen (only a failing rank
  // raises); report it rather than pretend success.
  const int worst = static_cast<int>(failed[0]);
  const int root = worst > 0 ? size - worst % (size + 1) : 0;
  if (worst == 0) error = "stopped without an error from any rank";
  comm.broadcast(error, root);
  throw JobFailed(error, root, worst > 0 && worst / (size + 1) == 1);
}

}  // namespace cocktail
