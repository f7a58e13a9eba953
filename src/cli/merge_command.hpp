#pragma once
#include <ostream>

#include "cli/args.hpp"
#include "cli/stop_signals.hpp"
#include "dist/comm.hpp"

namespace cocktail {

// Runs a merge job on every rank of `comm`. Returns normally on success; on
// any rank's failure every rank throws JobFailed. A failure before streaming
// leaves nothing behind; from streaming on, the staging folder and its
// journal stay so the same command resumes. A signal in `stop` ends the
// stream at the next unit with JobFailed::interrupted().
void run_merge(Comm& comm, const CliArgs& args, const StopSignals& stop, std::ostream& log);

// `cocktail_dist eval CONFIG`: only the few-shot losses and weights, printed
// by rank 0; nothing is written.
void run_eval(Comm& comm, const CliArgs& args, std::ostream& log);

}  // namespace cocktail
