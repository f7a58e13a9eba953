#pragma once
// Where a rank runs its arithmetic, from the config's `device` and the GPUs
// it can see. A pure function of its inputs, so every case is a unit test.
#include <string>

#include "config/job.hpp"
#include "gpu/device.hpp"

namespace cocktail {

struct Placement {
  int gpu = -1;         // CUDA device index; -1 = the CPU
  std::string warning;  // for the user: why `auto` fell back, or that ranks share a GPU
};

// A rank takes GPU (local_rank % count): its own with one rank per GPU, and
// the single one it sees when the launcher binds GPUs (Slurm --gpus-per-task,
// CUDA_VISIBLE_DEVICES per rank). Throws cocktail::Error naming `config` and
// the key when `device: cuda` and no GPU is usable.
Placement place_rank(DeviceChoice choice, const GpuProbe& probe, int local_rank, int local_size,
                     const std::string& config);

}  // namespace cocktail
