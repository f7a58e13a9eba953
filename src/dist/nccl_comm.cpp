#include "dist/nccl_comm.hpp"

#include <cstring>

#include "gpu/cuda_check.hpp"

namespace cocktail {
namespace {

void nccl_check(ncclResult_t status, const char* what) {
  if (status != ncclSuccess) throw Error(std::string("NCCL ") + what + ": " + ncclGetErrorString(status));
}

bool on_device(const void* p) {
  cudaPointerAttributes a{};
  return cudaPointerGetAttributes(&a, p) == cudaSuccess && a.type == cudaMemoryTypeDevice;
}

}  // namespace

std::string NcclComm::unique_id() {
  ncclUniqueId id{};
  nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, sizeof id.internal);
}

NcclComm::NcclComm(Comm& host, int device, const std::string& id) : host_(host), device_(device) {
  if (id.size() != sizeof(ncclUniqueId::internal)) throw Error("NCCL: malformed unique id");
  ncclUniqueId nccl_id{};
  std::memcpy(nccl_id.internal, id.data(), id.size());
  cuda_check(cudaSetDevice(device_), "cudaSetDevice");
  nccl_check(ncclCommInitRank(&nccl_, host_.size(), nccl_id, host_.rank()), "ncclCommInitRank");
  cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

NcclComm::~NcclComm() {
  if (stream_) cudaStreamDestroy(stream_);
  if (nccl_) ncclCommDestroy(nccl_);
}

void NcclComm::allreduce_sum(std::span<double> values) {
  allreduce(values.data(), values.size(), sizeof(double), ncclDouble, ncclSum);
}
void NcclComm::allreduce_max(std::span<double> values) {
  allreduce(values.data(), values.size(), sizeof(double), ncclDouble, ncclMax);
}
void NcclComm::allreduce_sum(std::span<uint64_t> values) {
  allreduce(values.data(), values.size(), sizeof(uint64_t), ncclUint64, ncclSum);
}

void NcclComm::allreduce(void* values, size_t count, size_t element_bytes, ncclDataType_t type, ncclRedOp_t op) {
  if (count == 0) return;
  cuda_check(cudaSetDevice(device_), "cudaSetDevice");
  const size_t bytes = count * element_bytes;
  void* data = values;
  void* staged = nullptr;
  if (!on_device(data)) {
    cuda_check(cudaMallocAsync(&staged, bytes, stream_), "cudaMallocAsync");
    cuda_check(cudaMemcpyAsync(staged, values, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
    data = staged;
  }
  nccl_check(ncclAllReduce(data, data, count, type, op, nccl_, stream_), "ncclAllReduce");
  if (staged) {
    cuda_check(cudaMemcpyAsync(values, staged, bytes, cudaMemcpyDeviceToHost, stream_), "copy to host");
    cuda_check(cudaFreeAsync(staged, stream_), "cudaFreeAsync");
  }
  cuda_check(cudaStreamSynchronize(stream_), "NCCL all-reduce");
}

}  // namespace cocktail
