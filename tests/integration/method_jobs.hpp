#pragma once
// Jobs of the task-vector methods over the committed mergekit fixtures
// (tests/fixtures/mergekit): the fixture jobs with absolute paths, and jobs
// of the random methods over the same inputs. Used by the method tests on
// the CPU and by the GPU tests.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <string>

#include "fixture_models.hpp"

namespace cocktail::test {

inline const std::filesystem::path kMergekit = std::filesystem::path(COCKTAIL_FIXTURES_DIR) / "mergekit";

struct Layout {
  int ranks;
  uint64_t chunk;
  int threads;
};

// Jobs of the random methods over the fixture inputs, like the fixture jobs.
inline std::string random_method_job(const std::string& name) {
  const std::string dtype = name.substr(name.rfind('-') + 1);
  const std::string head = "base_model: ../inputs/" + dtype + "/base\ndtype: float32\nout_dtype: " + dtype +
                           "\nrandom_seed: 7\n";
  if (name.rfind("dare_ties-", 0) == 0)
    return "merge_method: dare_ties\n" + head +
           "parameters:\n  lambda: 0.9\nmodels:\n"
           "  - model: ../inputs/" + dtype + "/a\n    parameters: {weight: 0.5, density: 0.4}\n"
           "  - model: ../inputs/" + dtype + "/b\n    parameters: {weight: 0.3, density: [0.2, 0.8]}\n";
  return "merge_method: della\n" + head +
         "models:\n"
         "  - model: ../inputs/" + dtype + "/a\n    parameters: {weight: 0.5, density: 0.5}\n"
         "  - model: ../inputs/" + dtype + "/c\n    parameters: {weight: 0.4, density: 0.6, epsilon: 0.1}\n";
}

// A job name as a test name ("ties-bfloat16" -> "ties_bfloat16").
inline std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
}

// The fixture job with absolute model paths, our output and a layout.
inline std::filesystem::path write_job(const std::filesystem::path& dir, const std::string& job, const Layout& layout,
                                       const std::string& extra = "") {
  std::string text = job.find("-random-") != std::string::npos ? random_method_job(job)
                                                                : read_file(kMergekit / "jobs" / (job + ".yaml"));
  text = std::regex_replace(text, std::regex("\\.\\./inputs/"), (kMergekit / "inputs").string() + "/");
  text += "output: " + (dir / ("out-" + job)).string() + "\n";
  text += "chunk_size: " + std::to_string(layout.chunk) + "\nthreads: " + std::to_string(layout.threads) +
          "\nprogress_interval: 0\n" + extra;
  const std::filesystem::path cfg = dir / (job + ".yaml");
  write_file(cfg, text);
  return cfg;
}
}  // namespace cocktail::test
