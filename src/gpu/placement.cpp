#include "gpu/placement.hpp"

#include "core/error.hpp"

namespace cocktail {

Placement place_rank(DeviceChoice choice, const GpuProbe& probe, int local_rank, int local_size,
                     const std::string& config) {
  Placement p;
  if (choice == DeviceChoice::Cpu) return p;
  if (probe.count == 0) {
    if (choice == DeviceChoice::Cuda)
      throw Error(config + ": key 'device': cuda, but no GPU is usable (" + probe.reason + ")");
    p.warning = "device: auto found no usable GPU (" + probe.reason + "); merging on the CPU";
    return p;
  }
  p.gpu = local_rank % probe.count;
  // A launcher that binds one GPU per rank (Slurm --gpus-per-task) looks
  // the same from here; the warning says both.
  if (local_size > probe.count)
    p.warning = std::to_string(local_size) + " ranks on this node see " + std::to_string(probe.count) + " GPU" +
                (probe.count == 1 ? "" : "s") +
                " each: unless the launcher gave each rank its own, they share them (one rank per GPU is fastest)";
  return p;
}

}  // namespace cocktail
