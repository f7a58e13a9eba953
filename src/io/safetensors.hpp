#pragma once
// safetensors header parsing and validation. Every rule of the format (see
// docs/formats.md) is checked here before a byte of tensor data is trusted.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.hpp"

namespace cocktail {

// Largest header the reference implementation accepts.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  uint64_t begin = 0;  // [begin, end) relative to the start of the data buffer
  uint64_t end = 0;

  uint64_t numel() const;  // product of shape; 1 for rank-0
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t header_len = 0;                      // N: bytes of JSON after the 8-byte prefix
  std::vector<TensorInfo> tensors;              // sorted by data offset
  std::map<std::string, std::string> metadata;  // "__metadata__"

  uint64_t data_start() const { return 8 + header_len; }
  const TensorInfo* find(std::string_view name) const;  // nullptr when absent
};

// "[3, 4]"; "[]" for rank 0. Used in every message that shows a shape.
std::string format_shape(const std::vector<uint64_t>& shape);

// Validates `json` (the N header bytes) against a file of `file_size` bytes.
// Throws cocktail::Error whose message starts with `file_label` and names the
// offending tensor or rule.
SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t file_size,
                                           const std::string& file_label);

// N, the header length, from `prefix` (the first 8 bytes, little-endian) of a
// file of `file_size` bytes. Throws cocktail::Error when the file is shorter
// than 8 bytes, or N is over the limit or runs past the end of the file.
// read_safetensors_header's check of the prefix, without the file.
uint64_t parse_safetensors_prefix(std::string_view prefix, uint64_t file_size,
                                  const std::string& file_label);

// Reads and validates the header of the file at `path`.
SafetensorsHeader read_safetensors_header(const std::string& path);

}  // namespace cocktail
