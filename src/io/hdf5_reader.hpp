#pragma once
// The datasets of an HDF5 file, found by reading its structures ourselves:
// the superblock, object headers, groups (symbol tables and compact link
// messages) and the few messages a dataset needs. Checkpoints only need
// where each dataset's bytes lie, and the HDF5 library is not hardened
// against hostile files (it crashes on many), so untrusted files never
// reach it: every address here is checked against the file before it is
// followed, every structure is bounded, and anything outside this subset
// (chunked or filtered data, dense groups, shared types) is refused by
// name. Keras and h5py write this subset by default.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cocktail {

struct Hdf5Type {
  enum class Class { FixedPoint, Float, String, Opaque, Enum, Other };
  Class cls = Class::Other;
  int code = -1;           // the HDF5 class number, for messages
  uint32_t size = 0;       // bytes per element
  bool little_endian = true;
  bool is_signed = false;  // fixed point
  uint16_t bit_offset = 0, precision = 0;
  // float: the bit fields and bias
  uint8_t sign_bit = 0, exponent_bit = 0, exponent_bits = 0, mantissa_bit = 0, mantissa_bits = 0;
  uint32_t exponent_bias = 0;
};

struct Hdf5Dataset {
  std::string name;  // path from the root, without the leading '/': "layers/dense/vars/0"
  Hdf5Type type;
  std::vector<uint64_t> shape;  // empty for a scalar
  // Absolute byte range of the data in the file (contiguous or compact
  // storage); 0 and 0 for a dataset with no elements.
  uint64_t offset = 0, bytes = 0;
  // The dataset's "dtype" attribute when it is a string (Keras writes
  // "bfloat16" beside 16-bit opaque data).
  std::optional<std::string> dtype_attribute;
};

// Reads `n` bytes at `offset` into `dst` (the caller has checked the range
// lies inside the file).
using Hdf5ReadAt = std::function<void(uint64_t offset, size_t n, void* dst)>;

// Where the superblock starts: at 0, or after a user block at 512, 1024,
// 2048, ... bytes; nullopt when there is no HDF5 signature at any of them.
std::optional<uint64_t> find_hdf5_signature(uint64_t file_size, const Hdf5ReadAt& read);

// Every dataset of the file of `file_size` bytes, in name order. Throws
// cocktail::Error starting with `label` naming the object and the rule:
// not an HDF5 file, a structure past the end of the file or looping back,
// a layout, message or group storage outside the subset read here.
std::vector<Hdf5Dataset> read_hdf5_datasets(uint64_t file_size, const Hdf5ReadAt& read, const std::string& label);

}  // namespace cocktail
