// The communicator's failure machinery under real MPI, started by ctest as
// `mpirun -n 3 test_comm_mpi`: every rank runs every test.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <thread>

#include "dist/collective_step.hpp"
#include "dist/mpi_comm.hpp"
#include "fewshot/distributed_losses.hpp"

using namespace cocktail;

namespace {

// What a busy rank does: work in small steps, checking the flag between them.
// Bounded, so a flag that never arrives fails the test instead of hanging it.
bool wait_for(FailureFlag& flag) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (flag.raised()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(FailureFlag, OneRaiserReachesEveryOtherRank) {
  MpiComm comm(MPI_COMM_WORLD);
  ASSERT_EQ(comm.size(), 3);
  auto flag = comm.make_failure_flag();
  if (comm.rank() == 1) {
    flag->raise();
    flag->raise();  // idempotent
    EXPECT_FALSE(flag->raised());  // nobody else raised
  } else {
    EXPECT_TRUE(wait_for(*flag));
  }
  // Destruction is collective and drains every message: reaching the next
  // test at all is the check that nothing hangs.
}

TEST(FailureFlag, TwoRaisersAreBothDrained) {
  MpiComm comm(MPI_COMM_WORLD);
  auto flag = comm.make_failure_flag();
  if (comm.rank() != 0) flag->raise();
  EXPECT_TRUE(wait_for(*flag));  // rank 1 hears rank 2 and the other way round
}

TEST(FailureFlag, QuietWhenNobodyRaises) {
  MpiComm comm(MPI_COMM_WORLD);
  auto flag = comm.make_failure_flag();
  double sync[1] = {0};
  comm.allreduce_max(sync);
  EXPECT_FALSE(flag->raised());
}

TEST(CollectiveStep, SucceedsWhenEveryRankDoes) {
  MpiComm comm(MPI_COMM_WORLD);
  int calls = 0;
  EXPECT_NO_THROW(collective_step(comm, [&] { ++calls; }));
  EXPECT_EQ(calls, 1);
}

TEST(CollectiveStep, LowestFailingRankIsReportedEverywhere) {
  MpiComm comm(MPI_COMM_WORLD);
  try {
    collective_step(comm, [&] {
      if (comm.rank() >= 1) throw Error("failure on rank " + std::to_string(comm.rank()));
    });
    ADD_FAILURE() << "every rank must throw";
  } catch (const JobFailed& e) {
    EXPECT_STREQ(e.what(), "failure on rank 1");
    EXPECT_EQ(e.failed_rank(), 1);
  }
}

TEST(CollectiveStep, BusyRanksStopEarlyAndReportTheRealError) {
  MpiComm comm(MPI_COMM_WORLD);
  auto flag = comm.make_failure_flag();
  try {
    collective_step(
        comm,
        [&] {
          if (comm.rank() == 2) throw Error("disk full on rank 2");
          if (!wait_for(*flag)) return;  // the test then fails below
          throw StoppedByOtherRank();
        },
        flag.get());
    ADD_FAILURE() << "every rank must throw";
  } catch (const JobFailed& e) {
    EXPECT_STREQ(e.what(), "disk full on rank 2");
    EXPECT_EQ(e.failed_rank(), 2);
  }
}

// Few-shot partials: each rank evaluates its items, one all-reduce gives all
// ranks the same table a single rank computes alone, bit for bit.
TEST(FewShotPartials, AllRanksGetTheSingleRankTable) {
  MpiComm comm(MPI_COMM_WORLD);
  for (size_t candidates : {1, 2, 3, 5}) {
    const size_t batches = 4;
    int calls = 0;
    const BatchEvaluator evaluate = [&](size_t c, size_t first, size_t count) {
      ++calls;
      std::vector<BatchPartial> out;
      for (size_t b = first; b < first + count; ++b)
        out.push_back({0.1 * static_cast<double>(c * 10 + b) + 1.0 / 3.0, static_cast<double>(b + 1)});
      return out;
    };
    std::vector<BatchPartial> shared =
        local_partials(candidates, batches, comm.size(), comm.rank(), evaluate);
    allreduce_partials(comm, shared);
    const std::vector<BatchPartial> alone = local_partials(candidates, batches, 1, 0, evaluate);
    ASSERT_EQ(shared.size(), alone.size());
    for (size_t i = 0; i < alone.size(); ++i) {
      EXPECT_EQ(shared[i].loss_sum, alone[i].loss_sum) << i;
      EXPECT_EQ(shared[i].count, alone[i].count) << i;
    }
    const auto w = softmax_weights(candidate_losses(shared, candidates, LossReduction::Upstream), 5.0);
    double sum = 0;
    for (double x : w) sum += x;
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {  // one rank's report is enough to read; all ranks still check
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS() != 0, any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
