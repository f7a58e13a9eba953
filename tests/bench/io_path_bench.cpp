// io_path_bench: the ways a rank can move checkpoint bytes, side by side in
// one run, to choose the engine's I/O path by measurement (issue 15,
// docs/performance.md):
//   pread      buffered pread of 8 MiB pieces by THREADS threads into aligned
//              buffers (what the engine does, merge/input_files.cpp)
//   direct     the same with O_DIRECT (what fastsafetensors-style loaders do;
//              no page cache)
//   uring      io_uring, O_DIRECT, registered buffers, QUEUE reads in flight
//              per thread
//   uring-buf  io_uring, buffered, registered buffers
//   pread+use  pread of one 1 MiB unit at a time into a buffer, then a pass
//              reading it (the sum's read of its inputs): the engine's warm
//              path, two passes over each byte
//   mmap+use   each unit mapped, its pages mapped in at once
//              (MADV_POPULATE_READ), then the same pass read straight from
//              the page cache: one pass, no copy
// and for the output's bytes (one file of the inputs' average size,
// allocated first as the engine does):
//   pwrite     buffered pwrite + sync_file_range per piece, then fsync
//              (what the engine does)
//   direct     O_DIRECT pwrite, then fsync
//   uring      io_uring O_DIRECT writes, registered buffers, then fsync
//
//   io_path_bench DIR [--files 3] [--mib 1300] [--threads 2] [--queue 4]
//                     [--repeat 3] [--warm]
//
// Writes FILES input files of MIB MiB of non-zero data into DIR once (kept;
// holes would read at memory speed). Cold runs drop each file's pages with
// posix_fadvise(DONTNEED) first (no root needed: the pages are clean);
// --warm reads everything once and keeps it cached. Prints the median GB/s
// of REPEAT rounds, the cases of a round run in turn.
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kPiece = 8ull << 20;  // merge/input_files.hpp kIoPiece
constexpr size_t kAlign = 4096;

struct Options {
  std::string dir;
  int files = 3, threads = 2, queue = 4, repeat = 3;
  size_t mib = 1300;
  bool warm = false;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "io_path_bench: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

struct Aligned {
  explicit Aligned(size_t bytes) : p(static_cast<char*>(std::aligned_alloc(kAlign, bytes))) {
    if (!p) die("aligned_alloc");
    std::memset(p, 0x5A, bytes);
  }
  ~Aligned() { std::free(p); }
  char* p;
};

int open_or_die(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) die(path);
  return fd;
}

// Pieces [0, n) split over threads as the I/O pool takes them: piece i to
// thread i % threads.
void run_threads(int threads, const std::function<void(int)>& body) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(body, t);
  for (auto& t : pool) t.join();
}

struct Piece {
  int fd;
  size_t offset, bytes;
};

std::vector<Piece> pieces_of(const std::vector<int>& fds, size_t file_bytes) {
  std::vector<Piece> out;
  for (int fd : fds)
    for (size_t at = 0; at < file_bytes; at += kPiece) out.push_back({fd, at, std::min(kPiece, file_bytes - at)});
  return out;
}

enum class Transfer { Read, Write, WriteAndStartWriteback };

// Every piece through pread or pwrite, piece i by thread i % threads.
void transfer_pieces(const std::vector<Piece>& pieces, int threads, Transfer how) {
  run_threads(threads, [&](int t) {
    Aligned buf(kPiece);
    for (size_t i = t; i < pieces.size(); i += threads) {
      const Piece& p = pieces[i];
      for (size_t done = 0; done < p.bytes;) {
        const ssize_t n = how == Transfer::Read ? ::pread(p.fd, buf.p + done, p.bytes - done, p.offset + done)
                                                : ::pwrite(p.fd, buf.p + done, p.bytes - done, p.offset + done);
        if (n <= 0) die(how == Transfer::Read ? "pread" : "pwrite");
        done += n;
      }
      if (how == Transfer::WriteAndStartWriteback) ::sync_file_range(p.fd, p.offset, p.bytes, SYNC_FILE_RANGE_WRITE);
    }
  });
}

constexpr size_t kUnit = 1ull << 20;  // chunk_size's default

// What the sum's read of a unit costs: one pass over its bytes.
uint64_t use(const char* p, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    sum += v;
  }
  return sum;
}

// Every 1 MiB unit of every piece, unit i by thread i % threads, read either
// into a buffer (pread) or through a mapping of the unit, then used.
void use_units(const std::vector<Piece>& pieces, int threads, bool mapped) {
  std::atomic<uint64_t> total{0};
  run_threads(threads, [&](int t) {
    Aligned buf(kUnit);
    uint64_t sum = 0;
    size_t i = 0;
    for (const Piece& p : pieces)
      for (size_t at = p.offset; at < p.offset + p.bytes; at += kUnit, ++i) {
        if (i % threads != static_cast<size_t>(t)) continue;
        const size_t n = std::min(kUnit, p.offset + p.bytes - at);
        if (!mapped) {
          if (::pread(p.fd, buf.p, n, at) != static_cast<ssize_t>(n)) die("pread");
          sum += use(buf.p, n);
          continue;
        }
        void* m = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, p.fd, static_cast<off_t>(at));
        if (m == MAP_FAILED) die("mmap");
        if (::madvise(m, n, MADV_POPULATE_READ) != 0) die("madvise(MADV_POPULATE_READ)");
        sum += use(static_cast<const char*>(m), n);
        ::munmap(m, n);
      }
    total += sum;
  });
  if (total.load() == 42) std::printf(" ");  // keeps the sums
}

// Each thread its own ring with QUEUE registered buffers, refilled as reads
// (or writes) complete.
void uring_pieces(const std::vector<Piece>& pieces, int threads, int queue, bool write) {
  run_threads(threads, [&](int t) {
    io_uring ring;
    if (io_uring_queue_init(queue, &ring, 0) < 0) die("io_uring_queue_init");
    std::vector<Aligned> bufs;
    std::vector<iovec> iov(queue);
    bufs.reserve(queue);
    for (int q = 0; q < queue; ++q) {
      bufs.emplace_back(kPiece);
      iov[q] = {bufs[q].p, kPiece};
    }
    if (io_uring_register_buffers(&ring, iov.data(), queue) < 0) die("io_uring_register_buffers");
    std::vector<int> free_slots;
    for (int q = 0; q < queue; ++q) free_slots.push_back(q);
    size_t next = t, in_flight = 0;
    while (next < pieces.size() || in_flight) {
      while (next < pieces.size() && !free_slots.empty()) {
        const int q = free_slots.back();
        free_slots.pop_back();
        const Piece& p = pieces[next];
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (write)
          io_uring_prep_write_fixed(sqe, p.fd, bufs[q].p, p.bytes, p.offset, q);
        else
          io_uring_prep_read_fixed(sqe, p.fd, bufs[q].p, p.bytes, p.offset, q);
        io_uring_sqe_set_data64(sqe, q);
        next += threads;
        ++in_flight;
      }
      io_uring_submit(&ring);
      io_uring_cqe* cqe;
      if (io_uring_wait_cqe(&ring, &cqe) < 0) die("io_uring_wait_cqe");
      // A short transfer would need a resubmit; on a regular file it does not happen
      // except at the end, and every piece here ends on a block boundary.
      if (cqe->res < 0) {
        errno = -cqe->res;
        die(write ? "io_uring write" : "io_uring read");
      }
      free_slots.push_back(static_cast<int>(io_uring_cqe_get_data64(cqe)));
      io_uring_cqe_seen(&ring, cqe);
      --in_flight;
    }
    io_uring_queue_exit(&ring);
  });
}

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void drop_cache(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    const int fd = open_or_die(path, O_RDONLY);
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr, "usage: io_path_bench DIR [--files 3] [--mib 1300] [--threads 2] [--queue 4] [--repeat 3] [--warm]\n");
    return 2;
  }
  o.dir = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::atol(argv[++i]) : 0L; };
    if (a == "--files") o.files = value();
    else if (a == "--mib") o.mib = value();
    else if (a == "--threads") o.threads = value();
    else if (a == "--queue") o.queue = value();
    else if (a == "--repeat") o.repeat = value();
    else if (a == "--warm") o.warm = true;
    else { std::fprintf(stderr, "io_path_bench: unknown argument %s\n", a.c_str()); return 2; }
  }
  const size_t file_bytes = o.mib << 20;
  std::vector<std::string> inputs;
  for (int f = 0; f < o.files; ++f) {
    const std::string path = o.dir + "/io_path_bench_in" + std::to_string(f) + "_" + std::to_string(o.mib) + "M";
    inputs.push_back(path);
    if (::access(path.c_str(), R_OK) == 0) continue;
    const int fd = open_or_die(path, O_WRONLY | O_CREAT | O_TRUNC);
    transfer_pieces(pieces_of({fd}, file_bytes), 1, Transfer::Write);
    ::fsync(fd);
    ::close(fd);
  }
  const std::string output = o.dir + "/io_path_bench_out";
  const double total = double(file_bytes) * o.files;

  struct Case {
    const char* name;
    bool write;
    std::function<void()> run;
  };
  std::vector<int> buffered, direct;
  for (const auto& p : inputs) {
    buffered.push_back(open_or_die(p, O_RDONLY));
    direct.push_back(open_or_die(p, O_RDONLY | O_DIRECT));
  }
  const auto read_buffered = pieces_of(buffered, file_bytes), read_direct = pieces_of(direct, file_bytes);
  auto write_case = [&](int flags, const std::function<void(const std::vector<Piece>&)>& body) {
    return [&, flags, body] {
      const int fd = open_or_die(output, O_WRONLY | O_CREAT | O_TRUNC | flags);
      // Allocated first, as the engine reserves its output (File::reserve).
      if (::fallocate(fd, 0, 0, static_cast<off_t>(file_bytes)) != 0) die("fallocate");
      body(pieces_of({fd}, file_bytes));
      ::fsync(fd);
      ::close(fd);
    };
  };
  std::vector<Case> cases = {
      {"read  pread", false, [&] { transfer_pieces(read_buffered, o.threads, Transfer::Read); }},
      {"read  direct", false, [&] { transfer_pieces(read_direct, o.threads, Transfer::Read); }},
      {"read  uring", false, [&] { uring_pieces(read_direct, o.threads, o.queue, false); }},
      {"read  uring-buf", false, [&] { uring_pieces(read_buffered, o.threads, o.queue, false); }},
      {"read  pread+use", false, [&] { use_units(read_buffered, o.threads, false); }},
      {"read  mmap+use", false, [&] { use_units(read_buffered, o.threads, true); }},
      {"write pwrite", true, write_case(0, [&](const auto& p) { transfer_pieces(p, o.threads, Transfer::WriteAndStartWriteback); })},
      {"write direct", true, write_case(O_DIRECT, [&](const auto& p) { transfer_pieces(p, o.threads, Transfer::Write); })},
      {"write uring", true, write_case(O_DIRECT, [&](const auto& p) { uring_pieces(p, o.threads, o.queue, true); })},
  };
  if (o.warm) transfer_pieces(read_buffered, o.threads, Transfer::Read);
  std::vector<std::vector<double>> times(cases.size());
  for (int r = 0; r < o.repeat; ++r) {
    for (size_t c = 0; c < cases.size(); ++c) {
      if (!o.warm) drop_cache(inputs);
      ::sync();
      times[c].push_back(seconds(cases[c].run));
    }
  }
  std::printf("%d x %zu MiB, %d threads, queue %d, %s cache, median of %d\n", o.files, o.mib, o.threads, o.queue,
              o.warm ? "warm" : "cold", o.repeat);
  for (size_t c = 0; c < cases.size(); ++c) {
    const double bytes = cases[c].write ? double(file_bytes) : total;
    std::printf("  %-16s %6.2f s  %6.2f GB/s\n", cases[c].name, median(times[c]), bytes / median(times[c]) / 1e9);
  }
  for (int fd : buffered) ::close(fd);
  for (int fd : direct) ::close(fd);
  ::unlink(output.c_str());
  return 0;
}
