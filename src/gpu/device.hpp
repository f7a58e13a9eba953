#pragma once
// Which GPUs this process can use. Built with or without CUDA: without it
// there are none, and the reason says so.
#include <string>

namespace cocktail {

struct GpuProbe {
  int count = 0;
  std::string reason;  // why there is none, when count == 0
  // None is there to use (no device, no driver, a build without CUDA), as
  // opposed to one that failed: `device: auto` says so in the summary only.
  bool absent = false;
};

GpuProbe probe_gpus();

// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; requires a usable device.
std::string gpu_description(int device);

// "<host>/<PCI bus id>": the same for every process that uses this GPU,
// whatever index it has in each one's view (CUDA_VISIBLE_DEVICES differs per
// rank under Slurm --gpus-per-task). Requires a usable device.
std::string gpu_identity(int device);

}  // namespace cocktail
