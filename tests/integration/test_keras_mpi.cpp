// Keras 3 weights in and out under real mpirun (tests/fixtures/keras): any
// method over .weights.h5 inputs, single and sharded; the Keras output,
// created by every rank with parallel HDF5, is the same bytes at any rank
// count and chunk size, holds the tensors the safetensors output of the
// same merge holds, resumes after a killed rank to the same bytes, and bad
// files stop every rank with one line. (tests/fixtures/check_keras_output.py
// loads the output into Keras by hand.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <regex>

#include "fixture_models.hpp"
#include "io/checkpoint.hpp"
#include "../unit/checkpoint_bytes.hpp"
#include "merge_fixture.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail;
using namespace cocktail::test;

namespace {

const fs::path kKeras = fs::path(COCKTAIL_FIXTURES_DIR) / "keras";

std::string job(const std::string& method, const std::string& extra = "") {
  const std::string params = method == "linear" ? "{weight: 0.5}" : "{weight: 0.5, density: 0.6}";
  return "merge_method: " + method + "\n" + (method == "linear" ? "" : "base_model: " + (kKeras / "llama-f32").string() + "\n") +
         "models:\n"
         "  - model: " + (kKeras / "llama-f32-peer/model.weights.h5").string() + "\n    parameters: " + params + "\n"
         "  - model: " + (kKeras / "llama-f32-sharded").string() + "\n    parameters: " + params + "\n" +
         (method == "linear" ? "  - model: " + (kKeras / "llama-f32").string() + "\n    parameters: " + params + "\n" : "") +
         "progress_interval: 0\n" + extra;
}

RunResult merge(const TempDir& dir, const std::string& name, const std::string& text, int ranks) {
  write_file(dir.path / (name + ".yaml"), text + "output: " + (dir.path / name).string() + "\n");
  return run_ranks(ranks, {(dir.path / (name + ".yaml")).string()});
}

}  // namespace

TEST(KerasMpi, OutputIsTheSameBytesAtAnyScaleAndHoldsTheSafetensorsMergesTensors) {
  const TempDir dir("keras");
  for (const std::string method : {"linear", "ties"}) {
    const RunResult st = merge(dir, method + "-st", job(method, "output_format: safetensors\n"), 2);
    ASSERT_EQ(st.status, 0) << st.output;
    const Checkpoint want = Checkpoint::open(dir.path / (method + "-st"));
    for (const std::string shards : {"", "max_shard_size: 30000\n"}) {
      std::map<std::string, std::string> first;
      for (const auto& [ranks, extra] :
           std::vector<std::pair<int, std::string>>{{1, ""}, {2, "chunk_size: 2KiB\n"}, {3, "chunk_size: 1KiB\nio_threads: 3\n"},
                                                     {kAlone, "chunk_size: 4KiB\n"}}) {
        const std::string name = method + std::to_string(ranks) + (shards.empty() ? "" : "s");
        const RunResult r = merge(dir, name, job(method, shards + extra), ranks);
        ASSERT_EQ(r.status, 0) << r.output;
        const auto bytes = folder_bytes(dir.path / name);
        EXPECT_TRUE(bytes.count(shards.empty() ? "model.weights.h5" : "model.weights.json")) << name;
        EXPECT_TRUE(bytes.count("metadata.json")) << name;
        if (first.empty()) {
          first = bytes;
          // The Keras output reads back (with our own HDF5 reader) as the
          // tensors the safetensors output of the same merge holds.
          const Checkpoint got = Checkpoint::open(dir.path / name);
          ASSERT_EQ(got.tensors().size(), want.tensors().size());
          for (const CheckpointTensor& w : want.tensors()) {
            const CheckpointTensor* g = got.find(w.info.name);
            ASSERT_NE(g, nullptr) << w.info.name;
            EXPECT_EQ(g->info.shape, w.info.shape);
            EXPECT_TRUE(tensor_bytes_of(got, *g) == tensor_bytes_of(want, w)) << name << " " << w.info.name;
          }
        } else {
          EXPECT_EQ(differing_files(bytes, first), std::vector<std::string>{}) << name;
        }
      }
    }
  }
}

// The output's config.json names the output's dtype in its dtype policy,
// which Keras builds the variables in: a float32 merge written as bfloat16,
// and a bfloat16 preset merged into float32.
TEST(KerasMpi, TheDtypePolicyNamesTheOutputsDtype) {
  const TempDir dir("keras");
  auto policy = [&](const std::string& name) {
    return nlohmann::json::parse(read_file(dir.path / name / "config.json"))["config"]["dtype"]["config"]["name"];
  };
  RunResult r = merge(dir, "to-bf16", job("linear", "dtype: bfloat16\n"), 2);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(policy("to-bf16"), "bfloat16");
  r = merge(dir, "same", job("linear"), 2);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(policy("same"), "float32");
  const std::string bf16 = (kKeras / "llama-bf16").string();
  r = merge(dir, "to-f32",
            "merge_method: linear\nmodels:\n  - model: " + bf16 + "\n    parameters: {weight: 0.5}\n  - model: " +
                (kKeras / "llama-f32").string() + "\n    parameters: {weight: 0.5}\ndtype: float32\nprogress_interval: 0\n",
            2);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(policy("to-f32"), "float32");
  EXPECT_EQ(Checkpoint::open(dir.path / "to-f32").tensors().front().info.dtype, DType::F32);
}

TEST(KerasMpi, KilledRankResumesToTheSameBytes) {
  const TempDir dir("keras");
  const std::string text = job("linear", "chunk_size: 1KiB\n");
  ASSERT_EQ(merge(dir, "reference", text, 2).status, 0);
  write_file(dir.path / "job.yaml", text + "output: " + (dir.path / "out").string() + "\n");
  {
    const ScopedEnv env("COCKTAIL_FAULT", "kill@written:0:6");
    const RunResult killed = run_mpi(2, {(dir.path / "job.yaml").string()});
    EXPECT_NE(killed.status, 0) << killed.output;
  }
  ASSERT_TRUE(fs::exists(dir.path / ".out.cocktail-staging/model.weights.h5"));
  const RunResult r = run_mpi(3, {(dir.path / "job.yaml").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: resuming from"), 1) << r.output;
  EXPECT_EQ(differing_files(folder_bytes(dir.path / "out"), folder_bytes(dir.path / "reference")),
            std::vector<std::string>{});
}

TEST(KerasMpi, BadFilesAndKeysStopEveryRankWithOneLine) {
  const TempDir dir("keras");
  const fs::path chunked = kKeras / "hdf5/bad_chunked.weights.h5";
  write_file(dir.path / "job.yaml", "merge_method: linear\nmodels:\n  - model: " + chunked.string() +
                                        "\n    parameters: {weight: 1}\noutput: " + (dir.path / "out").string() + "\n");
  RunResult r = run_mpi(2, {(dir.path / "job.yaml").string()}, /*every_rank_finishes=*/true);
  ASSERT_EQ(r.rank_status.size(), 2u) << r.output;
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_GE(r.lines_containing(chunked.string() + ": dataset 'layers/d/vars/0' is stored in chunks"), 1) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "out"));

  write_file(dir.path / "job.yaml", job("linear", "output_format: hdf5\noutput: " + (dir.path / "out").string() + "\n"));
  r = run_mpi(2, {(dir.path / "job.yaml").string()}, true);
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_GE(r.lines_containing("key 'output_format': must be auto, safetensors or keras, got 'hdf5'"), 1) << r.output;
}
