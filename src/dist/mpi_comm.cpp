#include "dist/mpi_comm.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

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

void MpiComm::allreduce_sum(std::span<uint64_t> values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_UINT64_T, MPI_SUM, comm_);
}

void MpiComm::broadcast(std::string& bytes, int root) {
  uint64_t n = bytes.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_);
  bytes.resize(n);
  MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_CHAR, root, comm_);
}

// MPI counts are ints: a hidden state of more than 2^31 floats goes in parts.
constexpr size_t kMessageFloats = size_t{1} << 30;

void MpiComm::send(std::span<const float> values, int to) {
  for (size_t at = 0; at < values.size(); at += kMessageFloats) {
    const size_t n = std::min(kMessageFloats, values.size() - at);
    MPI_Send(values.data() + at, static_cast<int>(n), MPI_FLOAT, to, 0, comm_);
  }
}

void MpiComm::receive(std::span<float> values, int from) {
  for (size_t at = 0; at < values.size(); at += kMessageFloats) {
    const size_t n = std::min(kMessageFloats, values.size() - at);
    MPI_Recv(values.data() + at, static_cast<int>(n), MPI_FLOAT, from, 0, comm_, MPI_STATUS_IGNORE);
  }
}

namespace {

// Point-to-point messages on a private duplicate of the communicator, so they
// can never match the job's own traffic. Each rank keeps one receive posted;
// raising sends one byte to every other rank.
class MpiFailureFlag : public FailureFlag {
 public:
  explicit MpiFailureFlag(MPI_Comm comm) {
    MPI_Comm_dup(comm, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Irecv(&received_, 1, MPI_BYTE, MPI_ANY_SOURCE, 0, comm_, &recv_);
  }

  // Every rank learns how many raised, receives every message still owed to
  // it, and completes its own sends: nothing stays in flight when the
  // communicator is freed.
  ~MpiFailureFlag() override {
    int mine = raised_here_ ? 1 : 0, raisers = 0;
    MPI_Allreduce(&mine, &raisers, 1, MPI_INT, MPI_SUM, comm_);
    int owed = raisers - mine;
    if (owed == 0) {
      MPI_Cancel(&recv_);
      MPI_Wait(&recv_, MPI_STATUS_IGNORE);
    } else {
      MPI_Wait(&recv_, MPI_STATUS_IGNORE);
      for (--owed; owed > 0; --owed)
        MPI_Recv(&received_, 1, MPI_BYTE, MPI_ANY_SOURCE, 0, comm_, MPI_STATUS_IGNORE);
    }
    MPI_Waitall(static_cast<int>(sends_.size()), sends_.data(), MPI_STATUSES_IGNORE);
    MPI_Comm_free(&comm_);
  }

  void raise() override {
    if (raised_here_) return;
    raised_here_ = true;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      sends_.emplace_back();
      MPI_Isend(&sent_, 1, MPI_BYTE, r, 0, comm_, &sends_.back());
    }
  }

  bool raised() override {
    if (!seen_) MPI_Test(&recv_, &seen_, MPI_STATUS_IGNORE);
    return seen_;
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  MPI_Request recv_;
  std::vector<MPI_Request> sends_;
  char received_ = 0, sent_ = 1;
  int seen_ = 0;  // MPI_Test's flag: our receive completed
  bool raised_here_ = false;
};

}  // namespace

std::unique_ptr<FailureFlag> MpiComm::make_failure_flag() {
  return std::make_unique<MpiFailureFlag>(comm_);
}

}  // namespace cocktail
