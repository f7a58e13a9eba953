// device: auto|cpu|cuda against the GPUs a rank sees.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "gpu/placement.hpp"

namespace cocktail {
namespace {

const GpuProbe kNone{0, "CUDA reports no device", true};
const GpuProbe kBroken{0, "CUDA reports all CUDA-capable devices are busy or unavailable", false};
const GpuProbe kEight{8, ""};
const GpuProbe kOne{1, ""};

TEST(Placement, CpuNeverTouchesAGpu) {
  const Placement p = place_rank(DeviceChoice::Cpu, kEight, 3, "job.yaml");
  EXPECT_EQ(p.gpu, -1);
  EXPECT_EQ(p.warning, "");
}

TEST(Placement, EachRankTakesItsNodeLocalGpu) {
  for (int local = 0; local < 8; ++local) {
    EXPECT_EQ(place_rank(DeviceChoice::Cuda, kEight, local, "job.yaml").gpu, local);
    EXPECT_EQ(place_rank(DeviceChoice::Auto, kEight, local, "job.yaml").gpu, local);
    EXPECT_EQ(place_rank(DeviceChoice::Auto, kEight, local, "job.yaml").warning, "");
  }
}

// Slurm --gpus-per-task (or CUDA_VISIBLE_DEVICES per rank) shows each rank
// one GPU: it takes device 0 of what it sees.
TEST(Placement, BoundLaunchersShowOneGpuPerRank) {
  EXPECT_EQ(place_rank(DeviceChoice::Cuda, kOne, 5, "job.yaml").gpu, 0);
  EXPECT_EQ(place_rank(DeviceChoice::Cuda, kOne, 5, "job.yaml").warning, "");
}

TEST(Placement, MoreRanksThanGpusWrapAround) {
  EXPECT_EQ(place_rank(DeviceChoice::Auto, kEight, 11, "job.yaml").gpu, 3);
}

// Sharing is decided by what GPU each rank really uses, across ranks.
TEST(Placement, RanksOnTheSameGpuAreCountedByIdentity) {
  const double a = gpu_key("node1/0000:17:00.0"), b = gpu_key("node1/0000:65:00.0"),
               c = gpu_key("node2/0000:17:00.0");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, 0.0);
  EXPECT_EQ(a, gpu_key("node1/0000:17:00.0"));
  EXPECT_EQ(a, static_cast<double>(static_cast<uint64_t>(a)));  // exact through a sum all-reduce
  const std::vector<double> keys = {a, b, c, a, 0.0};
  EXPECT_EQ(ranks_on_same_gpu(keys, 0), 2);
  EXPECT_EQ(ranks_on_same_gpu(keys, 1), 1);
  EXPECT_EQ(ranks_on_same_gpu(keys, 2), 1);
  EXPECT_EQ(ranks_on_same_gpu(keys, 3), 2);
  EXPECT_EQ(ranks_on_same_gpu(keys, 4), 0);
}

// A machine without a GPU is not worth a warning: the summary says it.
TEST(Placement, AutoWithoutAGpuNotesItForTheSummary) {
  const Placement p = place_rank(DeviceChoice::Auto, kNone, 0, "job.yaml");
  EXPECT_EQ(p.gpu, -1);
  EXPECT_EQ(p.warning, "");
  EXPECT_EQ(p.note, "device: auto, no GPU here (CUDA reports no device)");
}

// A GPU that is there and fails is.
TEST(Placement, AutoWarnsWhenAGpuIsThereButUnusable) {
  const Placement p = place_rank(DeviceChoice::Auto, kBroken, 0, "job.yaml");
  EXPECT_EQ(p.gpu, -1);
  EXPECT_EQ(p.warning, "device: auto found no usable GPU (CUDA reports all CUDA-capable devices are busy or "
                       "unavailable); merging on the CPU");
  EXPECT_EQ(p.note, "");
}

TEST(Placement, CudaWithoutAGpuIsAnErrorNamingTheKey) {
  try {
    place_rank(DeviceChoice::Cuda, kNone, 0, "/jobs/merge.yaml");
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
  std::printf("GPUs here: %d %s%s\n", probe.count, probe.reason.c_str(), probe.absent ? " (none present)" : "");
}

}  // namespace
}  // namespace cocktail
