#include "cli/launcher.hpp"

#include <cstdlib>
#include <string>

namespace cocktail {

// Open MPI's mpirun, PMIx launchers (srun --mpi=pmix, prterun), PMI-1/2
// launchers (MPICH's hydra, srun --mpi=pmi2) and any Slurm step: a process
// started by srun without PMI still gets SLURM_PROCID, and there MPI's own
// singleton start keeps the old behaviour.
bool started_by_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID"})
    if (std::getenv(var)) return true;
  return false;
}

bool launched_as_rank_zero() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(var)) return std::atoi(v) == 0;
  return true;
}

void prefer_on_node_messaging() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!size || !local || std::string(size) != local || std::getenv("OMPI_MCA_pml")) return;
  setenv("OMPI_MCA_pml", "ob1", 0);
}

}  // namespace cocktail
