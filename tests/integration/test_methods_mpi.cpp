// mergekit's task-vector methods, sce, arcee_fusion, ram, ramplus_tl, slerp, nuslerp, multislerp, karcher, nearswap, model_stock and passthrough
// with slices under the real mpirun: the values against
// mergekit 0.1.5's own outputs (tests/fixtures/mergekit, made by
// make_mergekit_fixtures.py), the same bytes at any rank count, chunk size
// and thread count, and DARE's and DELLA's masks against their definition.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>

#include "../../kernels/element_math.hpp"
#include "fixture_models.hpp"
#include "io/checkpoint.hpp"
#include "merge_fixture.hpp"
#include "method_jobs.hpp"
#include "mpi_harness.hpp"

using namespace cocktail::test;
namespace fs = std::filesystem;

namespace {

std::string merge(const fs::path& dir, const std::string& job, const Layout& layout, const std::string& extra = "",
                  const std::string& option = "--overwrite") {
  const fs::path cfg = write_job(dir, job, layout, extra);
  const RunResult r = run_ranks(layout.ranks, {cfg.string(), "--overwrite", option});
  EXPECT_EQ(r.status, 0) << r.output;
  return read_file(dir / ("out-" + job) / "model.safetensors");
}

float element(const cocktail::CheckpointTensor& t, const std::string& file, uint64_t i) {
  const char* p = file.data() + t.file_offset();
  switch (t.info.dtype) {
    case cocktail::DType::F32: return cocktail::load_as_f32(p, cocktail::DType::F32, i);
    case cocktail::DType::BF16: return cocktail::load_as_f32(p, cocktail::DType::BF16, i);
    case cocktail::DType::F16: return cocktail::load_as_f32(p, cocktail::DType::F16, i);
    default: ADD_FAILURE() << "unexpected dtype"; return 0;
  }
}

// Values of every tensor of a checkpoint, widened to float.
std::map<std::string, std::vector<float>> values(const fs::path& path) {
  const auto c = cocktail::Checkpoint::open(path);
  std::map<std::string, std::vector<float>> out;
  std::map<uint32_t, std::string> files;
  for (const auto& t : c.tensors()) {
    if (!files.count(t.file)) files[t.file] = read_file(c.files()[t.file].path);
    auto& v = out[t.info.name];
    for (uint64_t i = 0; i < t.info.numel(); ++i) v.push_back(element(t, files[t.file], i));
  }
  return out;
}

class Tmp {
 public:
  Tmp() {
    char tmpl[] = "/tmp/cocktail-methods-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~Tmp() { fs::remove_all(dir); }
  fs::path dir;
};

class MergekitValues : public ::testing::TestWithParam<std::string> {};

// Bit for bit: our float32 steps are mergekit's (dtype float32), the output
// rounded once. Ties at a magnitude cut follow our rule, which the fixtures
// were made with (make_mergekit_fixtures.py).
TEST_P(MergekitValues, EqualsMergekitBitForBit) {
  Tmp tmp;
  const std::string job = GetParam();
  const std::string ours = merge(tmp.dir, job, {2, 1024, 1});
  const auto c = cocktail::Checkpoint::open(tmp.dir / ("out-" + job));
  const auto expected = cocktail::Checkpoint::open(kMergekit / "expected" / (job + ".safetensors"));
  const std::string want = read_file(expected.files()[0].path);
  ASSERT_EQ(c.tensors().size(), expected.tensors().size());
  for (const auto& t : expected.tensors()) {
    const auto* got = c.find(t.info.name);
    ASSERT_NE(got, nullptr) << t.info.name;
    EXPECT_EQ(got->info.dtype, t.info.dtype) << t.info.name;
    EXPECT_EQ(ours.substr(got->file_offset(), got->info.nbytes()), want.substr(t.file_offset(), t.info.nbytes()))
        << job << ": tensor " << t.info.name << " differs from mergekit's";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, MergekitValues,
    ::testing::Values("task_arithmetic-float32", "task_arithmetic-bfloat16", "task_arithmetic-float16",
                      "ties-float32", "ties-bfloat16", "ties-float16", "breadcrumbs-float32", "breadcrumbs-bfloat16",
                      "breadcrumbs-float16", "breadcrumbs_ties-float32", "breadcrumbs_ties-bfloat16",
                      "breadcrumbs_ties-float16", "slerp-bfloat16", "slerp-float16", "slerp_ends-bfloat16",
                      "slerp_ends-float16", "slerp_colinear-float32", "slerp_colinear-bfloat16",
                      "slerp_colinear-float16", "nearswap-float32", "nearswap-bfloat16", "nearswap-float16",
                      "model_stock-bfloat16", "model_stock-float16", "nuslerp-bfloat16", "nuslerp-float16",
                      "nuslerp_nobase-float16", "multislerp-bfloat16", "multislerp_nobase-bfloat16",
                      "karcher-bfloat16", "karcher_base-bfloat16", "passthrough_slices-float32",
                      "passthrough_slices-bfloat16", "passthrough_slices-float16", "ties_slices-float32",
                      "ties_slices-bfloat16", "ties_slices-float16", "sce-bfloat16", "sce-float16",
                      "sce_all-bfloat16", "arcee_fusion-float32", "arcee_fusion-bfloat16",
                      "arcee_fusion-float16", "nuslerp_rows-bfloat16", "model_stock_rows-bfloat16", "nuslerp_cols-bfloat16",
                      "ram-float32", "ram-bfloat16", "ram-float16", "ramplus_tl-float32", "ramplus_tl-bfloat16",
                      "ramplus_tl-float16"),
    param_name);

// Whole-tensor sums (the rescale's L1 norms, the spherical methods' and model_stock's dot products; karcher's
// iterations, run on exact inner products) are exact
// here and float32 sums in torch, so a per-tensor factor can differ in its
// last bits: the output then differs by at most one step of a 16-bit dtype,
// or 2^-20 of the tensor's largest magnitude in float32.
int16_t ordered(uint16_t bits) { return (bits & 0x8000) ? -int16_t(bits & 0x7FFF) : int16_t(bits); }

class MergekitValuesWholeTensorSums : public ::testing::TestWithParam<std::string> {};

TEST_P(MergekitValuesWholeTensorSums, WithinOneStepOfTheOutputDtype) {
  Tmp tmp;
  const std::string job = GetParam();
  const std::string ours = merge(tmp.dir, job, {3, 1024, 2});
  const auto c = cocktail::Checkpoint::open(tmp.dir / ("out-" + job));
  const auto expected = cocktail::Checkpoint::open(kMergekit / "expected" / (job + ".safetensors"));
  const std::string want = read_file(expected.files()[0].path);
  const auto want_values = values(kMergekit / "expected" / (job + ".safetensors"));
  const auto our_values = values(tmp.dir / ("out-" + job));
  for (const auto& t : expected.tensors()) {
    const auto* got = c.find(t.info.name);
    ASSERT_NE(got, nullptr);
    const auto& w = want_values.at(t.info.name);
    float top = 0;
    for (float x : w) top = std::max(top, std::fabs(x));
    for (uint64_t i = 0; i < t.info.numel(); ++i) {
      if (t.info.dtype == cocktail::DType::F32) {
        ASSERT_LE(std::fabs(our_values.at(t.info.name)[i] - w[i]), top * 0x1p-20f) << t.info.name << "[" << i << "]";
        continue;
      }
      uint16_t a, b;
      std::memcpy(&a, ours.data() + got->file_offset() + 2 * i, 2);
      std::memcpy(&b, want.data() + t.file_offset() + 2 * i, 2);
      ASSERT_LE(std::abs(ordered(a) - ordered(b)), 1) << t.info.name << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MergekitValuesWholeTensorSums,
                         ::testing::Values("ties_rescaled-float32", "ties_rescaled-bfloat16", "ties_rescaled-float16",
                                           "slerp-float32", "slerp_ends-float32", "model_stock-float32",
                                           "nuslerp-float32", "nuslerp_nobase-float32", "nuslerp_nobase-bfloat16",
                                           "multislerp-float32", "multislerp-float16", "multislerp_nobase-float32",
                                           "multislerp_nobase-float16", "karcher-float32", "karcher-float16",
                                           "karcher_base-float32", "karcher_base-float16", "slerp_slices-float32",
                                           "slerp_slices-bfloat16", "slerp_slices-float16", "sce-float32",
                                           "sce_all-float32", "sce_all-float16", "nuslerp_rows-float32",
                                           "nuslerp_rows-float16", "model_stock_rows-float32",
                                           "model_stock_rows-float16", "linear_slices-float32",
                                           "linear_slices-bfloat16", "linear_slices-float16", "nuslerp_cols-float32",
                                           "nuslerp_cols-float16"),
                         param_name);

// slerp at t = 0 is the base and at t = 1 the other model, byte for byte
// (slerp_ends: t 0 on self_attn, 1 on mlp).
TEST(Slerp, EndsAreTheModelsThemselves) {
  Tmp tmp;
  const std::string job = "slerp_ends-float32";
  const std::string ours = merge(tmp.dir, job, {2, 1024, 1});
  const auto out = values(tmp.dir / ("out-" + job));
  const auto base = values(kMergekit / "inputs" / "float32" / "base");
  const auto other = values(kMergekit / "inputs" / "float32" / "b");
  int checked = 0;
  for (const auto& [name, v] : out) {
    const bool attn = name.find("self_attn") != std::string::npos, mlp = name.find("mlp") != std::string::npos;
    if (!attn && !mlp) continue;
    const auto& want = attn ? base.at(name) : other.at(name);
    ASSERT_EQ(std::memcmp(v.data(), want.data(), v.size() * sizeof(float)), 0) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 21);
}

// A frankenmerge (passthrough_slices: layers 0-1 of a, then 1-2 of b): the
// output's config.json counts 4 layers, and a per-layer list takes each
// output layer's entry from the model and layer it came from.
TEST(Slices, ConfigJsonCountsAndRestacksTheLayers) {
  Tmp tmp;
  for (const char* m : {"a", "b"}) {
    const fs::path from = kMergekit / "inputs" / "bfloat16" / m, to = tmp.dir / "inputs" / "bfloat16" / m;
    fs::create_directories(to);
    fs::copy_file(from / "model.safetensors", to / "model.safetensors");
    auto config = nlohmann::ordered_json::parse(read_file(from / "config.json"));
    config["layer_types"] = {std::string(m) + "0", std::string(m) + "1", std::string(m) + "2"};
    write_file(to / "config.json", config.dump(2));
  }
  std::string job = read_file(kMergekit / "jobs" / "passthrough_slices-bfloat16.yaml");
  job = std::regex_replace(job, std::regex("\\.\\./inputs/"), (tmp.dir / "inputs").string() + "/");
  write_file(tmp.dir / "job.yaml", job + "output: " + (tmp.dir / "out").string() + "\nprogress_interval: 0\n");
  const RunResult r = run_mpi(2, {(tmp.dir / "job.yaml").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto config = nlohmann::json::parse(read_file(tmp.dir / "out" / "config.json"));
  EXPECT_EQ(config["num_hidden_layers"], 4);
  EXPECT_EQ(config["layer_types"], nlohmann::json({"a0", "a1", "b1", "b2"}));
  EXPECT_EQ(cocktail::Checkpoint::open(tmp.dir / "out").tensors().size(), 3 + 4 * 9u);  // embed, norm, lm_head
}

// linear with slices runs as a method of src/merge/methods/; one slice of
// every layer with each model's weight is the core linear job, value for value.
TEST(LinearMethod, OneSliceOfEveryLayerIsTheCoreLinear) {
  Tmp tmp;
  const std::string in = (kMergekit / "inputs" / "bfloat16").string(), out = tmp.dir.string();
  write_file(tmp.dir / "core.yaml", "merge_method: linear\nmodels:\n  - model: " + in + "/a\n    parameters: {weight: 0.3}\n"
                                    "  - model: " + in + "/b\n    parameters: {weight: 0.45}\noutput: " + out +
                                    "/core\nprogress_interval: 0\n");
  write_file(tmp.dir / "sliced.yaml", "merge_method: linear\nslices:\n  - sources:\n      - model: " + in +
                                      "/a\n        layer_range: [0, 3]\n        parameters: {weight: 0.3}\n"
                                      "      - model: " + in + "/b\n        layer_range: [0, 3]\n"
                                      "        parameters: {weight: 0.45}\noutput: " + out + "/sliced\nprogress_interval: 0\n");
  for (const char* job : {"core", "sliced"}) {
    const RunResult r = run_mpi(2, {(tmp.dir / (std::string(job) + ".yaml")).string()});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // The headers' metadata say how each was written; the tensors are the same.
  EXPECT_EQ(values(tmp.dir / "sliced"), values(tmp.dir / "core"));
}

// sce with select_topk 0 keeps no entry of any task vector: the base, as
// mergekit's sce_mask of zeros gives.
TEST(Sce, SelectTopkZeroIsTheBase) {
  Tmp tmp;
  const std::string in = (kMergekit / "inputs" / "float32").string();
  write_file(tmp.dir / "job.yaml", "merge_method: sce\nbase_model: " + in + "/base\nparameters: {select_topk: 0}\n"
                                   "models:\n  - model: " + in + "/a\n  - model: " + in + "/b\noutput: " +
                                   (tmp.dir / "out").string() + "\nprogress_interval: 0\n");
  const RunResult r = run_mpi(2, {(tmp.dir / "job.yaml").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = values(tmp.dir / "out");
  const auto base = values(kMergekit / "inputs" / "float32" / "base");
  for (const auto& [name, v] : out) EXPECT_EQ(v, base.at(name)) << name;
}

class SameBytes : public ::testing::TestWithParam<std::string> {};

// Invariant 1 for every method: ranks, chunks and threads change no byte,
// nor running without mpirun (no MPI at all).
TEST_P(SameBytes, AtAnyRankCountChunkSizeAndThreadCount) {
  Tmp tmp;
  const std::string job = GetParam();
  const std::string one = merge(tmp.dir, job, {1, 1 << 20, 1});
  EXPECT_EQ(merge(tmp.dir, job, {3, 1024, 2}), one) << "3 ranks, 1 KiB chunks, 2 threads";
  EXPECT_EQ(merge(tmp.dir, job, {2, 3000, 1}), one) << "2 ranks, 3000-byte chunks";
  EXPECT_EQ(merge(tmp.dir, job, {4, 8192, 1}), one) << "4 ranks, 8 KiB chunks";
  EXPECT_EQ(merge(tmp.dir, job, {kAlone, 4096, 2}), one) << "one process without mpirun";
}

INSTANTIATE_TEST_SUITE_P(Methods, SameBytes,
                         ::testing::Values("task_arithmetic-bfloat16", "ties-bfloat16", "ties_rescaled-float32",
                                           "breadcrumbs-float16", "breadcrumbs_ties-bfloat16", "slerp-float32",
                                           "nearswap-bfloat16", "model_stock-float32", "nuslerp_nobase-float32",
                                           "multislerp-float32", "karcher_base-float16",
                                           "passthrough_slices-bfloat16", "slerp_slices-float32", "ties_slices-float16",
                                           "sce-float32", "sce-bfloat16", "arcee_fusion-bfloat16",
                                           "nuslerp_rows-float32", "model_stock_rows-float16", "ramplus_tl-bfloat16",
                                           "linear_slices-bfloat16", "nuslerp_cols-float32", "nuslerp_cols-float16"),
                         param_name);

class EmulatedGpu : public ::testing::TestWithParam<std::string> {};

// The GPU path's device descriptions and per-element kernel code, run on
// the CPU (--emulate-gpu), give the CPU path's bytes: statistics and apply,
// split tensors across ranks and ties counted across units included. On a
// GPU, tests/gpu/test_gpu_merge.cpp compares the kernels themselves.
TEST_P(EmulatedGpu, GivesTheCpuPathsBytes) {
  Tmp tmp;
  const std::string job = GetParam();
  const std::string cpu = merge(tmp.dir, job, {1, 1 << 20, 1});
  EXPECT_EQ(merge(tmp.dir, job, {1, 1 << 20, 1}, "", "--emulate-gpu"), cpu) << "1 rank";
  EXPECT_EQ(merge(tmp.dir, job, {3, 1024, 1}, "", "--emulate-gpu"), cpu) << "3 ranks, 1 KiB chunks";
}

// Mixed dtypes, NaN/Inf in a model, a scalar and an empty tensor, a
// sharded output: the same bytes and the same NaN/Inf counts.
TEST(EmulatedGpuNonFinite, GivesTheCpuPathsBytesAndCounts) {
  Fixture f;
  for (const std::string method : {"ties", "breadcrumbs_ties", "dare_ties", "della"}) {
    RunResult r = run_mpi(1, {f.method_config(method, 1 << 20).string(), "--output", (f.dir / "cpu").string()});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto cpu = folder_bytes(f.dir / "cpu");
    const std::vector<std::string> counts = r.matching_lines("NaN/Inf");
    ASSERT_FALSE(counts.empty()) << r.output;
    fs::remove_all(f.dir / "cpu");
    r = run_mpi(2, {f.method_config(method, 1024).string(), "--output", (f.dir / "emulated").string(), "--emulate-gpu"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(folder_bytes(f.dir / "emulated"), cpu) << method;
    EXPECT_EQ(r.matching_lines("NaN/Inf"), counts) << method;
    fs::remove_all(f.dir / "emulated");
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, EmulatedGpu,
                         ::testing::Values("task_arithmetic-float16", "ties-bfloat16", "ties_rescaled-float32",
                                           "breadcrumbs-bfloat16", "breadcrumbs_ties-float16",
                                           "dare_ties-random-bfloat16", "della-random-float32", "slerp-bfloat16",
                                           "karcher-float32"),
                         param_name);

// A random job over the fixture inputs: one model, weight 1, so the output
// minus the base is exactly the kept (and rescaled) task vector.
fs::path random_job(const fs::path& dir, const std::string& method, const std::string& params, int ranks,
                    uint64_t chunk, const std::string& out, const std::string& job_params = "rescale: true") {
  const fs::path in = kMergekit / "inputs" / "float32";
  write_file(dir / "job.yaml", "merge_method: " + method + "\nbase_model: " + (in / "base").string() +
                                   "\nmodels:\n  - model: " + (in / "c").string() + "\n    parameters: {weight: 1, " +
                                   params + "}\nparameters: {" + job_params + "}\nrandom_seed: 11\noutput: " + (dir / out).string() +
                                   "\nchunk_size: " + std::to_string(chunk) + "\nprogress_interval: 0\n");
  const RunResult r = run_mpi(ranks, {(dir / "job.yaml").string(), "--overwrite"});
  EXPECT_EQ(r.status, 0) << r.output;
  return dir / out;
}

TEST(Dare, KeepsAboutDensityAndRescalesToTheL1Norm) {
  Tmp tmp;
  const auto base = values(kMergekit / "inputs" / "float32" / "base");
  const auto ft = values(kMergekit / "inputs" / "float32" / "c");
  // Without rescale the kept entries are the task vector itself.
  const auto plain = values(random_job(tmp.dir, "dare_linear", "density: 0.3", 2, 2048, "plain", "rescale: false"));
  uint64_t kept = 0, total = 0;
  for (const auto& [name, b] : base)
    for (size_t i = 0; i < b.size(); ++i) {
      const float d = ft.at(name)[i] - b[i];
      ++total;
      if (plain.at(name)[i] != b[i]) {
        ++kept;
        EXPECT_EQ(plain.at(name)[i], b[i] + d) << name;
      }
    }
  // Binomial(total, 0.3): 5 standard deviations.
  const double sd = std::sqrt(total * 0.3 * 0.7);
  EXPECT_NEAR(double(kept), 0.3 * total, 5 * sd) << kept << " of " << total;

  // mergekit's rescale: the kept task vector has the whole one's L1 norm.
  const auto l1 = values(random_job(tmp.dir, "dare_linear", "density: 0.3", 3, 1024, "l1"));
  for (const auto& [name, b] : base) {
    double want = 0, got = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      want += std::fabs(double(ft.at(name)[i]) - b[i]);
      got += std::fabs(double(l1.at(name)[i]) - b[i]);
    }
    EXPECT_NEAR(got, want, want * 1e-4) << name;
  }
}

TEST(Dare, PaperRescaleDividesByTheDensity) {
  Tmp tmp;
  const fs::path in = kMergekit / "inputs" / "float32";
  write_file(tmp.dir / "job.yaml", "merge_method: dare_linear\nbase_model: " + (in / "base").string() +
                                       "\nmodels:\n  - model: " + (in / "c").string() +
                                       "\n    parameters: {weight: 1, density: 0.25}\nparameters:\n"
                                       "  rescale_norm: density\nrandom_seed: 11\noutput: " +
                                       (tmp.dir / "out").string() + "\nprogress_interval: 0\n");
  ASSERT_EQ(run_mpi(2, {(tmp.dir / "job.yaml").string()}).status, 0);
  const auto base = values(in / "base"), ft = values(in / "c"), got = values(tmp.dir / "out");
  const float scale = static_cast<float>(1.0 / 0.25);
  uint64_t kept = 0, total = 0;
  for (const auto& [name, b] : base)
    for (size_t i = 0; i < b.size(); ++i) {
      ++total;
      if (got.at(name)[i] == b[i]) continue;
      ++kept;
      const float d = ft.at(name)[i] - b[i];
      EXPECT_EQ(got.at(name)[i], b[i] + (d * scale)) << name << "[" << i << "]";
    }
  EXPECT_NEAR(double(kept), 0.25 * total, 5 * std::sqrt(total * 0.25 * 0.75));
}

TEST(Della, KeepsLargeMagnitudesMoreOftenAndAboutDensityOverall) {
  Tmp tmp;
  const auto base = values(kMergekit / "inputs" / "float32" / "base");
  const auto ft = values(kMergekit / "inputs" / "float32" / "c");
  const auto out = values(random_job(tmp.dir, "della_linear", "density: 0.5, epsilon: 0.4", 3, 1024, "out",
                                     "rescale: false"));
  uint64_t kept = 0, total = 0, kept_large = 0, large = 0;
  for (const auto& [name, b] : base) {
    std::vector<float> mags;
    for (size_t i = 0; i < b.size(); ++i) mags.push_back(std::fabs(ft.at(name)[i] - b[i]));
    std::vector<float> sorted = mags;
    std::sort(sorted.begin(), sorted.end());
    const float median = sorted[sorted.size() / 2];
    for (size_t i = 0; i < b.size(); ++i) {
      const bool k = out.at(name)[i] != b[i];
      kept += k;
      ++total;
      if (mags[i] > median) kept_large += k, ++large;
    }
  }
  // Keep probability 0.1 .. 0.9 by rank: 0.5 overall, about 0.7 in the top half.
  EXPECT_NEAR(double(kept) / total, 0.5, 0.03);
  EXPECT_GT(double(kept_large) / large, 0.65);
}

// A job killed mid-merge resumes at another rank count to the same bytes:
// the statistics are computed again, the written units skipped.
TEST(MethodResume, KilledTiesJobResumesToTheSameBytes) {
  Tmp tmp;
  for (const std::string job : {"ties_rescaled-bfloat16", "dare_ties-random-bfloat16"}) {
    SCOPED_TRACE(job);
    const std::string whole = merge(tmp.dir, job, {1, 1 << 20, 1});
    fs::remove_all(tmp.dir / ("out-" + job));
    const fs::path cfg = write_job(tmp.dir, job, {3, 1024, 1});
    const RunResult plan = run_mpi(3, {cfg.string(), "--dry-run"});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(plan.output, m, std::regex(R"(in (\d+) work units)"))) << plan.output;
    const size_t units = std::stoul(m[1]);
    {
      const ScopedEnv env("COCKTAIL_FAULT", "kill@written:1:" + std::to_string(units / 2));
      EXPECT_NE(run_mpi(3, {cfg.string()}).status, 0);
    }
    ASSERT_FALSE(fs::exists(tmp.dir / ("out-" + job)));
    const RunResult resumed = run_mpi(2, {cfg.string()});
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    EXPECT_EQ(resumed.lines_containing("cocktail: resuming from"), 1) << resumed.output;
    EXPECT_EQ(read_file(tmp.dir / ("out-" + job) / "model.safetensors"), whole);
  }
}

// Item: LM-Cocktail's weights for any method. ties with examples and a
// target gives the tensors of the same ties job with the weights written
// out: target alpha, each model (1 - alpha) * softmax(-loss / T).
TEST(FewShotWeights, TiesWithExamplesEqualsTiesWithThoseWeights) {
  Tmp tmp;
  const fs::path m = fs::path(COCKTAIL_FIXTURES_DIR) / "models";
  auto job = [&](const std::string& out, const std::string& w1, const std::string& w2, const std::string& wt) {
    const bool fewshot = w1.empty();
    std::string text = "merge_method: ties\nbase_model: " + (m / "llama-fp32").string() + "\n";
    text += fewshot ? "target: " + (m / "llama-peer1-fp32").string() + "\n" : "";
    text += "models:\n";
    if (!fewshot) text += "  - model: " + (m / "llama-peer1-fp32").string() + "\n    parameters: {weight: " + wt + "}\n";
    text += "  - model: " + (m / "llama-peer2-fp32").string() + "\n    parameters: {density: 0.6" +
            (fewshot ? "" : ", weight: " + w1) + "}\n";
    text += "  - model: " + (m / "llama-peer3-fp32").string() + "\n    parameters: {density: 0.6" +
            (fewshot ? "" : ", weight: " + w2) + "}\n";
    text += "parameters:\n  density: 0.5\n" + std::string(fewshot ? "  alpha: 0.3\n" : "");
    if (fewshot) text += "examples: " + (fs::path(COCKTAIL_FIXTURES_DIR) / "examples" / "decoder.jsonl").string() + "\n";
    text += "output: " + (tmp.dir / out).string() + "\nchunk_size: 4096\nprogress_interval: 0\n";
    write_file(tmp.dir / (out + ".yaml"), text);
    const RunResult r = run_mpi(2, {(tmp.dir / (out + ".yaml")).string()});
    EXPECT_EQ(r.status, 0) << r.output;
  };
  job("fewshot", "", "", "");
  const auto report = nlohmann::json::parse(read_file(tmp.dir / "fewshot" / "merge_report.json"));
  const auto& c = report["fewshot"]["candidates"];
  ASSERT_EQ(c.size(), 2u);
  auto text = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.17g", v);
    return std::string(b);
  };
  job("explicit", text((1 - 0.3) * c[0]["weight"].get<double>()), text((1 - 0.3) * c[1]["weight"].get<double>()),
      "0.3");
  const auto a = values(tmp.dir / "fewshot"), b = values(tmp.dir / "explicit");
  EXPECT_EQ(a, b);
}

INSTANTIATE_TEST_SUITE_P(Random, SameBytes, ::testing::Values("dare_ties-random-bfloat16", "della-random-float32"),
                         param_name);

}  // namespace
