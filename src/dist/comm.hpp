#pragma once
// The communicator every distributed step receives. Small on purpose: the
// merge only needs identity, reductions and a broadcast. An NCCL
// implementation for device-resident data plugs in behind the same calls.
#include <span>
#include <string>

namespace cocktail {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank and size among the processes on this node (for thread and GPU choice).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;

  // Element-wise reductions in place; every rank gets the result.
  virtual void allreduce_sum(std::span<double> values) = 0;
  virtual void allreduce_max(std::span<double> values) = 0;
  virtual void broadcast(std::string& bytes, int root) = 0;
};

}  // namespace cocktail
