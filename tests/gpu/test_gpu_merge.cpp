// The GPU pipeline end to end under mpirun: device: cuda gives the bytes of
// device: cpu, for the weighted sum and for every merge method, with many
// small chunks (every ring slot reused many times, so a
// missing wait between copy, kernel and write shows as wrong bytes), deeper
// prefetch, and two ranks.
#include "gpu_skip.hpp"
#include "merge_fixture.hpp"
#include "method_jobs.hpp"
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

// LoRA candidates: the GPU adds each update to its copy of the unit
// (kernels/lora_update.cu); the bytes are the CPU's, which adds it as it
// reads, for a method's kernel and for the weighted sum.
TEST(GpuMerge, LoraCandidatesGiveTheCpuBytes) {
  COCKTAIL_REQUIRE_GPUS(1);
  Fixture f;
  const fs::path fixtures = COCKTAIL_FIXTURES_DIR;
  const std::string base = (fixtures / "models/llama-fp32").string();
  const std::string candidates = "  - model: " + base + "+" + (fixtures / "lora/llama-fp32-qv").string() +
                                 "\n    parameters: {weight: 0.4}\n  - model: " + base + "\n    lora: " +
                                 (fixtures / "lora/llama-fp32-rs").string() + "\n    parameters: {weight: 0.6}\n";
  for (const std::string method : {"linear", "ties"}) {
    auto merge = [&](const std::string& device, int ranks, const std::string& chunk) {
      const fs::path out = f.dir / (method + "-" + device + std::to_string(ranks));
      const fs::path cfg = f.dir / (method + "-" + device + std::to_string(ranks) + ".yaml");
      std::string text = "merge_method: " + method + "\n";
      if (method == "ties") text += "base_model: " + base + "\nparameters: {density: 0.6}\n";
      write_file(cfg, text + "models:\n" + candidates + "device: " + device + "\nchunk_size: " + chunk +
                          "\noutput: " + out.string() + "\nprogress_interval: 0\n");
      const RunResult r = run_mpi(ranks, {cfg.string()});
      EXPECT_EQ(r.status, 0) << r.output;
      return folder_bytes(out);
    };
    const auto cpu = merge("cpu", 1, "1MiB");
    EXPECT_EQ(merge("cuda", 1, "1MiB"), cpu) << method << ", 1 rank";
    EXPECT_EQ(merge("cuda", 2, "1KiB"), cpu) << method << ", 2 ranks, 1 KiB chunks";
  }
}

class GpuMethods : public ::testing::TestWithParam<std::string> {};

// The method kernels and their statistics on the GPU against the CPU path:
// masks with ties counted across units (1 KiB chunks), DELLA's row sorts,
// DARE's draws, tensors split across two ranks.
TEST_P(GpuMethods, CudaGivesTheCpuBytes) {
  COCKTAIL_REQUIRE_GPUS(1);
  Fixture f;
  const std::string job = GetParam();
  auto merge = [&](const Layout& layout, const std::string& device) {
    const fs::path cfg = write_job(f.dir, job, layout, "device: " + device + "\n");
    const RunResult r = run_mpi(layout.ranks, {cfg.string(), "--overwrite"});
    EXPECT_EQ(r.status, 0) << r.output;
    if (device == "cuda") {
      EXPECT_EQ(r.lines_containing("  compute  cuda:"), 1) << r.output;
    }
    return read_file(f.dir / ("out-" + job) / "model.safetensors");
  };
  const std::string cpu = merge({1, 1 << 20, 1}, "cpu");
  EXPECT_EQ(merge({1, 1 << 20, 1}, "cuda"), cpu) << "1 rank, one unit per tensor";
  EXPECT_EQ(merge({1, 1024, 1}, "cuda"), cpu) << "1 rank, 1 KiB chunks";
  EXPECT_EQ(merge({2, 1024, 1}, "cuda"), cpu) << "2 ranks, 1 KiB chunks";
}

INSTANTIATE_TEST_SUITE_P(Methods, GpuMethods,
                         ::testing::Values("task_arithmetic-float16", "ties-bfloat16", "ties_rescaled-float32",
                                           "breadcrumbs-bfloat16", "breadcrumbs_ties-float16",
                                           "dare_ties-random-bfloat16", "della-random-float32", "slerp-bfloat16",
                                           "karcher-float32", "passthrough_slices-bfloat16"),
                         param_name);

TEST(GpuMethodsNonFinite, CudaGivesTheCpuBytesAndCounts) {
  COCKTAIL_REQUIRE_GPUS(1);
  Fixture f;
  for (const std::string method : {"ties", "breadcrumbs_ties", "dare_ties", "della"}) {
    RunResult r = run_mpi(1, {f.method_config(method, 1 << 20, "device: cpu\n").string(), "--output",
                              (f.dir / "cpu").string()});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto cpu = folder_bytes(f.dir / "cpu");
    const std::vector<std::string> counts = r.matching_lines("NaN/Inf");
    fs::remove_all(f.dir / "cpu");
    r = run_mpi(2, {f.method_config(method, 1024, "device: cuda\n").string(), "--output", (f.dir / "gpu").string()});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(folder_bytes(f.dir / "gpu"), cpu) << method;
    EXPECT_EQ(r.matching_lines("NaN/Inf"), counts) << method;
    fs::remove_all(f.dir / "gpu");
  }
}
