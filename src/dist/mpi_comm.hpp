#pragma once
// Comm over an MPI communicator. The communicator is borrowed, not owned:
// main() initialises and finalises MPI.
#include <mpi.h>

#include "dist/comm.hpp"

namespace cocktail {

class MpiComm : public Comm {
 public:
  explicit MpiComm(MPI_Comm comm);
  ~MpiComm() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(std::span<double> values) override;
  void allreduce_max(std::span<double> values) override;
  void allreduce_sum(std::span<uint64_t> values) override;
  void broadcast(std::string& bytes, int root) override;
  void send(std::span<const float> values, int to) override;
  void receive(std::span<float> values, int from) override;
  std::unique_ptr<FailureFlag> make_failure_flag() override;
  // For libraries that open files over a communicator (parallel HDF5).
  MPI_Comm mpi() const { return comm_; }

 private:
  MPI_Comm comm_;
  MPI_Comm node_;  // ranks sharing this node's memory
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace cocktail
