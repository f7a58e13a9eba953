#include "cli/launcher.hpp"

#include <cstdlib>
#include <string>

namespace cocktail {

namespace {

// The rank a launcher gave this process, as it spells it: Open MPI's mpirun,
// PMIx launchers (srun --mpi=pmix, prterun), PMI-1/2 launchers (MPICH's
// hydra, srun --mpi=pmi2) and any Slurm step (srun without PMI still sets
// SLURM_PROCID, and there MPI's own singleton start keeps the old
// behaviour). Null when no launcher started us.
const char* launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(var)) return v;
  return nullptr;
}

// Every rank of the job runs on this node: Open MPI's mpirun says so with its
// world and local sizes, srun with the step's node count.
bool all_ranks_on_this_node() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (size && local) return std::string(size) == local;
  const char* nodes = std::getenv("SLURM_STEP_NUM_NODES");
  return std::getenv("SLURM_PROCID") && nodes && std::string(nodes) == "1";
}

}  // namespace

bool started_by_launcher() { return launcher_rank() != nullptr; }

bool launched_as_rank_zero() {
  const char* rank = launcher_rank();
  return !rank || std::atoi(rank) == 0;
}

void prefer_on_node_messaging() {
  if (!all_ranks_on_this_node() || std::getenv("OMPI_MCA_pml")) return;
  setenv("OMPI_MCA_pml", "ob1", 0);
}

}  // namespace cocktail
