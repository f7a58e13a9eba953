#pragma once
// What a process learns from its launcher's environment before MPI starts,
// and the one choice main() makes from it: whether to start MPI at all.

namespace cocktail {

// mpirun, srun or another PMI launcher started this process as a rank of a
// job. When none did, cocktail_dist runs as one process and never
// initialises MPI (dist/solo_comm.hpp).
bool started_by_launcher();

// The rank the launcher gave this process (a bad command line is reported
// once, by rank 0, before MPI is up); true when there is no launcher.
bool launched_as_rank_zero();

// Open MPI with every rank on this node (under mpirun or srun): asks for its
// ob1 messaging layer (shared memory between the ranks) instead of UCX, whose
// probe of the node's network devices costs 0.2 s of a 0.4 s MPI start
// (docs/performance.md). The merge sends MPI only small host messages, so
// nothing is lost. A user's own choice (OMPI_MCA_pml in the environment, or
// mpirun --mca pml) is kept. Call before MPI_Init.
void prefer_on_node_messaging();

}  // namespace cocktail
