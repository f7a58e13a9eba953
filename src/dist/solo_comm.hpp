#pragma once
// Comm of a job that is one process started without an MPI launcher
// (`cocktail_dist job.yaml` on a workstation): MPI is never initialised, so
// the merge starts in milliseconds instead of MPI's 0.2-0.4 s
// (docs/performance.md). Reductions and broadcasts over one rank are the
// identity; there is no other rank to send to.
#include "core/error.hpp"
#include "dist/comm.hpp"

namespace cocktail {

class SoloComm : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }

  void allreduce_sum(std::span<double>) override {}
  void allreduce_max(std::span<double>) override {}
  void allreduce_sum(std::span<uint64_t>) override {}
  void broadcast(std::string&, int) override {}
  void send(std::span<const float>, int to) override { throw Error(no_rank(to)); }
  void receive(std::span<float>, int from) override { throw Error(no_rank(from)); }

  std::unique_ptr<FailureFlag> make_failure_flag() override {
    // Nobody else can raise it; raising it tells nobody.
    struct Alone : FailureFlag {
      void raise() override {}
      bool raised() override { return false; }
    };
    return std::make_unique<Alone>();
  }

 private:
  static std::string no_rank(int r) {
    return "rank " + std::to_string(r) + " does not exist: this job is one process started without mpirun";
  }
};

}  // namespace cocktail
