#pragma once
// Which GPUs this process can use, asked of the CUDA module
// (gpu/cuda_module.hpp), which is loaded the first time: a build without
// CUDA, or a node without the CUDA libraries, has none, and the reason says so.
#include <string>

namespace cocktail {

struct GpuProbe {
  int count = 0;
  std::string reason;  // why there is none, when count == 0
  // None is there to use (no device, no driver, no CUDA libraries, a build
  // without CUDA), as opposed to one that failed: `device: auto` says so in
  // the summary only.
  bool absent = false;
};

GpuProbe probe_gpus();

// "<host>/<PCI bus id>": the same for every process that uses this GPU,
// whatever index it has in each one's view (CUDA_VISIBLE_DEVICES differs per
// rank under Slurm --gpus-per-task). Requires a usable device.
std::string gpu_identity(int device);

}  // namespace cocktail
