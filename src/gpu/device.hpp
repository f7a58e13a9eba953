#pragma once
// Which GPUs this process can use. Built with or without CUDA: without it
// there are none, and the reason says so.
#include <string>

namespace cocktail {

struct GpuProbe {
  int count = 0;
  std::string reason;  // why there is none, when count == 0
};

GpuProbe probe_gpus();

// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; requires a usable device.
std::string gpu_description(int device);

}  // namespace cocktail
