// libFuzzer target: the bytes are a whole HDF5 file, read by the checkpoint
// reader's HDF5 parser (io/hdf5_reader.hpp), which untrusted .h5 files
// reach before anything else does. cocktail::Error is the expected answer
// to bad input; a crash, a hang, a sanitizer report or an accepted dataset
// whose data lies outside the file is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "io/hdf5_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto datasets = cocktail::read_hdf5_datasets(
        size, [&](uint64_t at, size_t n, void* dst) { std::memcpy(dst, data + at, n); }, "fuzz.h5");
    for (const cocktail::Hdf5Dataset& d : datasets)
      if (d.offset > size || d.bytes > size - d.offset) {
        std::fprintf(stderr, "fuzz_hdf5: dataset '%s' accepted with data outside the file\n", d.name.c_str());
        std::abort();
      }
  } catch (const cocktail::Error&) {
    // Refused with a message: the expected outcome for bad input.
  }
  return 0;
}
