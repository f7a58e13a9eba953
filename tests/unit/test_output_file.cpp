// OutputFile writes any byte range at any offset exactly, from several
// threads at once, with O_DIRECT for the aligned middles (ext4 under /tmp
// here) and through the page cache (asked for, or on tmpfs).
#include <gtest/gtest.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "io/output_file.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;

// Fills a file of `size` bytes through OutputFile in pieces of every kind
// (inside one block, across blocks and windows, longer than a window, at odd
// offsets), written in a shuffled order by three threads; one piece in
// seven is left out (a unit a resumed job skips) and must keep the file's
// old bytes. Every other piece is put in place where the file offers its
// window (as the engine's CPU sums are), the rest copied in by write().
// Returns whether the writes went direct.
bool write_and_check(const fs::path& dir, uint64_t size, bool try_direct = true) {
  const fs::path path = dir / ("cocktail-output-file-" + std::to_string(::getpid()));
  std::vector<std::byte> old(size, std::byte{0x5a});
  {
    File f(path.string(), File::Mode::CreateReadWrite);
    f.truncate(size);
    f.pwrite_full(old.data(), size, 0);
  }
  std::mt19937_64 rng(5);
  std::vector<std::byte> want = old;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  const uint64_t lengths[] = {1, 100, 4095, 4096, 4097, 9000, 65536 + 7, OutputFile::kWindow + 12345, 1 << 20};
  for (uint64_t at = 0, k = 0; at < size; ++k) {
    const uint64_t n = std::min(size - at, lengths[k % std::size(lengths)]);
    if (k % 7 != 3) {
      pieces.emplace_back(at, n);
      for (uint64_t i = at; i < at + n; ++i) want[i] = std::byte(rng());
    }
    at += n;
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);
  bool direct = false;
  {
    ThreadPool writer(1);
    OutputFile out(path.string(), try_direct ? &writer : nullptr);
    direct = out.direct();
    for (const auto& [at, n] : pieces) out.will_write(at, n);
    std::atomic<size_t> placed{0};
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 3; ++t)
      threads.emplace_back([&, t] {
        for (size_t i = t; i < pieces.size(); i += 3) {
          const auto [at, n] = pieces[i];
          std::byte* place = i % 2 ? nullptr : out.window_place(at, n);
          if (!place) {
            out.write(want.data() + at, n, at);
            continue;
          }
          EXPECT_EQ(at / OutputFile::kWindow, (at + n - 1) / OutputFile::kWindow) << "a place across windows";
          std::memcpy(place, want.data() + at, n);
          out.arrived(at, n);
          ++placed;
        }
      });
    for (auto& t : threads) t.join();
    out.sync();
    if (direct)
      EXPECT_GT(placed.load(), 0u);
    else
      EXPECT_EQ(placed.load(), 0u) << "a window offered without direct writes";
  }
  std::vector<std::byte> got(size);
  File(path.string(), File::Mode::Read).pread_full(got.data(), size, 0);
  fs::remove(path);
  EXPECT_TRUE(got == want) << path;
  return direct;
}

TEST(OutputFile, WritesEveryRangeExactlyWithODirect) {
  EXPECT_TRUE(write_and_check(fs::temp_directory_path(), 3 * OutputFile::kWindow + 777))
      << "O_DIRECT was refused under " << fs::temp_directory_path() << "; this test expects a disk filesystem there";
}

TEST(OutputFile, WritesEveryRangeExactlyThroughThePageCache) {
  EXPECT_FALSE(write_and_check(fs::temp_directory_path(), 3 * OutputFile::kWindow + 777, false));
}

// tmpfs is memory: every write goes through the page cache there.
TEST(OutputFile, WritesEveryRangeExactlyOnTmpfsWithoutODirect) {
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm (tmpfs) here";
  EXPECT_FALSE(write_and_check("/dev/shm", 2 * OutputFile::kWindow + 5));
}

// With direct writes a window goes to disk once its last declared byte
// arrives: before that its bytes are in memory only (a resumed job finds
// them missing and computes their units again), and sync() says so.
TEST(OutputFile, AWindowIsWrittenOnceItsLastDeclaredByteArrives) {
  const fs::path path = fs::temp_directory_path() / ("cocktail-output-window-" + std::to_string(::getpid()));
  const uint64_t size = 2 * OutputFile::kWindow;
  File(path.string(), File::Mode::CreateReadWrite).truncate(size);
  const std::vector<std::byte> ones(size, std::byte{1});
  auto byte_at = [&](uint64_t at) {
    std::byte b{};
    File(path.string(), File::Mode::Read).pread_full(&b, 1, at);
    return b;
  };
  ThreadPool writer(1);
  OutputFile out(path.string(), &writer);
  ASSERT_TRUE(out.direct()) << "O_DIRECT was refused under " << fs::temp_directory_path();
  out.will_write(100, OutputFile::kWindow - 100);
  out.will_write(OutputFile::kWindow, 5000);
  out.write(ones.data(), OutputFile::kWindow - 101, 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(byte_at(100), std::byte{0}) << "a window was written before it was complete";
  out.write(ones.data(), 1, OutputFile::kWindow - 1);
  out.write(ones.data(), 1000, OutputFile::kWindow);
  try {
    out.sync();
    ADD_FAILURE() << "no error for a window never filled";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 output windows were declared and never filled"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(byte_at(100), std::byte{1});
  EXPECT_EQ(byte_at(OutputFile::kWindow - 1), std::byte{1});
  EXPECT_EQ(byte_at(99), std::byte{0});
  EXPECT_EQ(byte_at(OutputFile::kWindow), std::byte{0});
  EXPECT_THROW(out.write(ones.data(), 1, 50), Error) << "a write that was not declared";
  fs::remove(path);
}

// A file closed before its windows complete (a job stopped by a signal or a
// failure) writes what they hold through the page cache, so units the
// journal already names keep their bytes; bytes outside the declared ranges
// are left alone, and windows nothing arrived in write nothing.
TEST(OutputFile, ClosedBeforeItsWindowsCompleteItKeepsWhatArrived) {
  const fs::path path = fs::temp_directory_path() / ("cocktail-output-close-" + std::to_string(::getpid()));
  const uint64_t size = 2 * OutputFile::kWindow;
  File(path.string(), File::Mode::CreateReadWrite).truncate(size);
  const std::vector<std::byte> ones(5000, std::byte{1});
  {
    ThreadPool writer(1);
    OutputFile out(path.string(), &writer);
    out.will_write(4096, 5000);
    out.will_write(OutputFile::kWindow + 4096, 5000);
    out.write(ones.data(), 3000, 4096);
  }
  std::vector<std::byte> got(size);
  File(path.string(), File::Mode::Read).pread_full(got.data(), size, 0);
  EXPECT_EQ(std::count(got.begin() + 4096, got.begin() + 4096 + 3000, std::byte{1}), 3000);
  EXPECT_EQ(std::count(got.begin(), got.begin() + 4096, std::byte{0}), 4096);
  EXPECT_EQ(std::count(got.begin() + 4096 + 5000, got.end(), std::byte{0}), static_cast<long>(size - 9096));
  fs::remove(path);
}

// Reserving allocates the blocks, so a full disk fails before any work.
TEST(OutputFile, ReserveAllocatesTheBlocks) {
  const fs::path path = fs::temp_directory_path() / ("cocktail-reserve-" + std::to_string(::getpid()));
  const File f(path.string(), File::Mode::CreateReadWrite);
  if (f.in_memory()) GTEST_SKIP() << fs::temp_directory_path() << " is tmpfs here: reserve() is not used there";
  EXPECT_EQ(f.allocated_bytes(), 0u);
  f.reserve(0, OutputFile::kWindow);
  EXPECT_GE(f.allocated_bytes(), OutputFile::kWindow);
  fs::remove(path);
}

// In memory the engine checks the room instead: more than the filesystem
// holds fails naming the file, as a full disk does at reserve().
TEST(OutputFile, CheckRoomNamesTheFileWhenTheBytesDoNotFit) {
  for (const fs::path dir : {fs::temp_directory_path(), fs::path("/dev/shm")}) {
    if (!fs::is_directory(dir)) continue;
    struct statvfs st {};
    ASSERT_EQ(::statvfs(dir.c_str(), &st), 0) << dir;
    if (st.f_blocks == 0) continue;  // no size limit: always room
    const fs::path path = dir / ("cocktail-room-" + std::to_string(::getpid()));
    const File f(path.string(), File::Mode::CreateReadWrite);
    EXPECT_NO_THROW(f.check_room(4096)) << dir;
    try {
      f.check_room(uint64_t{st.f_bavail} * st.f_frsize + (1ull << 30));
      ADD_FAILURE() << "no error for more than " << dir << " holds";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string() + ": cannot reserve"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
    }
    fs::remove(path);
  }
}

}  // namespace
}  // namespace cocktail
