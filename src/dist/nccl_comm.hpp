#pragma once
// Comm whose reductions run through NCCL on this rank's GPU, for data that
// lives there (loss partials of a CUDA forward, per-tensor statistics).
// Identity, broadcast and the failure flag come from the host communicator
// (MPI) it is built from, which must outlive it.
#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "dist/comm.hpp"

namespace cocktail {

class NcclComm : public Comm {
 public:
  // A new NCCL id (rank 0 makes one; every rank needs it before the
  // constructor, broadcast over the host communicator).
  static std::string unique_id();
  // Collective: every rank with the same `id`, each on a GPU of its own
  // (NCCL refuses two ranks on one). A rank that fails here leaves the others
  // waiting inside NCCL, so callers agree on every step before it.
  NcclComm(Comm& host, int device, const std::string& id);
  ~NcclComm() override;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  int local_rank() const override { return host_.local_rank(); }
  int local_size() const override { return host_.local_size(); }

  // `values` may be host memory or device memory of this rank's GPU; host
  // values are staged through a device buffer.
  void allreduce_sum(std::span<double> values) override;
  void allreduce_max(std::span<double> values) override;
  void allreduce_sum(std::span<uint64_t> values) override;
  void broadcast(std::string& bytes, int root) override { host_.broadcast(bytes, root); }
  // Host memory, through the host communicator.
  void send(std::span<const float> values, int to) override { host_.send(values, to); }
  void receive(std::span<float> values, int from) override { host_.receive(values, from); }
  std::unique_ptr<FailureFlag> make_failure_flag() override { return host_.make_failure_flag(); }

 private:
  void allreduce(void* values, size_t count, size_t element_bytes, ncclDataType_t type, ncclRedOp_t op);

  Comm& host_;
  int device_;
  ncclComm_t nccl_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace cocktail
