// NcclComm under mpirun: reductions of host and device data give what the
// MPI communicator gives. One ctest entry per rank count; each rank needs a
// GPU of its own (NCCL refuses two ranks on one device), else it skips.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cuda_runtime.h>

#include "dist/mpi_comm.hpp"
#include "dist/nccl_comm.hpp"
#include "gpu/cuda_check.hpp"
#include "gpu/cuda_device.hpp"

namespace cocktail {
namespace {

TEST(NcclComm, ReducesHostAndDeviceDataLikeMpi) {
  MpiComm mpi(MPI_COMM_WORLD);
  // Every rank decides the same way, or some would wait in NCCL forever.
  const GpuProbe probe = cuda::probe_gpus();
  std::vector<double> ready = {probe.count >= mpi.local_size() ? 1.0 : 0.0};
  mpi.allreduce_sum(ready);
  if (ready[0] != mpi.size())
    GTEST_SKIP() << "every rank needs a GPU of its own: " << mpi.local_size() << " rank(s) on this node, "
                 << probe.count << " GPU(s)" << (probe.reason.empty() ? "" : " (" + probe.reason + ")");

  std::string id = mpi.rank() == 0 ? NcclComm::unique_id() : "";
  mpi.broadcast(id, 0);
  NcclComm nccl(mpi, mpi.local_rank(), id);
  EXPECT_EQ(nccl.rank(), mpi.rank());
  EXPECT_EQ(nccl.size(), mpi.size());

  const int r = mpi.rank();
  std::vector<double> host = {1.0 + r, -2.5 * r, 1e300, 0.1 * r};
  std::vector<double> want_sum = host, want_max = host;
  mpi.allreduce_sum(want_sum);
  mpi.allreduce_max(want_max);

  std::vector<double> sum = host, max = host;
  nccl.allreduce_sum(sum);
  nccl.allreduce_max(max);
  EXPECT_EQ(sum, want_sum);
  EXPECT_EQ(max, want_max);

  double* device = nullptr;
  cuda_check(cudaMalloc(&device, host.size() * sizeof(double)), "cudaMalloc");
  cuda_check(cudaMemcpy(device, host.data(), host.size() * sizeof(double), cudaMemcpyHostToDevice), "copy");
  nccl.allreduce_sum(std::span<double>(device, host.size()));
  std::vector<double> back(host.size());
  cuda_check(cudaMemcpy(back.data(), device, back.size() * sizeof(double), cudaMemcpyDeviceToHost), "copy");
  cudaFree(device);
  EXPECT_EQ(back, want_sum);

  std::string text = r == 0 ? "from rank 0" : "";
  nccl.broadcast(text, 0);
  EXPECT_EQ(text, "from rank 0");
}

}  // namespace
}  // namespace cocktail

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // One rank prints, so the skip line appears once.
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
