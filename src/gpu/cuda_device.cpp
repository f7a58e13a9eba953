#include "gpu/cuda_device.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>

#include "gpu/cuda_check.hpp"

namespace cocktail::cuda {

namespace {

// Whether the runtime found the driver's library (it loads libcuda.so.1 on
// its first call): without it, "insufficient driver" means no driver at all.
bool driver_loaded() {
  void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != nullptr;
}

}  // namespace

GpuProbe probe_gpus() {
  GpuProbe probe;
  const cudaError_t status = cudaGetDeviceCount(&probe.count);
  if (status != cudaSuccess) {
    probe.count = 0;
    probe.reason = std::string("CUDA reports ") + cudaGetErrorString(status);
    probe.absent = status == cudaErrorNoDevice || (status == cudaErrorInsufficientDriver && !driver_loaded());
    if (probe.absent && status == cudaErrorInsufficientDriver) probe.reason = "no CUDA driver installed";
  } else if (probe.count == 0) {
    probe.reason = "CUDA reports no device";
    probe.absent = true;
  }
  return probe;
}

std::string gpu_description(int device) {
  cudaDeviceProp p{};
  cuda_check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  char text[320];
  std::snprintf(text, sizeof text, "%s (sm_%d%d, %.1f GiB)", p.name, p.major, p.minor,
                static_cast<double>(p.totalGlobalMem) / (1ull << 30));
  return text;
}

std::string gpu_identity(int device) {
  char bus[64] = {};
  cuda_check(cudaDeviceGetPCIBusId(bus, sizeof bus, device), "cudaDeviceGetPCIBusId");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "/" + bus;
}

}  // namespace cocktail::cuda
