// header_bench: time to parse and validate a safetensors header of N tensor
// entries, in process (no MPI, no output), to show it grows linearly with N.
//
//   header_bench [--dir DIR] [--repeat R] [--same-process] N [N...]
//
// For each N writes DIR/many-N.safetensors (once; kept for header_bench.sh's
// `cocktail_dist inspect` runs) with N one-element F32 tensors, then reports
// the median of R runs of: the strict JSON parse alone, parse_safetensors_header
// (JSON plus every format rule) and Checkpoint::open of the file (read, parse,
// name index). Each run is in a fresh fork()ed child, as one rank opening one
// file; --same-process runs them one after another in this process instead,
// where the freed nodes of earlier runs' documents slow later runs down
// (glibc's heap), which is what a rank reading many headers sees.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "io/checkpoint.hpp"
#include "io/json_strict.hpp"
#include "io/safetensors.hpp"
#include "many_tensors.hpp"

namespace fs = std::filesystem;
using namespace cocktail;

namespace {

bool same_process = false;

// Seconds for one call of `run`, in a fork()ed child unless --same-process.
// `run` returns the tensor count, which must equal `n`.
double time_once(const std::function<size_t()>& run, uint64_t n) {
  auto timed = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    const size_t count = run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return count == n ? s : -1.0;
  };
  if (same_process) return timed();
  int fd[2];
  if (pipe(fd) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    const double s = timed();
    const bool ok = write(fd[1], &s, sizeof s) == sizeof s;
    _exit(ok ? 0 : 1);
  }
  close(fd[1]);
  double s = -1;
  if (read(fd[0], &s, sizeof s) != sizeof s) s = -1;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return s;
}

double median_seconds(int repeat, uint64_t n, const std::function<size_t()>& run) {
  std::vector<double> s;
  for (int i = 0; i < repeat; ++i) {
    s.push_back(time_once(run, n));
    if (s.back() < 0) {
      std::fprintf(stderr, "header_bench: a run with %llu tensors failed or miscounted\n",
                   static_cast<unsigned long long>(n));
      std::exit(1);
    }
  }
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = "/tmp/cocktail-header-bench";
  int repeat = 3;
  std::vector<uint64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--same-process") {
      same_process = true;
    } else if (!a.empty() && a[0] != '-') {
      sizes.push_back(std::strtoull(a.c_str(), nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: header_bench [--dir DIR] [--repeat R] [--same-process] N [N...]\n");
      return 2;
    }
  }
  if (sizes.empty()) sizes = {10'000, 100'000, 1'000'000};
  fs::create_directories(dir);

  std::printf("header_bench: median of %d, %s, seconds (ns per tensor)\n", repeat,
              same_process ? "all runs in one process" : "each run in a fresh child");
  std::printf("%10s %12s %20s %20s %20s\n", "tensors", "header B", "strict JSON",
              "header + rules", "Checkpoint::open");
  for (uint64_t n : sizes) {
    const fs::path path = dir / ("many-" + std::to_string(n) + ".safetensors");
    const std::string header = test::many_tensors_header(n);
    const uint64_t file_size = 8 + header.size() + 4 * n;
    std::error_code ec;
    if (fs::file_size(path, ec) != file_size) test::write_many_tensors(path, n);

    const double json_s = median_seconds(repeat, n, [&] {
      return parse_strict_json(header, path.string(), "header").size() - 1;  // less __metadata__
    });
    const double parse_s = median_seconds(repeat, n, [&] {
      return parse_safetensors_header(header, file_size, path.string()).tensors.size();
    });
    const double open_s = median_seconds(repeat, n, [&] {
      return Checkpoint::open(path).tensors().size();
    });
    auto cell = [n](double s) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f (%.0f)", s, s * 1e9 / static_cast<double>(n));
      return std::string(buf);
    };
    std::printf("%10llu %12zu %20s %20s %20s\n", static_cast<unsigned long long>(n),
                header.size(), cell(json_s).c_str(), cell(parse_s).c_str(), cell(open_s).c_str());
    std::fflush(stdout);
  }
  return 0;
}
