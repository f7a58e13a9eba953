// End-to-end merges under real mpirun: the same bytes at any rank count and
// chunk size, values equal to an independent recomputation, and the user-
// facing files (index, config, side files, report).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "merge_fixture.hpp"
#include "io/checkpoint.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;

namespace {

// Bytes of one tensor of a written checkpoint.
std::string tensor_bytes(const cocktail::Checkpoint& c, const std::string& name) {
  const auto* t = c.find(name);
  EXPECT_NE(t, nullptr) << name;
  const std::string file = read_file(c.files()[t->file].path);
  return file.substr(t->file_offset(), t->info.nbytes());
}

// The merge stores every NaN result as the one quiet NaN, whatever the
// hardware propagated, so CPU and GPU outputs agree.
float canonical(float x) { return std::isnan(x) ? std::bit_cast<float>(0x7FC00000u) : x; }

}  // namespace

TEST(MergeMpi, SameBytesAtAnyRankCountChunkSizeAndThreadCount) {
  Fixture f;
  struct Run { int ranks; uint64_t chunk; int threads; };
  const Run runs[] = {{1, 1024, 1}, {1, 4096, 3}, {2, 1024, 2}, {2, 4096, 1}, {3, 1024, 1}, {3, 4096, 2}, {kAlone, 2048, 2}};
  std::map<std::string, std::string> reference;
  for (const Run& run : runs) {
    const std::string label = std::to_string(run.ranks) + " ranks, chunk " +
                              std::to_string(run.chunk) + ", " + std::to_string(run.threads) + " threads";
    const fs::path out = f.dir / ("out-" + std::to_string(&run - runs));
    const RunResult r =
        run_ranks(run.ranks, {f.linear_config(run.chunk, run.threads).string(), "--output", out.string()});
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_EQ(r.rank_status, std::vector<int>(std::max(run.ranks, 1), 0)) << r.output;
    EXPECT_EQ(r.lines_containing("cocktail: merged 7 tensors of 3 models"), 1) << r.output;
    // ft_a's up_proj holds NaN/Inf at every i % 97 == 3: 342 of 129 * 257.
    EXPECT_EQ(r.lines_containing("342 NaN/Inf values read from ft_a"), 1) << r.output;
    EXPECT_EQ(r.lines_containing("342 merged values are NaN/Inf in the output"), 1) << r.output;
    EXPECT_EQ(r.lines_containing("integer tensor 'model.mask' differs"), 1) << r.output;
    EXPECT_FALSE(fs::exists(f.dir / ("." + out.filename().string() + ".cocktail-staging")));
    auto files = folder_bytes(out);
    if (reference.empty()) {
      reference = files;
      EXPECT_GE(files.size(), 5u);  // shards, index, config, tokenizer, report
    } else {
      EXPECT_EQ(files, reference) << label;
    }
  }
}

TEST(MergeMpi, Rank0ReportsProgressAndSummary) {
  Fixture f;
  const RunResult r = run_mpi(2, {f.linear_config(1024, 1, 1e-6).string(), "--output",
                                  (f.dir / "out").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  // Only rank 0 reports, so the percentages never go back.
  std::istringstream lines(r.output);
  int previous = -1, progress_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("% (read ") == std::string::npos) continue;
    const int percent = std::stoi(line.substr(line.find(": ") + 2));
    EXPECT_GE(percent, previous) << r.output;
    previous = percent;
    ++progress_lines;
  }
  EXPECT_GE(progress_lines, 2) << r.output;
  EXPECT_EQ(r.lines_containing("ETA"), progress_lines) << r.output;
  EXPECT_EQ(r.lines_containing("peak RSS rank 0"), 1) << r.output;
}

TEST(MergeMpi, InspectListsTensors) {
  Fixture f;
  const std::string cmd = std::string(COCKTAIL_DIST_BIN) + " inspect " + (f.dir / "base").string() +
                          " > " + (f.dir / "inspect.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string text = read_file(f.dir / "inspect.txt");
  EXPECT_NE(text.find("7 tensors in 2 file(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << text;
  EXPECT_NE(text.find("[129, 257]"), std::string::npos) << text;
  EXPECT_NE(text.find("model-00002-of-00002.safetensors"), std::string::npos) << text;
}

TEST(MergeMpi, ValuesEqualIndependentRecomputation) {
  Fixture f;
  const fs::path out = f.dir / "out";
  const RunResult r = run_mpi(2, {f.linear_config(1024).string(), "--output", out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto merged = cocktail::Checkpoint::open(out);
  // normalize: true; weights summed in double, rounded once to float.
  const float w[3] = {static_cast<float>(0.5 / 1.0), static_cast<float>(0.3 / 1.0),
                      static_cast<float>(0.2 / 1.0)};
  const auto& base = f.models["base"];
  for (size_t t = 0; t < 5; ++t) {
    const auto& ref = base[t];
    const std::string got = tensor_bytes(merged, ref.name);
    ASSERT_EQ(got.size(), ref.bytes.size()) << ref.name;  // output dtype = base's
    const size_t n = ref.dtype == "F32" ? ref.bytes.size() / 4 : ref.bytes.size() / 2;
    for (size_t i = 0; i < n; ++i) {
      volatile float acc = w[0] * stored_value(base[t], i);
      volatile float p1 = w[1] * stored_value(f.models["ft_a"][t], i);
      acc = acc + p1;
      volatile float p2 = w[2] * stored_value(f.models["ft_b"][t], i);
      acc = acc + p2;
      FixtureTensor expect = float_tensor("", ref.dtype, {}, {canonical(acc)});
      const std::string e(expect.bytes.begin(), expect.bytes.end());
      ASSERT_EQ(got.substr(i * e.size(), e.size()), e) << ref.name << " element " << i;
    }
  }
  // Integer tensors: the reference (base) model's bytes.
  EXPECT_EQ(tensor_bytes(merged, "model.mask"),
            std::string(base[6].bytes.begin(), base[6].bytes.end()));
  EXPECT_EQ(tensor_bytes(merged, "model.position_ids"),
            std::string(base[5].bytes.begin(), base[5].bytes.end()));
}

TEST(MergeMpi, WritesIndexConfigAndSideFiles) {
  Fixture f;
  const fs::path out = f.dir / "out";
  ASSERT_EQ(run_mpi(2, {f.linear_config(4096).string(), "--output", out.string()}).status, 0);
  const auto index = nlohmann::json::parse(read_file(out / "model.safetensors.index.json"));
  EXPECT_EQ(index["weight_map"].size(), 7u);
  const auto merged = cocktail::Checkpoint::open(out);
  EXPECT_GT(merged.files().size(), 1u);
  EXPECT_EQ(index["metadata"]["total_size"], merged.total_tensor_bytes());
  EXPECT_EQ(merged.files()[0].path.filename(), "model-00001-of-0000" + std::to_string(merged.files().size()) + ".safetensors");
  for (const auto& file : merged.files()) {
    EXPECT_EQ(file.header.data_start() % 8, 0u);
    EXPECT_EQ(file.header.metadata.at("format"), "pt");
    EXPECT_EQ(file.header.metadata.at("merge_method"), "linear");
  }
  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");  // most output bytes are bf16
  EXPECT_EQ(read_file(out / "tokenizer.json"), read_file(f.dir / "base/tokenizer.json"));
  const auto report = nlohmann::json::parse(read_file(out / "merge_report.json"));
  EXPECT_EQ(report["merge_method"], "linear");
  EXPECT_EQ(report["models"].size(), 3u);
}

TEST(MergeMpi, MonoSpecialistMixesTargetAndBase) {
  Fixture f;
  const fs::path cfg = f.config("mono.yaml",
                                "merge_method: lm_cocktail\n"
                                "base_model: base\n"
                                "target: ft_b.safetensors\n"
                                "parameters: {alpha: 0.25}\n"
                                "out_dtype: float32\n"
                                "output: mono-out\n"
                                "progress_interval: 0\n");
  const RunResult r = run_mpi(3, {cfg.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto merged = cocktail::Checkpoint::open(f.dir / "mono-out");
  const auto& base = f.models["base"][1];
  const auto& target = f.models["ft_b"][1];
  const std::string got = tensor_bytes(merged, base.name);
  for (size_t i = 0; i < 129 * 257; ++i) {
    volatile float acc = 0.75f * stored_value(base, i);
    volatile float p = 0.25f * stored_value(target, i);
    acc = acc + p;
    const float v = canonical(acc);
    ASSERT_EQ(got.substr(4 * i, 4), std::string(reinterpret_cast<const char*>(&v), 4)) << i;
  }
}

TEST(MergeMpi, DryRunPrintsPlanAndWritesNothing) {
  Fixture f;
  const fs::path out = f.dir / "out";
  const RunResult r = run_mpi(2, {f.linear_config(1024).string(), "--output", out.string(), "--dry-run"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("plan: linear of 3 models"), 1) << r.output;
  EXPECT_EQ(r.lines_containing("rank 1:"), 1) << r.output;
  EXPECT_GE(r.lines_containing("model-00001-of-"), 1) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST(MergeMpi, TrailingSlashOutputLandsInPlace) {
  Fixture f;
  const RunResult r = run_mpi(2, {f.linear_config(4096).string(), "--output", (f.dir / "slash").string() + "/"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(f.dir / "slash/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(f.dir / ".slash.cocktail-staging"));
}

TEST(MergeMpi, ExistingOutputNeedsOverwrite) {
  Fixture f;
  const fs::path out = f.dir / "out";
  fs::create_directories(out);
  write_file(out / "keep.txt", "precious");
  RunResult r = run_mpi(2, {f.linear_config(4096).string(), "--output", out.string()});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.lines_containing("already exists; pass --overwrite"), 1) << r.output;
  EXPECT_EQ(read_file(out / "keep.txt"), "precious");
  r = run_mpi(2, {f.linear_config(4096).string(), "--output", out.string(), "--overwrite"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(out / "keep.txt"));
  EXPECT_TRUE(fs::exists(out / "merge_report.json"));
}

// With no GPU visible (CUDA_VISIBLE_DEVICES empty hides any, in CUDA builds
// and CPU-only ones alike): `device: cuda` fails on every rank naming the
// key, and `device: auto` warns once and gives the CPU's bytes.
class NoGpuVisible : public ::testing::Test {
  ScopedEnv hide_{"CUDA_VISIBLE_DEVICES", ""};
};

TEST_F(NoGpuVisible, DeviceCudaFailsOnEveryRankNamingTheKey) {
  Fixture f;
  const fs::path cfg = f.linear_config(4096, 1, 0, "device: cuda\n");
  const fs::path out = f.dir / "out";
  const RunResult r = run_mpi(2, {cfg.string(), "--output", out.string()}, /*every_rank_finishes=*/true);
  EXPECT_EQ(r.rank_status, std::vector<int>(2, 1)) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error: " + cfg.string() + ": key 'device': cuda, but no GPU is usable"), 1)
      << r.output;
  EXPECT_FALSE(fs::exists(out));
}

// No GPU here is no reason to warn: the summary's compute line says it.
TEST_F(NoGpuVisible, DeviceAutoSaysSoInTheSummaryAndMergesOnTheCpu) {
  Fixture f;
  const fs::path cpu_out = f.dir / "cpu", auto_out = f.dir / "auto";
  RunResult r = run_mpi(2, {f.linear_config(4096, 1, 0, "device: cpu\n").string(), "--output", cpu_out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("device: auto"), 0) << r.output;
  r = run_mpi(2, {f.linear_config(4096, 1, 0, "device: auto\n").string(), "--output", auto_out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("device: auto"), 1) << r.output;
  EXPECT_EQ(r.lines_containing("  compute  cpu ("), 1) << r.output;
  EXPECT_EQ(r.lines_containing("; device: auto, no GPU here ("), 1) << r.output;
  EXPECT_EQ(folder_bytes(auto_out), folder_bytes(cpu_out));
}

// CUDA and NCCL are the CUDA module's (libcocktail_cuda.so, beside
// cocktail_dist), loaded when a rank looks for a GPU: `device: cpu` and
// inspect never map them, as the dynamic loader's log (LD_DEBUG=files) shows.
TEST_F(NoGpuVisible, CudaLibrariesLoadOnlyWhenARankLooksForAGpu) {
  Fixture f;
  const ScopedEnv trace("LD_DEBUG", "files");
  const RunResult cpu = run_mpi(2, {f.linear_config(4096, 1, 0, "device: cpu\n").string(), "--output",
                                    (f.dir / "cpu").string()});
  ASSERT_EQ(cpu.status, 0) << cpu.output;
  const RunResult inspect = run_mpi(1, {"inspect", (f.dir / "ft_a").string()});
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  for (const char* library : {"libcocktail_cuda.so", "libcudart.so", "libnccl.so"}) {
    EXPECT_FALSE(cpu.opened_library(library)) << "device: cpu loaded " << library;
    EXPECT_FALSE(inspect.opened_library(library)) << "inspect loaded " << library;
  }
  const RunResult autorun = run_mpi(2, {f.linear_config(4096, 1, 0, "device: auto\n").string(), "--output",
                                        (f.dir / "auto").string()});
  ASSERT_EQ(autorun.status, 0) << autorun.output;
#ifdef COCKTAIL_HAVE_CUDA
  EXPECT_TRUE(autorun.opened_library("libcocktail_cuda.so")) << autorun.output;
  EXPECT_TRUE(autorun.opened_library("libcudart.so")) << "the checks above would not see the CUDA runtime";
#else
  EXPECT_FALSE(autorun.opened_library("libcocktail_cuda.so")) << autorun.output;
#endif
}

#ifdef COCKTAIL_HAVE_CUDA
// cocktail_dist copied without its CUDA module, a broken install: `device:
// cpu` merges as ever, and `device: auto` warns naming the file, then merges
// on the CPU to the same bytes.
TEST(MergeMpi, WithoutTheCudaModuleAutoWarnsNamingItAndMergesOnTheCpu) {
  Fixture f;
  const fs::path alone = f.dir / "bin/cocktail_dist";
  fs::create_directories(alone.parent_path());
  fs::copy_file(COCKTAIL_DIST_BIN, alone);
  const fs::path cpu_out = f.dir / "cpu", auto_out = f.dir / "auto";
  RunResult r = run_mpi(2, {f.linear_config(4096, 1, 0, "device: cpu\n").string(), "--output", cpu_out.string()},
                        false, alone.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("libcocktail_cuda.so"), 0) << r.output;
  r = run_mpi(2, {f.linear_config(4096, 1, 0, "device: auto\n").string(), "--output", auto_out.string()}, false,
              alone.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: warning: device: auto found no usable GPU (the GPU path needs " +
                               (alone.parent_path() / "libcocktail_cuda.so").string() + ", which cannot be loaded"),
            1)
      << r.output;
  EXPECT_EQ(folder_bytes(auto_out), folder_bytes(cpu_out));
  // Another library under its name (here the few-shot module) is refused
  // the same way, before any of it is used.
  fs::copy_file(fs::path(COCKTAIL_DIST_BIN).parent_path() / "libcocktail_fewshot.so",
                alone.parent_path() / "libcocktail_cuda.so");
  fs::remove_all(auto_out);
  r = run_mpi(2, {f.linear_config(4096, 1, 0, "device: auto\n").string(), "--output", auto_out.string()}, false,
              alone.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("which cannot be loaded: it has no cocktail_cuda_module"), 1) << r.output;
}

// A node whose CUDA runtime does not load (here an empty file of its name
// found first on LD_LIBRARY_PATH) has no GPU to use, which is no failure:
// `device: auto` says so in the summary, without a warning.
TEST(MergeMpi, WhereTheCudaLibrariesDoNotLoadAutoSaysNoGpuHere) {
  Fixture f;
  const fs::path fake = f.dir / "fake-cuda";
  fs::create_directories(fake);
  write_file(fake / COCKTAIL_CUDART_SONAME, "");
  const ScopedEnv path("LD_LIBRARY_PATH", fake.string());
  const RunResult r = run_mpi(2, {f.linear_config(4096, 1, 0, "device: auto\n").string(), "--output",
                                  (f.dir / "out").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("warning: device"), 0) << r.output;
  EXPECT_EQ(r.lines_containing("device: auto, no GPU here (the CUDA libraries cannot be loaded: " +
                               (fake / COCKTAIL_CUDART_SONAME).string()),
            1)
      << r.output;
}
#endif

// `cocktail_dist job.yaml` without mpirun is a one-process job that never
// starts MPI (no Open MPI component is loaded, LD_DEBUG=files), writes the
// bytes of `mpirun -n 1`, and fails bad input with one line and exit 1.
TEST(MergeWithoutMpirun, NeverStartsMpiAndWritesTheSameBytes) {
  Fixture f;
  const fs::path config = f.linear_config(4096, 2);
  RunResult r = run_mpi(1, {config.string(), "--output", (f.dir / "mpirun").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  {
    const ScopedEnv trace("LD_DEBUG", "files");
    r = run_alone({config.string(), "--output", (f.dir / "alone").string()});
  }
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.opened_library("libc.so")) << "the loader's log is not there to read";
  EXPECT_FALSE(r.opened_library("mca_")) << "an Open MPI component was loaded";
  EXPECT_EQ(r.lines_containing("cocktail: merged 7 tensors of 3 models"), 1) << r.output;
  EXPECT_EQ(differing_files(folder_bytes(f.dir / "alone"), folder_bytes(f.dir / "mpirun")), std::vector<std::string>{});

  fs::remove(f.dir / "ft_b.safetensors");
  r = run_alone({config.string(), "--output", (f.dir / "bad").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error: "), 1) << r.output;
  EXPECT_EQ(r.lines_containing("ft_b.safetensors"), 1) << r.output;
  EXPECT_FALSE(fs::exists(f.dir / "bad"));
}

// Under mpirun on one node the ranks ask Open MPI for ob1 (shared memory)
// instead of probing UCX and the cm layer's networks first (cli/launcher.hpp),
// unless the user chose: with OMPI_MCA_pml=^ucx, Open MPI opens cm again.
TEST(MergeMpi, OnOneNodeRanksUseOb1UnlessTheUserChoseAnotherPml) {
  Fixture f;
  const ScopedEnv trace("LD_DEBUG", "files");
  RunResult r = run_mpi(2, {f.linear_config(4096).string(), "--output", (f.dir / "default").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.opened_library("mca_pml_ob1.so")) << r.output;
  EXPECT_FALSE(r.opened_library("mca_pml_ucx.so"));
  EXPECT_FALSE(r.opened_library("mca_pml_cm.so"));
  const ScopedEnv pml("OMPI_MCA_pml", "^ucx");
  r = run_mpi(2, {f.linear_config(4096).string(), "--output", (f.dir / "chosen").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.opened_library("mca_pml_cm.so")) << r.output;
  EXPECT_FALSE(r.opened_library("mca_pml_ucx.so"));
}

// direct_writes: the output's whole blocks with O_DIRECT (io/output_file.hpp)
// write the bytes the page cache path writes, at several ranks and chunk
// sizes (units of 16 and 64 KiB hold whole 4 KiB blocks at odd offsets).
TEST(MergeMpi, DirectWritesGiveThePageCachePathsBytes) {
  Fixture f;
  const fs::path buffered = f.dir / "buffered";
  RunResult r = run_mpi(1, {f.linear_config(65536).string(), "--output", buffered.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto want = folder_bytes(buffered);
  for (const auto& [ranks, chunk] : std::vector<std::pair<int, uint64_t>>{{1, 65536}, {2, 16384}, {3, 65536}}) {
    const fs::path out = f.dir / ("direct-" + std::to_string(ranks) + "-" + std::to_string(chunk));
    r = run_mpi(ranks, {f.linear_config(chunk, 0, 0, "direct_writes: true\n").string(), "--output", out.string()});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(folder_bytes(out), want) << ranks << " ranks, chunk " << chunk;
  }
}
