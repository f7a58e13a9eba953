#pragma once
// Test-side model files, written without any cocktail code: a hand-rolled
// safetensors writer and its own float rounding, so the merge is checked
// against an independent implementation of the format and the arithmetic.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace cocktail::test {

struct FixtureTensor {
  std::string name;
  std::string dtype;  // safetensors name
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

inline void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << contents;
}

// A fresh folder /tmp/cocktail-PREFIX-XXXXXX, removed with everything in it
// when it goes out of scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/cocktail-" + prefix + "-XXXXXX";
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A safetensors file's tensor bytes, after its header (whose metadata says
// how the weights were chosen and names the models as written).
inline std::string tensor_bytes(const std::filesystem::path& file) {
  const std::string all = read_file(file);
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | static_cast<unsigned char>(all[static_cast<size_t>(i)]);
  return all.substr(8 + header);
}

inline void write_safetensors(const std::filesystem::path& path,
                              const std::vector<FixtureTensor>& tensors) {
  std::string json = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    json += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) json += (i ? "," : "") + std::to_string(t.shape[i]);
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," +
            std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  json += "}";
  std::string file(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(n >> (8 * i));
  file += json;
  for (const auto& t : tensors) file.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  write_file(path, file);
}

// Round to nearest bfloat16, ties to even, by comparing distances in double.
inline uint16_t to_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return static_cast<uint16_t>((u >> 16) | 0x40);
  if (std::isinf(x)) return static_cast<uint16_t>(u >> 16);
  const uint32_t down = u & 0xFFFF0000u, up = down + 0x10000u;
  const double dx = x, dd = std::bit_cast<float>(down);
  const double du = std::isinf(std::bit_cast<float>(up)) || std::isnan(std::bit_cast<float>(up))
                        ? std::copysign(std::ldexp(1.0, 128), dx)  // rounding past the largest bf16
                        : static_cast<double>(std::bit_cast<float>(up));
  const double ed = std::fabs(dx - dd), eu = std::fabs(du - dx);
  if (ed < eu || (ed == eu && ((down >> 16) & 1) == 0)) return static_cast<uint16_t>(down >> 16);
  return static_cast<uint16_t>(up >> 16);
}

inline float from_bf16(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }
inline uint16_t to_f16(float x) { return std::bit_cast<uint16_t>(static_cast<_Float16>(x)); }
inline float from_f16(uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }

// Deterministic values of a small spread, with NaN/Inf where asked.
inline std::vector<float> values(size_t n, uint64_t seed, size_t nonfinite_every = 0) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (static_cast<float>(s >> 40) / static_cast<float>(1 << 24) - 0.5f) * 0.2f;
    if (nonfinite_every && i % nonfinite_every == 3) v[i] = (i & 8) ? NAN : INFINITY;
  }
  return v;
}

inline FixtureTensor float_tensor(const std::string& name, const std::string& dtype,
                                  std::vector<uint64_t> shape, const std::vector<float>& v) {
  FixtureTensor t{name, dtype, std::move(shape), {}};
  for (float x : v) {
    if (dtype == "F32") {
      const uint32_t b = std::bit_cast<uint32_t>(x);
      for (int i = 0; i < 4; ++i) t.bytes.push_back(static_cast<uint8_t>(b >> (8 * i)));
    } else {
      const uint16_t b = dtype == "BF16" ? to_bf16(x) : to_f16(x);
      t.bytes.push_back(static_cast<uint8_t>(b));
      t.bytes.push_back(static_cast<uint8_t>(b >> 8));
    }
  }
  return t;
}

// The value a tensor element holds once stored (what the merge reads).
inline float stored_value(const FixtureTensor& t, size_t i) {
  if (t.dtype == "F32") {
    uint32_t b;
    std::memcpy(&b, &t.bytes[4 * i], 4);
    return std::bit_cast<float>(b);
  }
  const uint16_t b = static_cast<uint16_t>(t.bytes[2 * i] | (t.bytes[2 * i + 1] << 8));
  return t.dtype == "BF16" ? from_bf16(b) : from_f16(b);
}

}  // namespace cocktail::test
