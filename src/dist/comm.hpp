#pragma once
// The communicator every distributed step receives. Small on purpose: the
// merge only needs identity, reductions and a broadcast; the pipeline stages
// of a weight search pass hidden states from rank to rank. An NCCL
// implementation for device-resident data plugs in behind the same calls.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace cocktail {

// A signal any rank can send to all others without anyone waiting, so ranks
// busy with a long local step (streaming their share) learn early that another
// rank failed. Created and destroyed by every rank at the same point: the
// destructor is collective (it drains every signal sent).
class FailureFlag {
 public:
  virtual ~FailureFlag() = default;
  virtual void raise() = 0;   // tell every other rank; idempotent
  virtual bool raised() = 0;  // has another rank raised it? Never blocks
};

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
  // Integers (histograms, exact sums): the same result in any reduction order.
  virtual void allreduce_sum(std::span<uint64_t> values) = 0;
  virtual void broadcast(std::string& bytes, int root) = 0;
  // Point to point, host memory, blocking until the other side has it. Both
  // ranks must reach the call: use them between collective steps, never
  // inside one, or a rank that failed would leave its partner waiting.
  virtual void send(std::span<const float> values, int to) = 0;
  virtual void receive(std::span<float> values, int from) = 0;

  // Collective.
  virtual std::unique_ptr<FailureFlag> make_failure_flag() = 0;
};

}  // namespace cocktail
