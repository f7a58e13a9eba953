// Headers with many tensors, through the real binary: a safetensors file of
// 300,000 one-element tensors must be inspected, and two of them merged
// (dry run, 2 ranks), in seconds. Header parsing used to be quadratic in the
// number of tensors (60,000 tensors: 32 s for `inspect`), so a small hostile
// file stalled every rank; at 300,000 either command ran for many minutes.
// The 60 s bound is far above the linear time (a few seconds on 2 cores) and
// far below the quadratic one.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../bench/many_tensors.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;

namespace {

constexpr uint64_t kTensors = 300'000;
constexpr int kLimitSeconds = 60;

struct Timed {
  int status = -1;  // the command's exit status; 124 when `timeout` stopped it
  double seconds = 0;
  std::string output;
};

// Runs `cmd` under `timeout`, stdout and stderr to `log`.
Timed run_timed(const std::string& cmd, const fs::path& log) {
  const std::string full = "timeout -k 10 " + std::to_string(kLimitSeconds) + " " + cmd + " > " +
                           shell_quote(log.string()) + " 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  const int raw = std::system(full.c_str());
  Timed r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(log);
  std::ostringstream all;
  all << in.rdbuf();
  r.output = all.str();
  return r;
}

// The first `n` characters, for failure messages about a very long output.
std::string head(const std::string& s, size_t n = 2000) { return s.substr(0, n); }

class LargeHeader : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cocktail_large_header_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = new fs::path(tmpl);
    for (const char* model : {"a", "b"}) {
      fs::create_directories(*dir_ / model);
      write_many_tensors(*dir_ / model / "model.safetensors", kTensors);
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path* dir_;
};

fs::path* LargeHeader::dir_ = nullptr;

TEST_F(LargeHeader, InspectListsThreeHundredThousandTensorsInSeconds) {
  const fs::path file = *dir_ / "a" / "model.safetensors";
  const Timed r = run_timed(shell_quote(COCKTAIL_DIST_BIN) + " inspect " + shell_quote(file.string()),
                            *dir_ / "inspect.log");
  ASSERT_NE(r.status, 124) << "inspect of " << kTensors << " tensors ran past " << kLimitSeconds
                           << " s (quadratic header parsing?)";
  ASSERT_EQ(r.status, 0) << head(r.output);
  EXPECT_EQ(r.output.rfind(file.string() + ": 300000 tensors in 1 file(s)\n", 0), 0u) << head(r.output);
  // The count line, the column titles, one row per tensor, the total.
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), static_cast<long>(kTensors + 3));
  EXPECT_NE(r.output.find("\nmodel.layers.299999.w "), std::string::npos);
  EXPECT_NE(r.output.find("\ntotal: 300000 parameters, "), std::string::npos) << head(r.output);
  std::cout << "inspect of " << kTensors << " tensors: " << r.seconds << " s\n";
}

TEST_F(LargeHeader, DryRunMergeOfTwoSuchFilesOnTwoRanksInSeconds) {
  const fs::path config = *dir_ / "job.yaml";
  const fs::path out = *dir_ / "out";
  {
    std::ofstream y(config);
    y << "merge_method: linear\n"
      << "models:\n"
      << "  - model: " << (*dir_ / "a").string() << "\n"
      << "    parameters: {weight: 0.5}\n"
      << "  - model: " << (*dir_ / "b").string() << "\n"
      << "    parameters: {weight: 0.5}\n"
      << "output: " << out.string() << "\n"
      << "progress_interval: 0\n";
  }
  const Timed r = run_timed(std::string(COCKTAIL_MPIEXEC) + " --allow-run-as-root --oversubscribe -n 2 " +
                                shell_quote(COCKTAIL_DIST_BIN) + " " + shell_quote(config.string()) +
                                " --dry-run",
                            *dir_ / "dry-run.log");
  ASSERT_NE(r.status, 124) << "dry run over two files of " << kTensors << " tensors ran past "
                           << kLimitSeconds << " s (quadratic header parsing or planning?)\n"
                           << head(r.output);
  ASSERT_EQ(r.status, 0) << head(r.output);
  EXPECT_NE(r.output.find("plan: linear of 2 models"), std::string::npos) << head(r.output);
  EXPECT_NE(r.output.find("tensors: 300000 (300000 merged"), std::string::npos) << head(r.output);
  EXPECT_NE(r.output.find("model.safetensors  300000 tensors"), std::string::npos) << head(r.output);
  EXPECT_FALSE(fs::exists(out));
  std::cout << "dry run over 2 x " << kTensors << " tensors, 2 ranks: " << r.seconds << " s\n";
}

}  // namespace
