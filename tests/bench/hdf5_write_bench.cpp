// hdf5_write_bench: the ways ranks can fill an HDF5 file's datasets, side by
// side in one run, to choose the Keras output's transfer (docs/performance.md):
//   pwrite       contiguous datasets created collectively, allocated early;
//                each rank pwrites its units at H5Dget_offset (what cocktail does)
//   independent  the same datasets, each unit an H5Dwrite of a hyperslab,
//                independent MPI-IO transfers
//   collective   the same, collective transfers (every rank calls H5Dwrite
//                for every unit round, with an empty selection when it has none)
//   chunked      chunked datasets (one unit per chunk), collective transfers
//
//   mpirun -n R hdf5_write_bench DIR [--tensors 16] [--mib 64] [--unit-mib 1] [--repeat 3]
//
// Each case writes TENSORS float32 datasets of MIB MiB into a new file in DIR,
// rank r taking units [r * n / R, (r + 1) * n / R) of each, then syncs the
// file and removes it. Rank 0 prints seconds and GB/s of the slowest rank,
// the median of REPEAT rounds of all four cases in turn.
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string dir;
  int tensors = 16;
  uint64_t mib = 64, unit_mib = 1;
  int repeat = 3;
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "hdf5_write_bench: %s failed\n", what);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

double run_case(const Options& o, const std::string& mode, int rank, int ranks) {
  const std::string path = o.dir + "/hdf5_write_bench_" + mode + ".h5";
  const hsize_t cols = 1024, rows = o.mib * (1 << 20) / 4 / cols, unit_rows = o.unit_mib * (1 << 20) / 4 / cols;
  const hsize_t units = (rows + unit_rows - 1) / unit_rows;
  std::vector<float> buf(unit_rows * cols, 1.5f + rank);

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, true);
  H5Pset_coll_metadata_write(fapl, true);
  // Earlier cases' dirty pages must not be written back on this one's time.
  if (rank == 0) sync();
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = std::chrono::steady_clock::now();
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  check(file >= 0, "H5Fcreate");
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t dims[2] = {rows, cols}, chunk[2] = {unit_rows, cols};
  if (mode == "chunked") {
    H5Pset_chunk(dcpl, 2, chunk);
  } else {
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  }
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  hid_t space = H5Screate_simple(2, dims, nullptr);
  std::vector<hid_t> sets;
  for (int t = 0; t < o.tensors; ++t) {
    sets.push_back(H5Dcreate2(file, ("t" + std::to_string(t)).c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    check(sets.back() >= 0, "H5Dcreate2");
  }
  const hsize_t first = units * rank / ranks, last = units * (rank + 1) / ranks;
  const hsize_t rounds = (units + ranks - 1) / ranks;
  if (mode == "pwrite") {
    std::vector<haddr_t> offsets;
    for (hid_t d : sets) offsets.push_back(H5Dget_offset(d));
    H5Fflush(file, H5F_SCOPE_GLOBAL);
    const int fd = open(path.c_str(), O_WRONLY);
    check(fd >= 0, "open");
    for (size_t t = 0; t < sets.size(); ++t)
      for (hsize_t u = first; u < last; ++u) {
        const hsize_t n = std::min(unit_rows, rows - u * unit_rows) * cols * 4;
        check(pwrite(fd, buf.data(), n, static_cast<off_t>(offsets[t] + u * unit_rows * cols * 4)) == static_cast<ssize_t>(n), "pwrite");
      }
    fsync(fd);
    close(fd);
  } else {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, mode == "independent" ? H5FD_MPIO_INDEPENDENT : H5FD_MPIO_COLLECTIVE);
    for (hid_t d : sets) {
      // Collective transfers need every rank in every call: as many rounds as
      // the largest share, an empty selection where a rank has no unit left.
      const hsize_t calls = mode == "independent" ? last - first : rounds;
      for (hsize_t k = 0; k < calls; ++k) {
        const hsize_t u = first + k;
        hid_t fs = H5Dget_space(d);
        hsize_t start[2] = {u * unit_rows, 0}, count[2] = {u < last ? std::min(unit_rows, rows - u * unit_rows) : 0, cols};
        hid_t ms = H5Screate_simple(2, count[0] ? count : chunk, nullptr);
        if (count[0]) {
          H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr);
        } else {
          H5Sselect_none(fs);
          H5Sselect_none(ms);
        }
        check(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, dxpl, buf.data()) >= 0, "H5Dwrite");
        H5Sclose(ms);
        H5Sclose(fs);
      }
    }
    H5Pclose(dxpl);
  }
  for (hid_t d : sets) H5Dclose(d);
  H5Sclose(space);
  H5Pclose(dcpl);
  H5Fclose(file);
  H5Pclose(fapl);
  if (mode != "pwrite" && rank == 0) {
    const int fd = open(path.c_str(), O_RDONLY);
    fsync(fd);
    close(fd);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double slowest = 0;
  MPI_Allreduce(&s, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) std::remove(path.c_str());
  return slowest;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  Options o;
  if (argc < 2) {
    if (rank == 0) std::fprintf(stderr, "usage: hdf5_write_bench DIR [--tensors N] [--mib M] [--unit-mib U]\n");
    MPI_Finalize();
    return 2;
  }
  o.dir = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--tensors") o.tensors = std::atoi(argv[i + 1]);
    else if (k == "--mib") o.mib = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--unit-mib") o.unit_mib = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--repeat") o.repeat = std::atoi(argv[i + 1]);
  }
  const double gb = o.tensors * o.mib * double(1 << 20) / 1e9;
  if (rank == 0)
    std::printf("%d ranks, %d float32 datasets of %llu MiB (%.2f GB), %llu MiB units\n", ranks, o.tensors,
                static_cast<unsigned long long>(o.mib), gb, static_cast<unsigned long long>(o.unit_mib));
  // Rounds of every case in turn; the median of each (shared disks are noisy).
  const std::vector<std::string> modes = {"pwrite", "independent", "collective", "chunked"};
  std::vector<std::vector<double>> times(modes.size());
  for (int round = 0; round < o.repeat; ++round)
    for (size_t m = 0; m < modes.size(); ++m) times[m].push_back(run_case(o, modes[m], rank, ranks));
  for (size_t m = 0; m < modes.size(); ++m) {
    std::sort(times[m].begin(), times[m].end());
    const double s = times[m][times[m].size() / 2];
    if (rank == 0) std::printf("  %-12s %7.2f s  %6.2f GB/s\n", modes[m].c_str(), s, gb / s);
  }
  MPI_Finalize();
  return 0;
}
