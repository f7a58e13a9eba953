// OutputFile writes any byte range at any offset exactly, from several
// threads at once, with O_DIRECT for the aligned middles (ext4 under /tmp
// here) and through the page cache (asked for, or on tmpfs).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "io/output_file.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;

// Fills a file of `size` bytes through OutputFile in pieces of every kind
// (inside one block, across blocks, longer than the bounce buffer, at odd
// offsets), written in a shuffled order by three threads; returns whether
// the writes went direct.
bool write_and_check(const fs::path& dir, uint64_t size, bool try_direct = true) {
  const fs::path path = dir / ("cocktail-output-file-" + std::to_string(::getpid()));
  File(path.string(), File::Mode::CreateReadWrite).truncate(size);
  std::mt19937_64 rng(5);
  std::vector<std::byte> want(size);
  for (auto& b : want) b = std::byte(rng());
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  const uint64_t lengths[] = {1, 100, 4095, 4096, 4097, 9000, 65536 + 7, OutputFile::kBounceBytes + 12345};
  for (uint64_t at = 0, k = 0; at < size; ++k) {
    const uint64_t n = std::min(size - at, lengths[k % std::size(lengths)]);
    pieces.emplace_back(at, n);
    at += n;
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);
  bool direct = false;
  {
    OutputFile out(path.string(), try_direct);
    direct = out.direct();
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 3; ++t)
      threads.emplace_back([&, t] {
        for (size_t i = t; i < pieces.size(); i += 3) out.write(want.data() + pieces[i].first, pieces[i].second, pieces[i].first);
      });
    for (auto& t : threads) t.join();
    out.sync();
  }
  std::vector<std::byte> got(size);
  File(path.string(), File::Mode::Read).pread_full(got.data(), size, 0);
  fs::remove(path);
  EXPECT_TRUE(got == want) << path;
  return direct;
}

TEST(OutputFile, WritesEveryRangeExactlyWithODirect) {
  EXPECT_TRUE(write_and_check(fs::temp_directory_path(), 3 * OutputFile::kBounceBytes + 777))
      << "O_DIRECT was refused under " << fs::temp_directory_path() << "; this test expects a disk filesystem there";
}

TEST(OutputFile, WritesEveryRangeExactlyThroughThePageCache) {
  EXPECT_FALSE(write_and_check(fs::temp_directory_path(), 3 * OutputFile::kBounceBytes + 777, false));
}

// tmpfs is memory: every write goes through the page cache there.
TEST(OutputFile, WritesEveryRangeExactlyOnTmpfsWithoutODirect) {
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm (tmpfs) here";
  EXPECT_FALSE(write_and_check("/dev/shm", 2 * OutputFile::kBounceBytes + 5));
}

}  // namespace
}  // namespace cocktail
