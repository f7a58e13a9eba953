#pragma once
#include <ostream>

#include "cli/args.hpp"
#include "dist/comm.hpp"

namespace cocktail {

// Runs a merge job on every rank of `comm`. Returns normally on success; on
// any rank's failure every rank throws JobFailed. A failure before streaming
// leaves nothing behind; from streaming on, the staging folder and its
// journal stay so the same command resumes. While streaming, SIGTERM and
// SIGUSR1 end it at the next unit with JobFailed::interrupted().
void run_merge(Comm& comm, const CliArgs& args, std::ostream& log);

// `cocktail_dist eval CONFIG`: only the few-shot losses and weights, printed
// by rank 0; nothing is written.
void run_eval(Comm& comm, const CliArgs& args, std::ostream& log);

}  // namespace cocktail
