#pragma once
// SIGTERM and SIGUSR1 (Slurm's time-limit warning, scancel, preemption) ask
// a streaming merge to stop at the next work unit with its journal intact,
// so the same command resumes it; outside streaming they keep their default
// action. The handler only records the signal in an atomic that
// the merge polls after each unit. That atomic is the one piece of global
// state in the program: a signal handler can reach nothing else, and
// libraries (OpenBLAS, MPI) start threads before main that would otherwise
// take the signal with its default action. Launchers often deliver one
// request twice (mpirun forwards what it gets, a batch script passes TERM to
// srun), so later signals change nothing; SIGINT and SIGKILL still end a
// rank at once.
namespace cocktail {

class StopSignals {
 public:
  StopSignals();   // installs the handlers; one instance at a time
  ~StopSignals();  // restores the default actions
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first signal that asked to stop ("SIGTERM", "SIGUSR1"), or nullptr.
  const char* requested() const;
};

// The exit status of a job stopped by a signal with its journal kept: "try
// again" (EX_TEMPFAIL); the sbatch scripts requeue on it.
constexpr int kExitInterrupted = 75;

}  // namespace cocktail
