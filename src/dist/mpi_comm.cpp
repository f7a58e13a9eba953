#include "dist/mpi_comm.hpp"

#include <cstdint>

namespace cocktail {

MpiComm::MpiComm(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_);
  MPI_Comm_rank(node_, &local_rank_);
  MPI_Comm_size(node_, &local_size_);
}

MpiComm::~MpiComm() { MPI_Comm_free(&node_); }

void MpiComm::allreduce_sum(std::span<double> values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                comm_);
}

void MpiComm::allreduce_max(std::span<double> values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MAX,
                comm_);
}

void MpiComm::broadcast(std::string& bytes, int root) {
  uint64_t n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_);
  bytes.resize(n);
  MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_CHAR, root, comm_);
}

}  // namespace cocktail
