// The floor under any MPI command's start-up: MPI_Init and MPI_Finalize of a
// program that loads nothing else (tests/bench/startup_bench.sh).
#include <mpi.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Finalize();
  return 0;
}
