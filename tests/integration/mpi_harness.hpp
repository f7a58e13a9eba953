#pragma once
// Runs cocktail_dist for real under mpirun and captures what a user sees:
// the combined output and every rank's own exit code.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace cocktail::test {

struct RunResult {
  int status = -1;               // mpirun's exit status
  std::vector<int> rank_status;  // each rank's exit code, as its shell saw it
  std::string output;            // stdout and stderr of all ranks

  int lines_containing(const std::string& needle) const {
    std::istringstream in(output);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }
  std::vector<std::string> matching_lines(const std::string& needle) const {
    std::istringstream in(output);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
      if (line.find(needle) != std::string::npos) lines.push_back(line);
    return lines;
  }
  // Under LD_DEBUG=files, whether the dynamic loader's log says a rank
  // opened `library` ("file=NAME" or "file=/PATH/NAME").
  bool opened_library(const std::string& library) const {
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);) {
      const size_t at = line.find("file=");
      if (at != std::string::npos && line.find(library, at) != std::string::npos) return true;
    }
    return false;
  }
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; its exit status and everything it printed.
inline std::pair<int, std::string> run_logged(std::string cmd) {
  const auto log = std::filesystem::temp_directory_path() /
                   ("cocktail-run-" + std::to_string(::getpid()) + ".log");
  cmd += " > " + shell_quote(log.string()) + " 2>&1";
  const int raw = std::system(cmd.c_str());
  std::ifstream in(log);
  std::ostringstream all;
  all << in.rdbuf();
  std::filesystem::remove(log);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, all.str()};
}

// `args` are passed to cocktail_dist. Each rank runs through sh so its exit
// code is printed as "rank-exit <code>". mpirun normally kills the remaining
// ranks as soon as one exits non-zero; `every_rank_finishes` turns that off so
// a test can see each rank's own exit code (mpirun then exits 0 regardless).
// `binary` is the build's cocktail_dist unless a test runs a copy.
inline RunResult run_mpi(int ranks, const std::vector<std::string>& args,
                         bool every_rank_finishes = false, const std::string& binary = COCKTAIL_DIST_BIN) {
  std::string cmd = std::string(COCKTAIL_MPIEXEC) + " --allow-run-as-root --oversubscribe" +
                    (every_rank_finishes ? " --mca orte_abort_on_non_zero_status 0" : "") +
                    " -n " + std::to_string(ranks) + " sh -c " +
                    shell_quote("\"$0\" \"$@\"; s=$?; echo \"rank-exit $s\"; exit $s") + " " +
                    shell_quote(binary);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  RunResult r;
  const auto [status, printed] = run_logged(cmd);
  r.status = status;
  std::istringstream in(printed);
  std::ostringstream all;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("rank-exit ", 0) == 0) {
      r.rank_status.push_back(std::atoi(line.c_str() + 10));
    } else {
      all << line << "\n";
    }
  }
  r.output = all.str();
  return r;
}

// One process started without mpirun, as a user runs cocktail_dist on a
// workstation: it never initialises MPI (dist/solo_comm.hpp). The launcher
// variables are removed in case the tests themselves run under one.
inline RunResult run_alone(const std::vector<std::string>& args, const std::string& binary = COCKTAIL_DIST_BIN) {
  std::string cmd = "env -u OMPI_COMM_WORLD_RANK -u PMIX_RANK -u PMI_RANK -u SLURM_PROCID " + shell_quote(binary);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  RunResult r;
  std::tie(r.status, r.output) = run_logged(cmd);
  r.rank_status = {r.status};
  return r;
}

// `ranks` ranks under mpirun, or kAlone: one process without it.
constexpr int kAlone = 0;
inline RunResult run_ranks(int ranks, const std::vector<std::string>& args, bool every_rank_finishes = false) {
  return ranks == kAlone ? run_alone(args) : run_mpi(ranks, args, every_rank_finishes);
}

// Sets an environment variable for the runs in its scope (mpirun passes the
// environment to the ranks it starts), restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const std::string& name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name.c_str())) old_ = old;
    had_ = std::getenv(name.c_str()) != nullptr;
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_.c_str(), old_.c_str(), 1);
    else unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace cocktail::test
