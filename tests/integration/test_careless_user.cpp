// A careless or hostile user, through the real binary under mpirun: two jobs
// on one output, --overwrite pointed at the job's own inputs, remote-code
// models, ambiguous names in the summary.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "merge_fixture.hpp"
#include "mpi_harness.hpp"

using namespace cocktail::test;
using namespace std::chrono_literals;

namespace {

// Every path below `dir`, hidden ones included.
std::set<std::string> tree(const fs::path& dir) {
  std::set<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir)) paths.insert(e.path().string());
  return paths;
}

void expect_fails_on_every_rank(const RunResult& r, const std::string& expect) {
  ASSERT_EQ(r.rank_status.size(), 2u) << r.output;
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
  EXPECT_EQ(r.lines_containing(expect), 1) << r.output;
}

// A job started in the background (mpirun ... &), whose rank 0 stops itself
// (SIGSTOP) on reading unit `unit`, so that another job can start beside it.
class PausedJob {
 public:
  PausedJob(const fs::path& config, const fs::path& out, const fs::path& log, int unit = 20)
      : log_(log), done_(log.string() + ".rc") {
    const std::string cmd = "COCKTAIL_FAULT=stop@read:0:" + std::to_string(unit) + " " + COCKTAIL_MPIEXEC +
                            " --allow-run-as-root --oversubscribe -n 2 " + shell_quote(COCKTAIL_DIST_BIN) + " " +
                            shell_quote(config.string()) + " --output " + shell_quote(out.string()) +
                            " --overwrite > " + shell_quote(log.string()) + " 2>&1; echo $? > " +
                            shell_quote(done_.string());
    // Its own output files, not the test's: ctest must not wait on them.
    std::system(("(" + cmd + ") </dev/null >/dev/null 2>&1 &").c_str());
    // Rank 0 names itself in the output's lock file before it streams.
    const fs::path lock = out.parent_path() / ("." + out.filename().string() + ".cocktail-lock");
    for (auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(50ms)) {
      std::smatch m;
      const std::string holder = fs::exists(lock) ? read_file(lock) : "";
      if (pid_ == 0 && std::regex_search(holder, m, std::regex(R"(pid (\d+))"))) pid_ = std::stoi(m[1]);
      if (pid_ != 0 && stopped(pid_)) return;
    }
    ADD_FAILURE() << "the first job's rank 0 did not stop: " << read_file(log_);
  }

  // A failed test still ends the job: nothing stopped is left behind.
  ~PausedJob() {
    if (pid_ && !(fs::exists(done_) && !read_file(done_).empty())) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      resume_and_wait();
    }
  }
  PausedJob(const PausedJob&) = delete;
  PausedJob& operator=(const PausedJob&) = delete;

  int pid() const { return pid_; }

  // Lets rank 0 go on and waits for mpirun; its exit status.
  int resume_and_wait() {
    if (pid_) ::kill(pid_, SIGCONT);
    for (auto until = std::chrono::steady_clock::now() + 120s; std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(100ms))
      if (fs::exists(done_) && !read_file(done_).empty()) return std::stoi(read_file(done_));
    return -1;
  }
  std::string output() const { return read_file(log_); }

 private:
  static bool stopped(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    const size_t paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'T';
  }

  fs::path log_, done_;
  int pid_ = 0;
};

class TwoJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = f_.linear_config(1024, 1);
    std::string b = read_file(a_);
    b.replace(b.find("weight: 0.5"), 11, "weight: 0.1");
    b_ = f_.config("b.yaml", b);
    for (auto [config, name] : {std::pair{a_, "ref-a"}, std::pair{b_, "ref-b"}}) {
      const RunResult r = run_mpi(2, {config.string(), "--output", (f_.dir / name).string()});
      ASSERT_EQ(r.status, 0) << r.output;
    }
  }
  fs::path out() const { return f_.dir / "out"; }

  Fixture f_;
  fs::path a_, b_;
};

// The second job fails at once, naming the output and the first job; the
// first publishes its own bytes.
TEST_F(TwoJobs, SecondJobOnTheSameOutputFailsAtOnceNamingTheHolder) {
  PausedJob first(a_, out(), f_.dir / "first.log");
  ASSERT_NE(first.pid(), 0);
  for (const bool overwrite : {false, true}) {
    SCOPED_TRACE(overwrite ? "--overwrite" : "no --overwrite");
    std::vector<std::string> args = {b_.string(), "--output", out().string()};
    if (overwrite) args.push_back("--overwrite");
    const auto start = std::chrono::steady_clock::now();
    const RunResult second = run_mpi(2, args, /*every_rank_finishes=*/true);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
    expect_fails_on_every_rank(second, "output " + out().string() + " is being written by another job (host ");
    EXPECT_EQ(second.lines_containing(" pid " + std::to_string(first.pid()) + " started "), 1) << second.output;
  }
  ASSERT_EQ(first.resume_and_wait(), 0) << first.output();
  EXPECT_EQ(differing_files(folder_bytes(out()), folder_bytes(f_.dir / "ref-a")), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(f_.dir / ".out.cocktail-lock"));
}

// Where the filesystem cannot lock (here: the lock file removed under the
// first job), the second job takes the staging folder over; the first must
// then refuse to publish instead of passing the other job's bytes off as its
// own.
TEST_F(TwoJobs, JobWhoseStagingWasTakenOverDoesNotPublish) {
  PausedJob first(a_, out(), f_.dir / "first.log");
  ASSERT_NE(first.pid(), 0);
  fs::remove(f_.dir / ".out.cocktail-lock");
  const RunResult second = run_mpi(2, {b_.string(), "--output", out().string(), "--overwrite"});
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(first.resume_and_wait(), 0) << first.output();
  EXPECT_NE(first.output().find(".out.cocktail-staging was taken over by another job"), std::string::npos)
      << first.output();
  EXPECT_EQ(differing_files(folder_bytes(out()), folder_bytes(f_.dir / "ref-b")), std::vector<std::string>{});
}

// The other branch of the last defence: a second run of the same job (so the
// same journal identity) resumes the first one's staging folder and claims
// it; the first, going on, finds the folder still there but not its own.
TEST_F(TwoJobs, JobWhoseStagingWasResumedByAnotherDoesNotPublish) {
  PausedJob first(a_, out(), f_.dir / "first.log");
  ASSERT_NE(first.pid(), 0);
  fs::remove(f_.dir / ".out.cocktail-lock");
  PausedJob second(a_, out(), f_.dir / "second.log", 60);
  ASSERT_NE(second.pid(), 0);
  EXPECT_NE(first.resume_and_wait(), 0) << first.output();
  EXPECT_NE(first.output().find(".out.cocktail-staging was taken over by another job (host "), std::string::npos)
      << first.output();
  EXPECT_NE(first.output().find(" pid " + std::to_string(second.pid()) + " "), std::string::npos) << first.output();
  EXPECT_EQ(first.output().find("rerun the same command to resume"), std::string::npos) << first.output();
  ASSERT_EQ(second.resume_and_wait(), 0) << second.output();
  EXPECT_NE(second.output().find("resuming from"), std::string::npos) << second.output();
  EXPECT_EQ(differing_files(folder_bytes(out()), folder_bytes(f_.dir / "ref-a")), std::vector<std::string>{});
}

// --overwrite never deletes what the job reads.
class OverwriteNearInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cocktail-near-XXXXXX";
    dir_ = mkdtemp(tmpl);
    write_safetensors(dir_ / "base/model.safetensors", Fixture::make(1, "BF16", "F32", 0));
    write_safetensors(dir_ / "ft/model.safetensors", Fixture::make(2, "BF16", "F32", 0));
  }
  void TearDown() override { fs::remove_all(dir_); }

  void expect_refused(const fs::path& config, const std::string& expect) {
    const auto before = tree(dir_);
    const RunResult r = run_mpi(2, {config.string(), "--overwrite"}, /*every_rank_finishes=*/true);
    expect_fails_on_every_rank(r, expect);
    EXPECT_EQ(tree(dir_), before) << "the refused job created or removed files";
  }

  fs::path dir_;
};

TEST_F(OverwriteNearInputs, ExamplesInsideTheOutput) {
  const fs::path models = fs::path(COCKTAIL_FIXTURES_DIR) / "models";
  write_file(dir_ / "out/examples.jsonl", "{\"input\": \"2+2=\", \"output\": \"4\"}\n");
  write_file(dir_ / "job.yaml", "merge_method: lm_cocktail\nbase_model: " + (models / "llama-fp32").string() +
                                    "\nmodels:\n  - model: " + (models / "llama-peer1-fp32").string() +
                                    "\nexamples: out/examples.jsonl\noutput: out\n");
  expect_refused(dir_ / "job.yaml", "input " + (dir_ / "out/examples.jsonl").string() + " is inside " +
                                        (dir_ / "out").string() + ", which this job replaces");
}

TEST_F(OverwriteNearInputs, TheConfigItself) {
  write_file(dir_ / "jobs/job.yaml", "merge_method: lm_cocktail\nbase_model: ../base\ntarget: ../ft\noutput: .\n");
  expect_refused(dir_ / "jobs/job.yaml", "input " + (dir_ / "jobs/job.yaml").string() + " is inside");
}

// The Hugging Face cache: snapshots/<rev>/model.safetensors -> ../../blobs/<hash>.
TEST_F(OverwriteNearInputs, ShardReachedThroughASymlink) {
  fs::create_directories(dir_ / "hub/blobs");
  fs::create_directories(dir_ / "hub/snapshots/rev");
  fs::rename(dir_ / "ft/model.safetensors", dir_ / "hub/blobs/abc123");
  fs::create_symlink("../../blobs/abc123", dir_ / "hub/snapshots/rev/model.safetensors");
  write_file(dir_ / "job.yaml",
             "merge_method: lm_cocktail\nbase_model: base\ntarget: hub/snapshots/rev\noutput: hub/blobs\n");
  expect_refused(dir_ / "job.yaml", "input " + (dir_ / "hub/snapshots/rev/model.safetensors").string() +
                                        " (a link to " + (dir_ / "hub/blobs/abc123").string() + ") is inside");
}

// A name that fits the filesystem but not with the job's suffixes: refused
// by the dry run as by the job, before anything is created.
TEST_F(OverwriteNearInputs, LongOutputNameFailsTheDryRunToo) {
  write_file(dir_ / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\noutput: " +
                                    std::string(238, 'o') + "\n");
  const auto before = tree(dir_);
  const RunResult r = run_mpi(2, {(dir_ / "job.yaml").string(), "--dry-run"}, /*every_rank_finishes=*/true);
  expect_fails_on_every_rank(r, "its name is 238 bytes");
  EXPECT_EQ(r.lines_containing("use a name of at most 236 bytes"), 1) << r.output;
  EXPECT_EQ(tree(dir_), before);
}

// A config.json with auto_map and its code: the code travels with the merge,
// with a warning, and the report lists what stayed behind and why.
TEST(RemoteCode, PythonFilesAreCopiedAndTheRestIsReported) {
  Fixture f;
  write_file(f.dir / "base/config.json",
             R"({"model_type": "mymodel", "auto_map": {"AutoConfig": "configuration_my.MyConfig",)"
             R"( "AutoModel": "modeling_my.MyModel"}})");
  write_file(f.dir / "base/configuration_my.py", "# config code\n");
  write_file(f.dir / "base/modeling_my.py", "# model code\n");
  write_file(f.dir / "base/README.md", "# a model card\n");
  write_file(f.dir / "base/pytorch_model.bin", "not read");
  const fs::path out = f.dir / "out";
  const RunResult r = run_mpi(2, {f.linear_config(1 << 20).string(), "--output", out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_file(out / "modeling_my.py"), "# model code\n");
  EXPECT_EQ(read_file(out / "configuration_my.py"), "# config code\n");
  EXPECT_EQ(r.lines_containing("cocktail: warning: " + (f.dir / "base").string() +
                               " has remote code (auto_map): copying configuration_my.py, modeling_my.py into "
                               "the output; read it before loading with trust_remote_code=True"),
            1)
      << r.output;
  const auto report = nlohmann::json::parse(read_file(out / "merge_report.json"));
  std::map<std::string, std::string> left;
  for (const auto& e : report["reference_files_not_copied"]) left[e["file"]] = e["why"];
  EXPECT_EQ(left["README.md"], "not a config, tokenizer, generation, module or remote-code file");
  EXPECT_EQ(left["pytorch_model.bin"], "weights in a format cocktail does not read; the output has the merged safetensors");
  EXPECT_EQ(left["model-00001-of-00002.safetensors"], "weights: the output has the merged ones");
  EXPECT_FALSE(left.count("modeling_my.py"));
  EXPECT_FALSE(left.count("tokenizer.json"));
}

// Two single-file models of one name are told apart everywhere, and weights
// print as the float32 the user wrote.
TEST(Names, SingleFileModelsOfOneNameAreToldApart) {
  Fixture f;
  write_safetensors(f.dir / "run1/model.safetensors", f.models["ft_a"]);
  write_safetensors(f.dir / "run2/model.safetensors", f.models["ft_b"]);
  const fs::path config = f.config("names.yaml",
                                   "merge_method: linear\nmodels:\n"
                                   "  - model: run1/model.safetensors\n    parameters: {weight: 0.3}\n"
                                   "  - model: run2/model.safetensors\n    parameters: {weight: 0.7}\n"
                                   "progress_interval: 0\n");
  const fs::path out = f.dir / "out";
  const RunResult r = run_mpi(2, {config.string(), "--output", out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("  method   linear: run1/model.safetensors=0.3, run2/model.safetensors=0.7"), 1)
      << r.output;
  const auto report = nlohmann::json::parse(read_file(out / "merge_report.json"));
  EXPECT_EQ(report["models"][0]["name"], "run1/model.safetensors");
  EXPECT_EQ(report["models"][1]["name"], "run2/model.safetensors");
  EXPECT_EQ(report["models"][0]["weight"].dump(), "0.3");
  const std::string shard = read_file(out / "model.safetensors");
  EXPECT_NE(shard.find("run1/model.safetensors=0.3, run2/model.safetensors=0.7"), std::string::npos);
}

}  // namespace
