#pragma once
// A valid safetensors file holding `n` one-element F32 tensors named
// "model.layers.I.w" (value I), for tests and benchmarks of headers with many
// entries. Written byte by byte, independently of cocktail's writer. Each
// entry is at most 87 bytes, so a million tensors stay under the
// 100,000,000-byte header limit.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace cocktail::test {

inline std::string many_tensors_header(uint64_t n) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
  h.reserve(n * 88 + 64);
  for (uint64_t i = 0; i < n; ++i) {
    h += ",\"model.layers.";
    h += std::to_string(i);
    h += ".w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[";
    h += std::to_string(4 * i);
    h += ',';
    h += std::to_string(4 * i + 4);
    h += "]}";
  }
  h += '}';
  return h;
}

inline void write_many_tensors(const std::filesystem::path& path, uint64_t n) {
  const std::string header = many_tensors_header(n);
  std::string file(8 + header.size() + 4 * n, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  std::memcpy(file.data() + 8, header.data(), header.size());
  char* data = file.data() + 8 + header.size();
  for (uint64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(i);
    std::memcpy(data + 4 * i, &v, 4);
  }
  std::ofstream out(path, std::ios::binary);
  out.write(file.data(), static_cast<std::streamsize>(file.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace cocktail::test
