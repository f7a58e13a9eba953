#include "dist/collective_step.hpp"

#include <exception>

namespace cocktail {

void collective_step(Comm& comm, const std::function<void()>& step, FailureFlag* flag) {
  std::string error;
  bool stopped = false;
  try {
    step();
  } catch (const StoppedByOtherRank&) {
    stopped = true;
  } catch (const std::bad_alloc&) {
    error = "out of memory (lower chunk_size or prefetch)";
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  if (!error.empty() && flag) flag->raise();
  // Max over (size - rank) of ranks with their own error picks the lowest of
  // them; a rank that only stopped never has the message to report.
  double failed[2] = {error.empty() ? 0.0 : static_cast<double>(comm.size() - comm.rank()),
                      stopped ? 1.0 : 0.0};
  comm.allreduce_max(failed);
  if (failed[0] == 0 && failed[1] == 0) return;
  // A stop without any rank's error cannot happen (only a failing rank
  // raises); report it rather than pretend success.
  const int root = failed[0] > 0 ? comm.size() - static_cast<int>(failed[0]) : 0;
  if (failed[0] == 0) error = "stopped without an error from any rank";
  comm.broadcast(error, root);
  throw JobFailed(error, root);
}

}  // namespace cocktail
