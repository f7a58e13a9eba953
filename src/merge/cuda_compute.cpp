// The GPU ChunkCompute. Each slot of the engine's ring has its own CUDA
// stream, device buffers and page-locked counters; start() enqueues
//   host->device copies of the inputs, the kernel, device->host copy of the
//   output and the counters, an event
// and returns, so while slot s computes, the engine's I/O threads read the
// next units into other slots and write the previous one out of its slot.
// Copies run from page-locked memory, so they are truly asynchronous.
#include <algorithm>
#include <string>
#include <vector>

#include "gpu/cuda_check.hpp"
#include "merge/chunk_compute.hpp"
#include "weighted_sum_cuda.hpp"

namespace cocktail {
namespace {

template <typename T>
struct DeviceFree {
  void operator()(T* p) const { cudaFree(p); }
};
template <typename T>
using DeviceBuffer = std::unique_ptr<T, DeviceFree<T>>;

template <typename T>
DeviceBuffer<T> device_alloc(size_t bytes) {
  void* p = nullptr;
  cuda_check(cudaMalloc(&p, std::max<size_t>(bytes, 1)), "cudaMalloc");
  return DeviceBuffer<T>(static_cast<T*>(p));
}

void free_host(std::byte* p) { cudaFreeHost(p); }

HostBuffer pinned_alloc(size_t bytes) {
  void* p = nullptr;
  cuda_check(cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocDefault), "cudaHostAlloc");
  return HostBuffer(static_cast<std::byte*>(p), HostFree{free_host});
}

struct DeviceSlot {
  cudaStream_t stream = nullptr;
  cudaEvent_t done = nullptr;
  std::vector<DeviceBuffer<std::byte>> inputs;
  DeviceBuffer<std::byte> output;
  DeviceBuffer<unsigned long long> counters;
  HostBuffer host_counters;  // page-locked copy of `counters`
  size_t models = 0;
  uint64_t* nonfinite = nullptr;  // where finish() adds the counters; null when settled
};

class CudaCompute : public ChunkCompute {
 public:
  CudaCompute(int device, const ComputeSizes& sizes) : device_(device), name_("cuda:" + std::to_string(device)) {
    if (sizes.max_models > static_cast<size_t>(kMaxGpuModels))
      throw Error("device cuda: " + std::to_string(sizes.max_models) + " models in one sum; the GPU path takes at most " +
                  std::to_string(kMaxGpuModels) + " (use device: cpu)");
    cuda_check(cudaSetDevice(device_), "cudaSetDevice");
    int sms = 0;
    cuda_check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_), "cudaDeviceGetAttribute");
    blocks_ = 8 * sms;
    const size_t counters = (sizes.max_models + 1) * sizeof(unsigned long long);
    slots_.resize(sizes.slots);
    try {
      for (DeviceSlot& s : slots_) {
        cuda_check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreate");
        // Blocking: the I/O threads that wait on it would otherwise spin.
        cuda_check(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming | cudaEventBlockingSync),
                   "cudaEventCreate");
        for (size_t m = 0; m < sizes.max_models; ++m)
          s.inputs.push_back(device_alloc<std::byte>(sizes.max_in_bytes));
        s.output = device_alloc<std::byte>(sizes.max_out_bytes);
        s.counters = device_alloc<unsigned long long>(counters);
        s.host_counters = pinned_alloc(counters);
      }
    } catch (const Error& e) {
      release_streams();
      throw Error(std::string(e.what()) + " (GPU buffers: " + std::to_string(sizes.slots) + " slots x " +
                  std::to_string(sizes.max_models + 1) + " x chunk; lower chunk_size or prefetch)");
    }
  }

  ~CudaCompute() override { release_streams(); }

  HostBuffer host_buffer(size_t bytes) override {
    cuda_check(cudaSetDevice(device_), "cudaSetDevice");
    return pinned_alloc(bytes);
  }

  void start(size_t slot, std::span<const WeightedInput> in, std::byte* out, DType out_dtype, size_t n,
             uint64_t* nonfinite) override {
    DeviceSlot& s = slots_[slot];
    SumArgs args;
    args.models = static_cast<int>(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const size_t bytes = n * dtype_size(in[i].dtype);
      cuda_check(cudaMemcpyAsync(s.inputs[i].get(), in[i].data, bytes, cudaMemcpyHostToDevice, s.stream),
                 "copy to device");
      args.in[i] = s.inputs[i].get();
      args.dtype[i] = in[i].dtype;
      args.weight[i] = in[i].weight;
    }
    const size_t counter_bytes = (in.size() + 1) * sizeof(unsigned long long);
    cuda_check(cudaMemsetAsync(s.counters.get(), 0, counter_bytes, s.stream), "cudaMemsetAsync");
    args.out = s.output.get();
    args.out_dtype = out_dtype;
    args.n = n;
    args.nonfinite = s.counters.get();
    launch_weighted_sum(args, blocks_, s.stream);
    cuda_check(cudaMemcpyAsync(out, s.output.get(), n * dtype_size(out_dtype), cudaMemcpyDeviceToHost, s.stream),
               "copy to host");
    cuda_check(cudaMemcpyAsync(s.host_counters.get(), s.counters.get(), counter_bytes, cudaMemcpyDeviceToHost,
                               s.stream),
               "copy to host");
    cuda_check(cudaEventRecord(s.done, s.stream), "cudaEventRecord");
    s.models = in.size();
    s.nonfinite = nonfinite;
  }

  void start_method(size_t, const TensorMethod&, const WorkUnit&, UnitInputs, std::byte*, uint64_t*) override {
    throw Error("device cuda: this merge method runs on the CPU in this version (device: cpu)");
  }

  void wait(size_t slot) override {
    cuda_check(cudaSetDevice(device_), "cudaSetDevice");  // the calling thread's current device
    cuda_check(cudaEventSynchronize(slots_[slot].done), "kernel or copy");
  }

  void finish(size_t slot) override {
    DeviceSlot& s = slots_[slot];
    if (!s.nonfinite) return;
    wait(slot);
    const auto* counts = reinterpret_cast<const unsigned long long*>(s.host_counters.get());
    for (size_t i = 0; i <= s.models; ++i) s.nonfinite[i] += counts[i];
    s.nonfinite = nullptr;
  }

  const char* name() const override { return name_.c_str(); }

 private:
  // Nothing may still read or write the buffers, which go after this.
  void release_streams() {
    for (DeviceSlot& s : slots_) {
      if (s.stream) cudaStreamSynchronize(s.stream);
      if (s.done) cudaEventDestroy(s.done);
      if (s.stream) cudaStreamDestroy(s.stream);
      s.stream = nullptr;
      s.done = nullptr;
    }
  }

  int device_;
  int blocks_ = 0;
  std::string name_;
  std::vector<DeviceSlot> slots_;
};

}  // namespace

std::unique_ptr<ChunkCompute> make_cuda_compute(int device, const ComputeSizes& sizes) {
  return std::make_unique<CudaCompute>(device, sizes);
}

}  // namespace cocktail
