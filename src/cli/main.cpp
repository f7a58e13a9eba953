// cocktail_dist: merge checkpoints across MPI ranks (see README.md).
// main() owns MPI's life cycle (none at all for a process started without a
// launcher: cli/launcher.hpp) and decides how the process ends; everything
// below it reports failure by exception.
#include <mpi.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include "cli/args.hpp"
#include "cli/inspect.hpp"
#include "cli/launcher.hpp"
#include "cli/merge_command.hpp"
#include "cli/stop_signals.hpp"
#include "core/error.hpp"
#include "dist/collective_step.hpp"
#include "dist/mpi_comm.hpp"
#include "dist/solo_comm.hpp"

namespace {

// The command on `comm`; its exit status. A failure every rank agreed on is
// reported once, by rank 0; anything else propagates.
int run_command(cocktail::Comm& comm, const cocktail::CliArgs& args) {
  try {
    if (args.command == cocktail::CliArgs::Command::Eval) {
      cocktail::run_eval(comm, args, std::cout);
    } else {
      cocktail::run_merge(comm, args, std::cout);
    }
    return 0;
  } catch (const cocktail::JobFailed& e) {
    if (comm.rank() == 0) {
      std::cerr << (e.interrupted() ? "cocktail: interrupted: " : "cocktail: error: ") << e.what();
      if (comm.size() > 1 && e.failed_rank() != 0) std::cerr << " (on rank " << e.failed_rank() << ")";
      std::cerr << std::endl;
    }
    return e.interrupted() ? cocktail::kExitInterrupted : 1;
  }
}

// One process started without a launcher: no MPI at all.
int run_alone(const cocktail::CliArgs& args) {
  cocktail::SoloComm comm;
  try {
    return run_command(comm, args);
  } catch (const std::exception& e) {
    std::cerr << "cocktail: error: " << e.what() << std::endl;
    return 1;
  }
}

int run_distributed(const cocktail::CliArgs& args) {
  cocktail::prefer_on_node_messaging();
  MPI_Init(nullptr, nullptr);
  int status = 0;
  {
    cocktail::MpiComm comm(MPI_COMM_WORLD);
    try {
      status = run_command(comm, args);
    } catch (const std::exception& e) {
      // Outside any collective step (a bug, or out of memory while reporting):
      // this rank cannot tell the others, so it ends the whole job.
      std::cerr << "cocktail: error on rank " << comm.rank() << ": " << e.what() << std::endl;
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  MPI_Finalize();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using cocktail::CliArgs;
  CliArgs args;
  try {
    args = cocktail::parse_args(argc, argv);
  } catch (const cocktail::Error& e) {
    if (cocktail::launched_as_rank_zero()) std::cerr << "cocktail: error: " << e.what() << std::endl;
    return 2;
  }
  switch (args.command) {
    case CliArgs::Command::Help:
      if (cocktail::launched_as_rank_zero()) std::cout << cocktail::usage();
      return argc < 2 ? 2 : 0;
    case CliArgs::Command::Version:
      std::cout << "cocktail_dist " << COCKTAIL_VERSION << std::endl;
      return 0;
    case CliArgs::Command::Inspect:
      try {
        cocktail::inspect_checkpoint(args.path, std::cout);
        return 0;
      } catch (const std::exception& e) {
        std::cerr << "cocktail: error: " << e.what() << std::endl;
        return 1;
      }
    case CliArgs::Command::Merge:
    case CliArgs::Command::Eval:
      // A file size limit (ulimit -f) then fails the write with EFBIG, which
      // is reported with the file's name, instead of killing the process.
      signal(SIGXFSZ, SIG_IGN);
      return cocktail::started_by_launcher() ? run_distributed(args) : run_alone(args);
  }
  return 2;
}
