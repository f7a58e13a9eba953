#pragma once
// The CUDA runtime's view of this process's GPUs. Inside libcocktail_cuda.so
// (gpu/cuda_module.hpp) and the GPU tests; cocktail_dist reaches them through
// gpu/device.hpp, which loads the module.
#include <string>

#include "gpu/device.hpp"

namespace cocktail::cuda {

GpuProbe probe_gpus();

// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; requires a usable device.
std::string gpu_description(int device);

// As cocktail::gpu_identity.
std::string gpu_identity(int device);

}  // namespace cocktail::cuda
