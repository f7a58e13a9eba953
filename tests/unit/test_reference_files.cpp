// Files written by the real safetensors library (tests/fixtures/make_fixtures.py)
// read back with the values that library was given.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/dtype_names.hpp"
#include "io/checkpoint.hpp"

namespace {

const std::string kDir = std::string(COCKTAIL_FIXTURES_DIR) + "/safetensors/";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class T>
double element(const std::string& bytes, size_t i) {
  T v;
  std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
  return static_cast<double>(v);
}

double value_at(cocktail::DType dtype, const std::string& bytes, size_t i) {
  using cocktail::DType;
  switch (dtype) {
    case DType::F32: return element<float>(bytes, i);
    case DType::F64: return element<double>(bytes, i);
    case DType::F16: return element<_Float16>(bytes, i);
    case DType::I64: return element<int64_t>(bytes, i);
    case DType::U8: return element<uint8_t>(bytes, i);
    case DType::BOOL: return element<uint8_t>(bytes, i);
    default: ADD_FAILURE() << "unexpected dtype"; return 0;
  }
}

TEST(ReferenceFiles, PythonSafetensorsFileReadsBackExactly) {
  const auto expected = nlohmann::json::parse(slurp(kDir + "python_written.json"));
  const auto ckpt = cocktail::Checkpoint::open(kDir + "python_written.safetensors");
  ASSERT_EQ(ckpt.tensors().size(), expected.size());
  EXPECT_EQ(ckpt.files()[0].header.metadata.at("format"), "pt");
  const std::string file = slurp(kDir + "python_written.safetensors");
  const std::map<std::string, std::string> numpy_name = {
      {"F32", "float32"}, {"F64", "float64"}, {"F16", "float16"},
      {"I64", "int64"},   {"U8", "uint8"},    {"BOOL", "bool"}};
  for (const auto& [name, want] : expected.items()) {
    const auto* t = ckpt.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(numpy_name.at(std::string(cocktail::safetensors_name(t->info.dtype))),
              want["dtype"].get<std::string>()) << name;
    EXPECT_EQ(t->info.shape, want["shape"].get<std::vector<uint64_t>>()) << name;
    const std::string bytes = file.substr(t->file_offset(), t->info.nbytes());
    const auto& values = want["values"];
    ASSERT_EQ(t->info.numel(), values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(value_at(t->info.dtype, bytes, i),
                values[i].is_boolean() ? values[i].get<bool>() : values[i].get<double>())
          << name << "[" << i << "]";
  }
}

}  // namespace
