#pragma once
// Test hook: COCKTAIL_FAULT makes one rank fail at a chosen point, so the
// tests can kill a real rank mid-read or mid-write and check the resume.
//
//   COCKTAIL_FAULT=<action>@<point>:<rank>:<unit>
//     action  kill   SIGKILL this rank (no cleanup, as a node failure)
//             term   SIGTERM to this rank (usr1: SIGUSR1), as a scheduler
//                    asking it to stop
//             stop   SIGSTOP this rank until a SIGCONT (a job paused
//                    mid-stream, so a test can start another beside it)
//             touch  set the mtime of the unit's first input file to now
//                    (a checkpoint rewritten during the merge)
//     point   read     the unit's inputs are in memory, not yet summed
//             written  its output is written, not yet in the journal
//             publish  every unit is done, before the output is renamed
//                      (rank 0; <unit> is ignored)
//
// Unset in normal runs: the hook is then empty and costs nothing.
#include <cstddef>
#include <functional>
#include <vector>

#include "io/checkpoint.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

using FaultHook = std::function<void(const char* point, size_t unit)>;

// The hook `spec` (COCKTAIL_FAULT's value, or null) describes for `rank`;
// empty when it names another rank or is null. Throws cocktail::Error on a
// malformed spec.
FaultHook fault_hook(const char* spec, int rank, const MergePlan& plan, const std::vector<Checkpoint>& models);

}  // namespace cocktail
