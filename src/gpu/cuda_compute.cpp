// The GPU ChunkCompute. Each slot of the engine's ring has its own CUDA
// stream, device buffers and page-locked counters; start() enqueues
//   host->device copies of the inputs, their LoRA updates (a candidate
//   given as base+adapter), the kernel, device->host copy of the
//   output and the counters, an event
// and returns, so while slot s computes, the engine's I/O threads read the
// next units into other slots and write the previous one out of its slot.
// Copies run from page-locked memory, so they are truly asynchronous.
#include "gpu/cuda_compute.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "gpu/cuda_check.hpp"
#include "lora_update_cuda.hpp"
#include "task_vector_cuda.hpp"
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

// An adapted tensor's left and right on the device, uploaded once while its
// units pass; `host` (kept alive here) says which tensor's they are.
struct DeviceOperands {
  std::shared_ptr<const LoraOperands> host;
  DeviceBuffer<float> left, right;
  size_t left_n = 0, right_n = 0;  // capacities, in floats
};

struct DeviceSlot {
  cudaStream_t stream = nullptr;
  cudaEvent_t done = nullptr;
  std::vector<DeviceBuffer<std::byte>> inputs;
  DeviceBuffer<std::byte> output;
  DeviceBuffer<unsigned long long> counters;
  HostBuffer host_counters;  // page-locked copy of `counters`
  std::unique_ptr<TaskVectorDevice> methods;  // a method's scratch, on first use
  std::vector<LoraUpdate> updates;  // of the next start
  std::vector<DeviceOperands> lora;  // by input: its tensor's LoRA operands
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
    add_updates(s);
    const size_t counter_bytes = (in.size() + 1) * sizeof(unsigned long long);
    cuda_check(cudaMemsetAsync(s.counters.get(), 0, counter_bytes, s.stream), "cudaMemsetAsync");
    args.out = s.output.get();
    args.out_dtype = out_dtype;
    args.n = n;
    args.nonfinite = s.counters.get();
    launch_weighted_sum(args, blocks_, s.stream);
    download(s, out, n * dtype_size(out_dtype), in.size(), nonfinite);
  }

  void start_method(size_t slot, const TensorMethod& method, const WorkUnit& unit, UnitInputs in, std::byte* out,
                    uint64_t* nonfinite) override {
    DeviceSlot& s = slots_[slot];
    const TaskVectorUnit u = method.device_unit(unit);
    const void* device_in[kMaxTaskVectorModels + 1];
    upload(s, u, in, device_in);
    const size_t counter_bytes = (in.size() + 1) * sizeof(unsigned long long);
    cuda_check(cudaMemsetAsync(s.counters.get(), 0, counter_bytes, s.stream), "cudaMemsetAsync");
    s.methods->apply(u, device_in, s.output.get(), s.counters.get(), s.stream);
    download(s, out, unit.count * dtype_size(u.out_dtype), in.size(), nonfinite);
  }

  // On slot 0's stream, synchronously: the statistics engine reads the
  // next unit meanwhile, and passes are bound by that read.
  void accumulate(int pass, TensorMethod& method, const WorkUnit& unit, UnitInputs in) override {
    DeviceSlot& s = slots_[0];
    const TaskVectorUnit u = method.device_unit(unit);
    const TaskVectorStats stats = method.device_statistics(pass, unit);
    const void* device_in[kMaxTaskVectorModels + 1];
    upload(s, u, in, device_in);
    const std::span<uint64_t> state = method.state(pass, unit.tensor);
    const size_t bytes = state.size() * sizeof(uint64_t);
    if (state_bytes_ < bytes) {
      state_ = device_alloc<uint64_t>(bytes);
      state_bytes_ = bytes;
    }
    cuda_check(cudaMemsetAsync(state_.get(), 0, bytes, s.stream), "cudaMemsetAsync");
    s.methods->statistics(u, stats, device_in, state_.get(), s.stream);
    part_.resize(state.size());
    cuda_check(cudaMemcpyAsync(part_.data(), state_.get(), bytes, cudaMemcpyDeviceToHost, s.stream), "copy to host");
    cuda_check(cudaStreamSynchronize(s.stream), "statistics kernel");
    for (size_t k = 0; k < state.size(); ++k) state[k] += part_[k];
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

  bool adds_lora_updates() const override { return true; }
  void set_updates(size_t slot, std::vector<LoraUpdate> updates) override { slots_[slot].updates = std::move(updates); }

  const char* name() const override { return name_.c_str(); }

 private:
  // The slot's LoRA updates, each into the device copy of its input (just
  // uploaded, on the same stream).
  void add_updates(DeviceSlot& s) {
    for (const LoraUpdate& u : s.updates) {
      if (s.lora.size() <= u.input) s.lora.resize(u.input + 1);
      DeviceOperands& d = s.lora[u.input];
      if (d.host != u.operands) upload_operands(s, d, u.operands);
      LoraArgs a = u.args;
      a.left = d.left.get();
      a.right = d.right.get();
      a.data = s.inputs.at(u.input).get();
      launch_lora_update(a, blocks_, s.stream);
    }
    s.updates.clear();
  }

  void upload_operands(DeviceSlot& s, DeviceOperands& d, std::shared_ptr<const LoraOperands> host) {
    auto fit = [&](DeviceBuffer<float>& buf, size_t& capacity, const std::vector<float>& v) {
      if (capacity < v.size()) {
        cuda_check(cudaStreamSynchronize(s.stream), "LoRA update");  // the old buffer may still be read
        buf = device_alloc<float>(v.size() * sizeof(float));
        capacity = v.size();
      }
      // From pageable memory: returns once the bytes are staged, so `host`
      // may go with the next tensor.
      cuda_check(cudaMemcpyAsync(buf.get(), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice, s.stream),
                 "copy to device");
    };
    fit(d.left, d.left_n, host->left);
    fit(d.right, d.right_n, host->right);
    d.host = std::move(host);
  }

  // Nothing may still read or write the buffers, which go after this.
  void release_streams() {
    for (DeviceSlot& s : slots_) {
      if (s.stream) cudaStreamSynchronize(s.stream);
      s.methods.reset();
      if (s.done) cudaEventDestroy(s.done);
      if (s.stream) cudaStreamDestroy(s.stream);
      s.stream = nullptr;
      s.done = nullptr;
    }
  }

  // Enqueues the copies of the slot's output and counters (of `sources`
  // inputs) to the host, then the slot's event; finish() adds the counters
  // to `nonfinite`.
  void download(DeviceSlot& s, std::byte* out, size_t out_bytes, size_t sources, uint64_t* nonfinite) {
    cuda_check(cudaMemcpyAsync(out, s.output.get(), out_bytes, cudaMemcpyDeviceToHost, s.stream), "copy to host");
    cuda_check(cudaMemcpyAsync(s.host_counters.get(), s.counters.get(), (sources + 1) * sizeof(unsigned long long),
                               cudaMemcpyDeviceToHost, s.stream),
               "copy to host");
    cuda_check(cudaEventRecord(s.done, s.stream), "cudaEventRecord");
    s.models = sources;
    s.nonfinite = nonfinite;
  }

  // The unit's inputs into the slot's device buffers (`device_in`).
  void upload(DeviceSlot& s, const TaskVectorUnit& u, UnitInputs in, const void** device_in) {
    if (in.size() > s.inputs.size() || in.size() != static_cast<size_t>(u.models) + 1)
      throw Error("internal: " + std::to_string(in.size()) + " inputs for " + std::to_string(s.inputs.size()) +
                  " device buffers");
    for (size_t i = 0; i < in.size(); ++i) {
      cuda_check(cudaMemcpyAsync(s.inputs[i].get(), in[i], u.count * dtype_size(u.dtype[i]), cudaMemcpyHostToDevice,
                                 s.stream),
                 "copy to device");
      device_in[i] = s.inputs[i].get();
    }
    add_updates(s);
    if (!s.methods) s.methods = std::make_unique<TaskVectorDevice>();
  }

  int device_;
  int blocks_ = 0;
  DeviceBuffer<uint64_t> state_;  // a statistics pass's state of one unit
  size_t state_bytes_ = 0;
  std::vector<uint64_t> part_;    // its copy in host memory
  std::string name_;
  std::vector<DeviceSlot> slots_;
};

}  // namespace

namespace cuda {

std::unique_ptr<ChunkCompute> make_compute(int device, const ComputeSizes& sizes) {
  return std::make_unique<CudaCompute>(device, sizes);
}

}  // namespace cuda

}  // namespace cocktail
