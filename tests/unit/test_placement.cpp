// device: auto|cpu|cuda against the GPUs a rank sees.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "gpu/placement.hpp"

namespace cocktail {
namespace {

const GpuProbe kNone{0, "CUDA reports no device"};
const GpuProbe kEight{8, ""};
const GpuProbe kOne{1, ""};

TEST(Placement, CpuNeverTouchesAGpu) {
  const Placement p = place_rank(DeviceChoice::Cpu, kEight, 3, 8, "job.yaml");
  EXPECT_EQ(p.gpu, -1);
  EXPECT_EQ(p.warning, "");
}

TEST(Placement, EachRankTakesItsNodeLocalGpu) {
  for (int local = 0; local < 8; ++local) {
    EXPECT_EQ(place_rank(DeviceChoice::Cuda, kEight, local, 8, "job.yaml").gpu, local);
    EXPECT_EQ(place_rank(DeviceChoice::Auto, kEight, local, 8, "job.yaml").gpu, local);
    EXPECT_EQ(place_rank(DeviceChoice::Auto, kEight, local, 8, "job.yaml").warning, "");
  }
}

// Slurm --gpus-per-task (or CUDA_VISIBLE_DEVICES per rank) shows each rank
// one GPU: it takes device 0 of what it sees.
TEST(Placement, BoundLaunchersShowOneGpuPerRank) {
  EXPECT_EQ(place_rank(DeviceChoice::Cuda, kOne, 5, 8, "job.yaml").gpu, 0);
  // One rank alone on its node with its GPU: nothing to warn about.
  EXPECT_EQ(place_rank(DeviceChoice::Cuda, kOne, 0, 1, "job.yaml").warning, "");
}

TEST(Placement, MoreRanksThanGpusShareThemWithAWarning) {
  const Placement p = place_rank(DeviceChoice::Auto, kEight, 11, 16, "job.yaml");
  EXPECT_EQ(p.gpu, 3);
  EXPECT_EQ(p.warning,
            "16 ranks on this node see 8 GPUs each: unless the launcher gave each rank its own, they share them "
            "(one rank per GPU is fastest)");
}

TEST(Placement, AutoFallsBackToTheCpuWithTheReason) {
  const Placement p = place_rank(DeviceChoice::Auto, kNone, 0, 2, "job.yaml");
  EXPECT_EQ(p.gpu, -1);
  EXPECT_EQ(p.warning, "device: auto found no usable GPU (CUDA reports no device); merging on the CPU");
}

TEST(Placement, CudaWithoutAGpuIsAnErrorNamingTheKey) {
  try {
    place_rank(DeviceChoice::Cuda, kNone, 0, 2, "/jobs/merge.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "/jobs/merge.yaml: key 'device': cuda, but no GPU is usable (CUDA reports no device)");
  }
}

TEST(Placement, ThisMachinesProbeGivesAReasonWhenItFindsNoGpu) {
  const GpuProbe probe = probe_gpus();
  if (probe.count == 0) {
    EXPECT_FALSE(probe.reason.empty());
  }
  std::printf("GPUs here: %d %s\n", probe.count, probe.reason.c_str());
}

}  // namespace
}  // namespace cocktail
