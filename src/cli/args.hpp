#pragma once
// Command line of cocktail_dist.
//   cocktail_dist CONFIG [--output PATH] [--overwrite] [--dry-run]
//   cocktail_dist eval CONFIG
//   cocktail_dist inspect PATH
#include <optional>
#include <string>

namespace cocktail {

struct CliArgs {
  enum class Command { Merge, Eval, Inspect, Help, Version } command = Command::Help;
  std::string path;                   // config file, or checkpoint for inspect
  std::optional<std::string> output;  // overrides the config's output
  bool overwrite = false;
  bool dry_run = false;
  bool emulate_gpu = false;  // merge with the GPU path's code on the CPU (kEmulatedGpu)
};

// Throws cocktail::Error with a usage hint on bad arguments.
CliArgs parse_args(int argc, char** argv);
const char* usage();

}  // namespace cocktail
