// GPU figures the merge is judged against, measured in one run on one GPU:
//   host->device and device->host copies from page-locked memory (what the
//   pipeline's copies can reach), a device->device copy (the practical memory
//   bandwidth), and the weighted-sum kernel.
//
//   build/tests/bench/cuda_bench [models=4] [MiB per input=256] [device=0]
//
// Kernel inputs are bf16, output bf16. Kernel GB/s counts every byte it reads
// and writes, so it compares directly with the device copy's read+write rate;
// input GB/s counts input bytes, as the merge benchmark does. Best of 10 runs,
// timed with CUDA events. Exits 2 when there is no usable GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu/cuda_check.hpp"
#include "gpu/cuda_device.hpp"
#include "weighted_sum_cuda.hpp"

using namespace cocktail;

namespace {

// Seconds of the fastest of 10 runs of `work` on `stream`.
template <typename Work>
double best_of_10(cudaStream_t stream, Work work) {
  cudaEvent_t start, stop;
  cuda_check(cudaEventCreate(&start), "cudaEventCreate");
  cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
  work();  // warm-up
  float best = 1e30f;
  for (int rep = 0; rep < 10; ++rep) {
    cuda_check(cudaEventRecord(start, stream), "cudaEventRecord");
    work();
    cuda_check(cudaEventRecord(stop, stream), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    cuda_check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    best = std::min(best, ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  const int models = argc > 1 ? std::atoi(argv[1]) : 4;
  const size_t bytes = (argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 256) << 20;
  const int device = argc > 3 ? std::atoi(argv[3]) : 0;
  const GpuProbe probe = cuda::probe_gpus();
  if (probe.count <= device) {
    std::fprintf(stderr, "cuda_bench: no usable GPU %d (%s)\n", device,
                 probe.reason.empty() ? "fewer devices" : probe.reason.c_str());
    return 2;
  }
  try {
    cuda_check(cudaSetDevice(device), "cudaSetDevice");
    cudaStream_t stream;
    cuda_check(cudaStreamCreate(&stream), "cudaStreamCreate");
    void *host = nullptr, *a = nullptr, *b = nullptr;
    cuda_check(cudaHostAlloc(&host, bytes, cudaHostAllocDefault), "cudaHostAlloc");
    cuda_check(cudaMalloc(&a, bytes), "cudaMalloc");
    cuda_check(cudaMalloc(&b, bytes), "cudaMalloc");
    std::fill_n(static_cast<unsigned char*>(host), bytes, 0x3f);

    const double h2d = best_of_10(stream, [&] {
      cuda_check(cudaMemcpyAsync(a, host, bytes, cudaMemcpyHostToDevice, stream), "copy");
    });
    const double d2h = best_of_10(stream, [&] {
      cuda_check(cudaMemcpyAsync(host, a, bytes, cudaMemcpyDeviceToHost, stream), "copy");
    });
    const double d2d = best_of_10(stream, [&] {
      cuda_check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream), "copy");
    });

    SumArgs args;
    args.models = models;
    std::vector<void*> inputs(models);
    for (int m = 0; m < models; ++m) {
      cuda_check(cudaMalloc(&inputs[m], bytes), "cudaMalloc");
      cuda_check(cudaMemcpy(inputs[m], host, bytes, cudaMemcpyHostToDevice), "copy");
      args.in[m] = inputs[m];
      args.dtype[m] = DType::BF16;
      args.weight[m] = 1.0f / static_cast<float>(models);
    }
    unsigned long long* counters = nullptr;
    cuda_check(cudaMalloc(&counters, (models + 1) * sizeof *counters), "cudaMalloc");
    args.out = b;
    args.out_dtype = DType::BF16;
    args.n = bytes / 2;
    args.nonfinite = counters;
    int sms = 0;
    cuda_check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    const double kernel = best_of_10(stream, [&] { launch_weighted_sum(args, 8 * sms, stream); });

    const double gb = static_cast<double>(bytes) / 1e9;
    std::printf("cuda_bench: %s, %d x %zu MiB bf16 inputs\n", cuda::gpu_description(device).c_str(), models, bytes >> 20);
    std::printf("  host->device copy (pinned)   %7.1f GB/s\n", gb / h2d);
    std::printf("  device->host copy (pinned)   %7.1f GB/s\n", gb / d2h);
    std::printf("  device->device copy          %7.1f GB/s read+write\n", 2 * gb / d2d);
    std::printf("  weighted-sum kernel          %7.1f GB/s read+write (%.2f of the device copy), %.1f GB/s input\n",
                (models + 1) * gb / kernel, ((models + 1) * gb / kernel) / (2 * gb / d2d), models * gb / kernel);
    for (void* p : inputs) cudaFree(p);
    cudaFree(counters);
    cudaFree(a);
    cudaFree(b);
    cudaFreeHost(host);
    cudaStreamDestroy(stream);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
