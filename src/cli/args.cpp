#include "cli/args.hpp"

#include <string_view>

#include "core/error.hpp"

namespace cocktail {

const char* usage() {
  return "usage: cocktail_dist CONFIG [--output PATH] [--overwrite] [--dry-run] [--emulate-gpu]\n"
         "       cocktail_dist eval CONFIG\n"
         "       cocktail_dist inspect PATH\n"
         "\n"
         "  CONFIG        merge job (YAML, see docs/config.md); run under mpirun or srun\n"
         "  --output PATH write here instead of the config's 'output'\n"
         "  --overwrite   replace an existing output folder\n"
         "  --dry-run     validate inputs and print the plan; write nothing\n"
         "  --emulate-gpu run the GPU path's kernel code on the CPU, one element at a\n"
         "                time (slow): the bytes a GPU would write, without one\n"
         "  eval CONFIG   only compute the few-shot losses and weights of an lm_cocktail job\n"
         "  inspect PATH  list the tensors of a checkpoint folder or .safetensors file\n";
}

CliArgs parse_args(int argc, char** argv) {
  CliArgs args;
  if (argc < 2) return args;
  const std::string_view first = argv[1];
  if (first == "-h" || first == "--help" || first == "help") return args;
  if (first == "--version") {
    args.command = CliArgs::Command::Version;
    return args;
  }
  if (first == "inspect") {
    if (argc != 3) throw Error("inspect takes one PATH (see --help)");
    args.command = CliArgs::Command::Inspect;
    args.path = argv[2];
    return args;
  }
  args.command = CliArgs::Command::Merge;
  int first_arg = 1;
  if (first == "eval") {
    args.command = CliArgs::Command::Eval;
    first_arg = 2;
  }
  for (int i = first_arg; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--overwrite") {
      args.overwrite = true;
    } else if (a == "--dry-run") {
      args.dry_run = true;
    } else if (a == "--emulate-gpu") {
      args.emulate_gpu = true;
    } else if (a == "--output" || a == "-o") {
      if (i + 1 >= argc) throw Error("--output needs a PATH");
      args.output = argv[++i];
    } else if (a.starts_with("-")) {
      throw Error("unknown option '" + std::string(a) + "' (see --help)");
    } else if (args.path.empty()) {
      args.path = a;
    } else {
      throw Error("unexpected argument '" + std::string(a) + "': one CONFIG per run");
    }
  }
  if (args.path.empty()) throw Error("no CONFIG given (see --help)");
  return args;
}

}  // namespace cocktail
