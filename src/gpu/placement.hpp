#pragma once
// Where a rank runs its arithmetic, from the config's `device` and the GPUs
// it can see. A pure function of its inputs, so every case is a unit test.
#include <string>
#include <vector>

#include "config/job.hpp"
#include "gpu/device.hpp"

namespace cocktail {

struct Placement {
  int gpu = -1;         // CUDA device index; -1 = the CPU
  bool shared = false;  // another rank uses the same GPU
  std::string warning;  // for the user: why `auto` fell back to the CPU
  std::string note;     // for the summary: `auto` on a machine without a GPU
};

// A rank takes GPU (local_rank % count): its own with one rank per GPU, and
// the single one it sees when the launcher binds GPUs (Slurm --gpus-per-task,
// CUDA_VISIBLE_DEVICES per rank). Throws cocktail::Error naming `config` and
// the key when `device: cuda` and no GPU is usable.
Placement place_rank(DeviceChoice choice, const GpuProbe& probe, int local_rank, const std::string& config);

// Whether GPUs are shared is only known across ranks: each rank puts
// gpu_key(gpu_identity(its GPU)) (0 without one) at its index of a vector,
// a sum all-reduce fills it, and ranks_on_same_gpu counts the ranks whose key
// equals `rank`'s (0 for a rank without a GPU). Keys are exact in a double.
double gpu_key(const std::string& identity);
int ranks_on_same_gpu(const std::vector<double>& keys, int rank);

}  // namespace cocktail
