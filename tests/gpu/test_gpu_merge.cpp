// The GPU pipeline end to end under mpirun: device: cuda gives the bytes of
// device: cpu with many small chunks (every ring slot reused many times, so a
// missing wait between copy, kernel and write shows as wrong bytes), deeper
// prefetch, and two ranks.
#include "gpu_skip.hpp"
#include "merge_fixture.hpp"
#include "mpi_harness.hpp"

using namespace cocktail::test;

TEST(GpuMerge, CudaGivesTheCpuBytes) {
  COCKTAIL_REQUIRE_GPUS(1);
  Fixture f;
  const fs::path cpu_out = f.dir / "cpu";
  RunResult r = run_mpi(1, {f.linear_config(4096, 2, 0, "device: cpu\n").string(), "--output", cpu_out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto reference = folder_bytes(cpu_out);

  struct Run { int ranks; uint64_t chunk; int prefetch; };
  for (const Run run : {Run{1, 1024, 1}, Run{1, 1024, 3}, Run{1, 65536, 2}, Run{2, 1024, 2}}) {
    const std::string label = std::to_string(run.ranks) + " ranks, chunk " + std::to_string(run.chunk) +
                              ", prefetch " + std::to_string(run.prefetch);
    const fs::path out = f.dir / ("gpu-" + std::to_string(run.ranks) + "-" + std::to_string(run.chunk) + "-" +
                                  std::to_string(run.prefetch));
    const std::string extra = "device: cuda\nprefetch: " + std::to_string(run.prefetch) + "\n";
    r = run_mpi(run.ranks, {f.linear_config(run.chunk, 1, 0, extra).string(), "--output", out.string()});
    ASSERT_EQ(r.status, 0) << label << "\n" << r.output;
    EXPECT_EQ(r.lines_containing("  compute  cuda:"), 1) << r.output;
    EXPECT_EQ(r.lines_containing("342 NaN/Inf values read from ft_a"), 1) << r.output;
    EXPECT_EQ(folder_bytes(out), reference) << label;
  }
}
