// The merged model a search scores in memory (src/search/method_source) is
// the merged model cocktail_dist writes, to the bit, for every method of
// src/merge/methods/ over the mergekit fixtures: written at 2 ranks with
// small chunks, computed in memory a whole tensor at a time.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "config/job.hpp"
#include "method_jobs.hpp"
#include "model/tensor_loader.hpp"
#include "mpi_harness.hpp"
#include "search/method_source.hpp"

using namespace cocktail::test;
namespace fs = std::filesystem;

namespace {

class MethodSourceMatches : public ::testing::TestWithParam<std::string> {};

TEST_P(MethodSourceMatches, TheWrittenMergeBitForBit) {
  char tmpl[] = "/tmp/cocktail-method-source-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  const std::string name = GetParam();
  const fs::path cfg = write_job(dir, name, {2, 1024, 1});
  const RunResult r = run_mpi(2, {cfg.string()});
  ASSERT_EQ(r.status, 0) << r.output;

  const cocktail::Job job = cocktail::load_job(cfg);
  std::vector<cocktail::Checkpoint> models;
  for (const auto& m : job.models) models.push_back(cocktail::Checkpoint::open(m.path));
  // Half the inputs cached, half re-read: both paths serve the same bytes.
  uint64_t input_bytes = 0;
  for (const auto& m : models)
    for (const auto& t : m.tensors()) input_bytes += t.info.nbytes();
  cocktail::MethodSource source(job, models, input_bytes / 2, 2);
  const auto written = cocktail::Checkpoint::open(job.output);
  const torch::Device cpu(torch::kCPU);
  for (int evaluation = 0; evaluation < 2; ++evaluation) {
    source.set_job(job);  // as each step of a search does
    for (const auto& t : written.tensors()) {
      uint64_t read = 0;
      const torch::Tensor ours = source.tensor(t.info.name, cpu, read).contiguous();
      const torch::Tensor want = cocktail::load_tensor(written, t.info.name, cpu).contiguous();
      ASSERT_EQ(ours.sizes(), want.sizes()) << name << ": " << t.info.name;
      EXPECT_EQ(std::memcmp(ours.data_ptr(), want.data_ptr(), want.numel() * sizeof(float)), 0)
          << name << ": tensor " << t.info.name << " differs from the written merge";
    }
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, MethodSourceMatches,
    ::testing::Values("task_arithmetic-bfloat16", "ties-float16", "ties_rescaled-bfloat16", "breadcrumbs-float32",
                      "breadcrumbs_ties-bfloat16", "dare_ties-random-bfloat16", "della-random-float32",
                      "sce-bfloat16", "model_stock_rows-float16", "slerp-bfloat16", "nuslerp_rows-float32",
                      "multislerp-bfloat16", "karcher-float32", "nearswap-float16", "arcee_fusion-bfloat16",
                      "ram-float32", "ramplus_tl-bfloat16"),
    param_name);

}  // namespace
