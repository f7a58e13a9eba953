#include "gpu/placement.hpp"

#include <cstdint>

#include "core/error.hpp"

namespace cocktail {

Placement place_rank(DeviceChoice choice, const GpuProbe& probe, int local_rank, const std::string& config) {
  Placement p;
  if (choice == DeviceChoice::Cpu) return p;
  if (probe.count == 0) {
    if (choice == DeviceChoice::Cuda)
      throw Error(config + ": key 'device': cuda, but no GPU is usable (" + probe.reason + ")");
    if (probe.absent)
      p.note = "device: auto, no GPU here (" + probe.reason + ")";
    else
      p.warning = "device: auto found no usable GPU (" + probe.reason + "); merging on the CPU";
    return p;
  }
  p.gpu = local_rank % probe.count;
  return p;
}

double gpu_key(const std::string& identity) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : identity) h = (h ^ c) * 1099511628211ull;
  return static_cast<double>((h >> 12) + 1);  // 52 bits, never 0
}

int ranks_on_same_gpu(const std::vector<double>& keys, int rank) {
  const double mine = keys[static_cast<size_t>(rank)];
  if (mine == 0) return 0;
  int n = 0;
  for (double k : keys) n += k == mine;
  return n;
}

}  // namespace cocktail
