#include "dist/collective_step.hpp"

#include <exception>

namespace cocktail {

void collective_step(Comm& comm, const std::function<void()>& step) {
  std::string error;
  try {
    step();
  } catch (const std::bad_alloc&) {
    error = "out of memory (lower chunk_size or prefetch)";
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  // max over (size - rank) of failing ranks picks the lowest failing rank.
  double failed[1] = {error.empty() ? 0.0 : static_cast<double>(comm.size() - comm.rank())};
  comm.allreduce_max(failed);
  if (failed[0] == 0) return;
  const int root = comm.size() - static_cast<int>(failed[0]);
  comm.broadcast(error, root);
  throw JobFailed(error, root);
}

}  // namespace cocktail
