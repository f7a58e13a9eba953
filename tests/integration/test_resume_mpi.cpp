// Faults under real mpirun: a rank killed (SIGKILL) while reading, after
// writing, or after the last unit before the rename; SIGTERM and SIGUSR1;
// a full disk; a checkpoint rewritten while being read. Every rerun of the
// same command must resume (the summary counts the skipped units) and write
// the bytes of an uninterrupted run, at the same or another rank count.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <chrono>
#include <regex>

#include "merge_fixture.hpp"
#include "mpi_harness.hpp"

using namespace cocktail::test;

namespace {

constexpr uint64_t kChunk = 1024;  // a few hundred units, so faults land mid-stream

class ResumeMpi : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = f_.linear_config(kChunk, 1);
    const RunResult r = run_mpi(2, {config_.string(), "--output", (f_.dir / "reference").string()});
    ASSERT_EQ(r.status, 0) << r.output;
    reference_ = folder_bytes(f_.dir / "reference");
    const RunResult plan = run_mpi(3, {config_.string(), "--output", out().string(), "--dry-run"});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(plan.output, m, std::regex(R"(in (\d+) work units)"))) << plan.output;
    units_ = std::stoul(m[1]);
    ASSERT_GT(units_, 100u);
  }

  fs::path out() const { return f_.dir / "out"; }
  fs::path staging() const { return f_.dir / ".out.cocktail-staging"; }

  RunResult run(int ranks, const std::string& fault = "") {
    const ScopedEnv env("COCKTAIL_FAULT", fault);
    return run_ranks(ranks, {config_.string(), "--output", out().string()});
  }

  // The rerun finishes, says it resumed, and wrote the reference bytes.
  void expect_resumes(int ranks) {
    const RunResult r = run(ranks);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.lines_containing("cocktail: resuming from " + staging().string()), 1) << r.output;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(resumed  (\d+) of (\d+) work units)"))) << r.output;
    EXPECT_GT(std::stoul(m[1]), 0u);
    EXPECT_EQ(std::stoul(m[2]), units_);
    EXPECT_EQ(differing_files(folder_bytes(out()), reference_), std::vector<std::string>{});
    EXPECT_FALSE(fs::exists(staging()));
  }

  Fixture f_;
  fs::path config_;
  std::map<std::string, std::string> reference_;
  size_t units_ = 0;
};

// Kills at several points, at 1 (without mpirun), 2 and 3 ranks, resumed at
// another count. (One process killed before it publishes has this small
// output all in one direct-write window, lost with the process: nothing to
// resume.)
TEST_F(ResumeMpi, KilledRankResumesToTheSameBytes) {
  struct Kill { int ranks; std::string point; int rank; double at; int resume_ranks; };
  const Kill kills[] = {{2, "read", 1, 0.75, 3},      {3, "written", 2, 0.9, 2}, {3, "read", 0, 0.1, kAlone},
                        {2, "written", 0, 0.3, 3},    {2, "publish", 0, 0, 3},   {3, "publish", 0, 0, 2},
                        {kAlone, "publish", 0, 0, 2},   {2, "written", 1, 0.6, kAlone}};
  for (const Kill& k : kills) {
    SCOPED_TRACE(std::to_string(k.ranks) + " ranks (0: no mpirun), kill rank " + std::to_string(k.rank) + " at " + k.point);
    const auto unit = static_cast<size_t>(k.at * static_cast<double>(units_));
    const auto start = std::chrono::steady_clock::now();
    const RunResult killed = run(k.ranks, "kill@" + k.point + ":" + std::to_string(k.rank) + ":" + std::to_string(unit));
    // A dead rank ends the job on every rank, promptly.
    EXPECT_NE(killed.status, 0) << killed.output;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
    ASSERT_TRUE(fs::exists(staging())) << killed.output;
    ASSERT_FALSE(fs::exists(out())) << killed.output;
    expect_resumes(k.resume_ranks);
    fs::remove_all(out());
  }
}

// With direct writes a unit's bytes may still be in a window in memory when
// its journal record is made (io/output_file.hpp); this fixture's whole
// output fits one window, so a rank killed late leaves records for bytes
// never written. The rerun finds them missing, computes those units again
// and writes the bytes of an uninterrupted run.
TEST_F(ResumeMpi, DirectWritesKilledAfterRecordsResumeToTheSameBytes) {
  const fs::path direct = f_.linear_config(kChunk, 1, 0, "direct_writes: true\n");
  const auto unit = static_cast<size_t>(0.9 * static_cast<double>(units_));
  {
    const ScopedEnv env("COCKTAIL_FAULT", "kill@written:1:" + std::to_string(unit));
    const RunResult killed = run_mpi(2, {direct.string(), "--output", out().string()});
    EXPECT_NE(killed.status, 0) << killed.output;
    ASSERT_TRUE(fs::exists(staging())) << killed.output;
  }
  const RunResult r = run_mpi(3, {direct.string(), "--output", out().string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: resuming from " + staging().string()), 1) << r.output;
  EXPECT_EQ(differing_files(folder_bytes(out()), reference_), std::vector<std::string>{});
}

// The scheduler's stop request: every rank ends with 75 after its current
// unit, the journal is kept, and the rerun resumes.
TEST_F(ResumeMpi, SigtermAndSigusr1StopEveryRankWithCode75) {
  for (const std::string action : {"term", "usr1"}) {
    SCOPED_TRACE(action);
    const ScopedEnv env("COCKTAIL_FAULT", action + "@read:1:" + std::to_string(units_ / 2));
    const RunResult r = run_mpi(3, {config_.string(), "--output", out().string()}, /*every_rank_finishes=*/true);
    EXPECT_EQ(r.rank_status, std::vector<int>(3, 75)) << r.output;
    const std::string name = action == "term" ? "SIGTERM" : "SIGUSR1";
    EXPECT_EQ(r.lines_containing("cocktail: interrupted: stopped by " + name + "; the finished part is kept in " +
                                 staging().string() + ": rerun the same command to resume (on rank 1)"),
              1)
        << r.output;
    ASSERT_FALSE(fs::exists(out()));
    expect_resumes(2);
    fs::remove_all(out());
  }
  // One process without mpirun stops the same way.
  const RunResult r = run(kAlone, "term@read:0:" + std::to_string(units_ / 2));
  EXPECT_EQ(r.status, 75) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: interrupted: stopped by SIGTERM; the finished part is kept in " +
                               staging().string() + ": rerun the same command to resume"),
            1)
      << r.output;
  expect_resumes(kAlone);
}

// A checkpoint rewritten mid-merge fails the job naming it; the rerun sees
// the input changed and starts over instead of resuming.
TEST_F(ResumeMpi, InputChangedWhileReadingFailsAndInvalidatesTheJournal) {
  const RunResult r = run(2, "touch@read:0:5");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.lines_containing(": changed while it was being read (size or mtime); the merge is abandoned"), 1)
      << r.output;
  ASSERT_FALSE(fs::exists(out()));
  const RunResult again = run(2);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(again.lines_containing("cocktail: warning: starting over: the earlier partial output in " +
                                   staging().string() + " cannot be resumed (input "),
            1)
      << again.output;
  EXPECT_EQ(again.lines_containing("  resumed  "), 0) << again.output;
  EXPECT_EQ(differing_files(folder_bytes(out()), reference_), std::vector<std::string>{});
}

// Changed weights change the output: the journal must not be used.
TEST_F(ResumeMpi, ChangedConfigInvalidatesTheJournal) {
  ASSERT_NE(run(2, "kill@written:0:20").status, 0);
  std::string text = read_file(config_);
  text.replace(text.find("weight: 0.5"), 11, "weight: 0.4");
  write_file(config_, text);
  const RunResult r = run(2);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cannot be resumed (the merge changed (models, weights or few-shot losses, "
                               "dtypes, chunk_size or max_shard_size))"),
            1)
      << r.output;
  EXPECT_EQ(r.lines_containing("  resumed  "), 0) << r.output;
  EXPECT_FALSE(differing_files(folder_bytes(out()), reference_).empty());
}

// A full disk (a tmpfs smaller than the output): the space reservation
// fails before any work, naming the file; nothing is renamed into place.
TEST_F(ResumeMpi, FullDiskStopsTheJobNamingTheFile) {
  const fs::path small = f_.dir / "small-disk";
  fs::create_directories(small);
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << "); needs root";
  const RunResult r = run_mpi(2, {config_.string(), "--output", (small / "out").string()});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.lines_containing("cocktail: error: " + (small / ".out.cocktail-staging").string()), 1) << r.output;
  EXPECT_EQ(r.lines_containing("No space left on device"), 1) << r.output;
  EXPECT_FALSE(fs::exists(small / "out"));
  umount(small.c_str());
}

// A tmpfs that holds each rank's share of the output but not all of it.
// Nothing is allocated ahead in memory (the writes allocate as they go), so
// every rank checks that the whole output fits: the job stops before any
// work, naming the file, instead of at a write halfway.
TEST_F(ResumeMpi, TmpfsTooSmallForTheWholeOutputStopsBeforeAnyWork) {
  uint64_t output = 0;
  for (const auto& [name, bytes] : reference_)
    if (name.ends_with(".safetensors")) output += bytes.size();
  ASSERT_GT(output, 64u << 10);
  const fs::path small = f_.dir / "small-memory";
  fs::create_directories(small);
  const std::string size = "size=" + std::to_string(output * 3 / 4);
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, size.c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << "); needs root";
  const RunResult r = run_mpi(2, {config_.string(), "--output", (small / "out").string()});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.lines_containing("cocktail: error: " + (small / ".out.cocktail-staging").string()), 1) << r.output;
  EXPECT_EQ(r.lines_containing("cannot reserve"), 1) << r.output;
  EXPECT_EQ(r.lines_containing("No space left on device"), 1) << r.output;
  EXPECT_FALSE(fs::exists(small / "out"));
  umount(small.c_str());
}

}  // namespace
