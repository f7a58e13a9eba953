// safetensors header validation: one table row per format rule. Files are
// written byte by byte here, independently of any cocktail writer, so a bug
// shared by reader and writer cannot hide.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_file.hpp"
#include "io/json_strict.hpp"
#include "io/safetensors.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// Length prefix, the header text exactly as given, then `data` zero bytes.
std::string st_file(const std::string& header, size_t data) {
  return le64(header.size()) + header + std::string(data, '\0');
}

// One tensor entry: "name":{"dtype":..,"shape":..,"data_offsets":[b,e]}.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  uint64_t begin, uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// An entry with hand-written fields, for malformed ones.
std::string raw_entry(const std::string& name, const std::string& body) {
  return "\"" + name + "\":{" + body + "}";
}

std::string obj(const std::vector<std::string>& parts) {
  std::string s = "{";
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "," : "") + parts[i];
  return s + "}";
}

const std::string kW = entry("w", "F32", "[3,4]", 0, 48);  // a valid 48-byte tensor

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cocktail_st_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

struct Case {
  const char* name;
  std::string bytes;
  const char* error;  // nullptr: must be accepted; else a substring of the message
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// clang-format off
const std::vector<Case> kCases = {
  // ---- accepted ----
  {"one_tensor", st_file(obj({kW}), 48), nullptr},
  {"empty_header", st_file("{}", 0), nullptr},
  {"metadata", st_file(obj({"\"__metadata__\":{\"format\":\"pt\"}", kW}), 48), nullptr},
  {"leading_whitespace", st_file(" \n\t\r" + obj({kW}), 48), nullptr},
  {"trailing_space_padding", st_file(obj({kW}) + "     ", 48), nullptr},
  {"zero_size_tensor", st_file(obj({entry("e", "F32", "[0,5]", 0, 0), kW}), 48), nullptr},
  {"zero_size_shared_offset", st_file(obj({entry("e1", "BF16", "[0]", 48, 48), kW,
                                           entry("e2", "I8", "[7,0]", 48, 48)}), 48), nullptr},
  {"rank0_tensor", st_file(obj({entry("s", "F64", "[]", 0, 8)}), 8), nullptr},
  {"keys_not_in_offset_order", st_file(obj({entry("b", "BF16", "[4]", 48, 56), kW}), 56), nullptr},
  {"f4_whole_bytes", st_file(obj({entry("q", "F4", "[4]", 0, 2)}), 2), nullptr},
  {"f6_whole_bytes", st_file(obj({entry("q", "F6_E2M3", "[4]", 0, 3)}), 3), nullptr},
  {"many_dtypes", st_file(obj({entry("a", "BOOL", "[3]", 0, 3), entry("b", "I64", "[1]", 3, 11),
                               entry("c", "F8_E4M3", "[2]", 11, 13), entry("d", "C64", "[1]", 13, 21)}),
                          21), nullptr},
  {"utf8_name", st_file(obj({entry("w\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "U8", "[1]", 0, 1)}), 1), nullptr},
  {"minus_zero_dim", st_file(obj({raw_entry("z", "\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,0]")}), 0), nullptr},

  // ---- file framing ----
  {"empty_file", "", "file is 0 bytes, shorter than the 8-byte"},
  {"short_file", std::string(7, '\0'), "file is 7 bytes, shorter than the 8-byte"},
  {"header_over_limit", le64(100'000'001) + "{}", "header length 100000001 exceeds the limit"},
  {"header_past_eof", le64(100) + "{}", "header length 100 runs past end of file (file is 10 bytes)"},
  {"trailing_bytes", st_file(obj({kW}), 50), "2 trailing bytes after the last tensor"},
  {"trailing_bytes_no_tensors", st_file("{}", 1), "1 trailing bytes"},
  {"missing_bytes", st_file(obj({kW}), 40), "8 bytes missing"},

  // ---- encoding and JSON ----
  {"invalid_utf8_byte", st_file("{\"w\xff\":{}}", 0), "header is not valid UTF-8 (bad byte at offset 3)"},
  {"overlong_utf8", st_file("{\"\xc0\xaf\":{}}", 0), "not valid UTF-8"},
  {"surrogate_utf8", st_file("{\"\xed\xa0\x80\":{}}", 0), "not valid UTF-8"},
  {"truncated_utf8", st_file("{\"a\":\"\xe2\x82\"}", 0), "not valid UTF-8"},
  {"beyond_unicode", st_file("{\"\xf4\x90\x80\x80\":{}}", 0), "not valid UTF-8"},
  {"bad_json", st_file("{\"w\": }", 0), "header is not valid JSON"},
  {"nul_padding", st_file("{}" + std::string(2, '\0'), 0), "header is not valid JSON"},
  {"nul_then_garbage", st_file("{}" + std::string(1, '\0') + "xyz", 0), "header is not valid JSON: NUL byte at offset 2"},
  {"two_json_values", st_file("{} {}", 0), "header is not valid JSON"},
  {"number_past_double", st_file("{\"w\":-1e400}", 0), "header is not valid JSON: number overflow parsing '-1e400'"},
  {"top_level_array", st_file("[]", 0), "header is not a JSON object"},
  {"duplicate_tensor", st_file(obj({kW, kW}), 48), "duplicate key 'w'"},
  {"duplicate_field", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]")}), 48),
   "duplicate key 'dtype' inside 'w'"},
  {"duplicate_metadata_key", st_file(obj({"\"__metadata__\":{\"format\":\"pt\",\"format\":\"tf\"}", kW}), 48),
   "duplicate key 'format' inside '__metadata__'"},
  {"duplicate_metadata", st_file(obj({"\"__metadata__\":{}", "\"__metadata__\":{}"}), 0), "duplicate key '__metadata__'"},
  // 128 levels (the object and 127 arrays) parse; one more is refused before
  // anything walks the value (200,000 levels overflowed the stack in dump()).
  {"nesting_128_levels", st_file("{\"w\":" + std::string(127, '[') + std::string(127, ']') + "}", 0),
   "tensor 'w': entry is [[["},
  {"nesting_129_levels", st_file("{\"w\":" + std::string(128, '[') + std::string(128, ']') + "}", 0),
   "header nests arrays and objects deeper than 128 levels"},
  {"nesting_200000_levels", st_file("{\"w\":" + std::string(200000, '[') + std::string(200000, ']') + "}", 0),
   "header nests arrays and objects deeper than 128 levels"},

  // ---- __metadata__ ----
  {"metadata_not_object", st_file(obj({"\"__metadata__\":[\"a\"]", kW}), 48), "__metadata__ is not an object"},
  {"metadata_number_value", st_file(obj({"\"__metadata__\":{\"n\":1}", kW}), 48), "__metadata__ value for key 'n' is 1, not a string"},
  {"metadata_nested_value", st_file(obj({"\"__metadata__\":{\"a\":{\"b\":\"c\"}}", kW}), 48), "__metadata__ value for key 'a'"},

  // ---- tensor entry fields ----
  {"entry_not_object", st_file("{\"w\":5}", 0), "tensor 'w': entry is 5, not an object"},
  {"missing_dtype", st_file(obj({raw_entry("w", "\"shape\":[3,4],\"data_offsets\":[0,48]")}), 48), "tensor 'w': missing field 'dtype'"},
  {"missing_shape", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"data_offsets\":[0,48]")}), 48), "tensor 'w': missing field 'shape'"},
  {"missing_offsets", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4]")}), 48), "tensor 'w': missing field 'data_offsets'"},
  {"extra_field", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48],\"foo\":1")}), 48),
   "tensor 'w': unexpected field 'foo'"},
  {"unknown_dtype", st_file(obj({entry("w", "F12", "[3,4]", 0, 48)}), 48), "tensor 'w': unknown dtype 'F12'"},
  {"lowercase_dtype", st_file(obj({entry("w", "f32", "[3,4]", 0, 48)}), 48), "unknown dtype 'f32'"},
  {"dtype_not_string", st_file(obj({raw_entry("w", "\"dtype\":32,\"shape\":[3,4],\"data_offsets\":[0,48]")}), 48), "dtype is 32, not a string"},
  {"shape_not_array", st_file(obj({entry("w", "F32", "12", 0, 48)}), 48), "shape is 12, not an array"},
  {"shape_float", st_file(obj({entry("w", "F32", "[3.0,4]", 0, 48)}), 48), "tensor 'w': shape[0] is 3.0, not a non-negative"},
  {"shape_exponent", st_file(obj({entry("w", "F32", "[3,4e0]", 0, 48)}), 48), "shape[1] is 4.0, not a non-negative"},
  {"shape_negative", st_file(obj({entry("w", "F32", "[-3,-4]", 0, 48)}), 48), "shape[0] is -3, not a non-negative"},
  {"shape_string", st_file(obj({entry("w", "F32", "[\"3\",4]", 0, 48)}), 48), "shape[0] is \"3\", not a non-negative"},
  {"shape_null", st_file(obj({entry("w", "F32", "[3,null]", 0, 48)}), 48), "shape[1] is null"},
  {"shape_past_u64", st_file(obj({entry("w", "F32", "[18446744073709551616]", 0, 48)}), 48), "shape[0] is 1.8446744073709552e+19"},
  {"offsets_not_array", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":0")}), 48),
   "data_offsets is 0, not an array of exactly 2"},
  {"offsets_one", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[48]")}), 48),
   "data_offsets is [48], not an array of exactly 2"},
  {"offsets_three", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48,48]")}), 48),
   "data_offsets is [0,48,48], not an array of exactly 2"},
  {"offsets_negative", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[-1,47]")}), 48),
   "data_offsets[0] is -1"},
  {"offsets_float", st_file(obj({raw_entry("w", "\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48.0]")}), 48),
   "data_offsets[1] is 48.0"},
  {"offsets_reversed", st_file(obj({entry("w", "F32", "[0]", 48, 0)}), 48), "data_offsets [48, 0) end before they begin"},

  // ---- sizes ----
  {"size_mismatch", st_file(obj({entry("model.embed.weight", "F32", "[3,4]", 0, 10)}), 10),
   "tensor 'model.embed.weight': data_offsets [0, 10) hold 10 bytes but shape [3, 4] of F32 needs 48"},
  {"rank0_size_mismatch", st_file(obj({entry("s", "F64", "[]", 0, 0)}), 0), "hold 0 bytes but shape [] of F64 needs 8"},
  {"numel_overflow", st_file(obj({entry("w", "U8", "[4294967296,4294967296,0]", 0, 0)}), 0),
   "shape [4294967296, 4294967296, 0] of U8 overflows a 64-bit element count"},
  {"bytes_overflow", st_file(obj({entry("w", "F32", "[4611686018427387904]", 0, 0)}), 0),
   "shape [4611686018427387904] of F32 overflows a 64-bit size"},
  {"sub_byte_remainder", st_file(obj({entry("q", "F4", "[3]", 0, 2)}), 2), "shape [3] of F4 is 12 bits, not a whole number of bytes"},

  // ---- layout ----
  {"gap_at_start", st_file(obj({entry("w", "F32", "[3,4]", 4, 52)}), 52),
   "tensor 'w' [4, 52) leaves a gap of 4 bytes at the start"},
  {"gap_between", st_file(obj({kW, entry("b", "U8", "[8]", 50, 58)}), 58),
   "gap of 2 bytes between tensor 'w' [0, 48) and tensor 'b' [50, 58)"},
  {"overlap", st_file(obj({kW, entry("b", "F32", "[12]", 40, 88)}), 88),
   "tensor 'b' [40, 88) overlaps tensor 'w' [0, 48)"},
  {"zero_size_inside_other", st_file(obj({kW, entry("z", "F32", "[0]", 10, 10)}), 48),
   "tensor 'z' [10, 10) overlaps tensor 'w' [0, 48)"},
  {"same_range_twice", st_file(obj({kW, entry("v", "F32", "[12]", 0, 48)}), 48),
   "tensor 'w' [0, 48) overlaps tensor 'v' [0, 48)"},

  // ---- messages stay one line ----
  {"control_char_in_name", st_file(obj({entry("a\\nb", "X", "[1]", 0, 1)}), 1), "tensor 'a\\x0Ab': unknown dtype 'X'"},
};
// clang-format on

class SafetensorsRules : public TempDirTest, public ::testing::WithParamInterface<Case> {};

TEST_P(SafetensorsRules, AcceptOrRejectWithReason) {
  const Case& c = GetParam();
  const fs::path path = dir_ / "a.safetensors";
  write_bytes(path, c.bytes);
  if (!c.error) {
    EXPECT_NO_THROW(read_safetensors_header(path.string()));
    return;
  }
  try {
    read_safetensors_header(path.string());
    ADD_FAILURE() << "accepted, expected: " << c.error;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(c.error), std::string::npos) << "message: " << msg;
    EXPECT_EQ(msg.rfind(path.string() + ": ", 0), 0u) << "message: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message: " << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, SafetensorsRules, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Safetensors, ParsedFields) {
  const std::string header =
      obj({entry("b", "BF16", "[2,2]", 48, 56), "\"__metadata__\":{\"format\":\"pt\"}",
           entry("s", "F64", "[]", 56, 64), kW}) + "   ";
  const SafetensorsHeader h = parse_safetensors_header(header, 8 + header.size() + 64, "x");
  EXPECT_EQ(h.header_len, header.size());
  EXPECT_EQ(h.data_start(), 8 + header.size());
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "w");  // by offset, not by key
  EXPECT_EQ(h.tensors[1].name, "b");
  EXPECT_EQ(h.tensors[2].name, "s");
  EXPECT_EQ(h.tensors[1].dtype, DType::BF16);
  EXPECT_EQ(h.tensors[1].shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(h.tensors[1].begin, 48u);
  EXPECT_EQ(h.tensors[1].nbytes(), 8u);
  EXPECT_EQ(h.tensors[0].numel(), 12u);
  EXPECT_EQ(h.tensors[2].numel(), 1u);  // rank 0
  EXPECT_EQ(h.metadata.at("format"), "pt");
  ASSERT_NE(h.find("s"), nullptr);
  EXPECT_EQ(h.find("s")->end, 64u);
  EXPECT_EQ(h.find("nope"), nullptr);
}

TEST(Safetensors, ParseChecksFileSize) {
  EXPECT_THROW(parse_safetensors_header("{}", 9, "x"), Error);  // 8 + 2 > 9
  EXPECT_NO_THROW(parse_safetensors_header("{}", 10, "x"));
}

// tokenizer.json is parsed keeping its keys in file order (the vocabulary is
// written back as read), with the same refusals as a safetensors header.
TEST(StrictOrderedJson, KeepsFileOrderAndRefusesDuplicates) {
  std::string vocab = "{\"model\":{\"vocab\":{";
  for (int i = 0; i < 50000; ++i) vocab += (i ? ",\"t" : "\"t") + std::to_string(49999 - i) + "\":" + std::to_string(i);
  vocab += "}},\"added_tokens\":[]}";
  const auto doc = cocktail::parse_strict_ordered_json(vocab, "tokenizer.json", "the tokenizer");
  EXPECT_EQ(doc.begin().key(), "model");
  const auto& v = doc["model"]["vocab"];
  ASSERT_EQ(v.size(), 50000u);
  int i = 0;
  for (const auto& [token, id] : v.items()) {
    ASSERT_EQ(token, "t" + std::to_string(49999 - i)) << i;
    ASSERT_EQ(id.get<int>(), i++);
  }
  try {
    cocktail::parse_strict_ordered_json("{\"model\":{\"vocab\":{\"a\":0,\"b\":1,\"a\":2}}}", "tokenizer.json", "the tokenizer");
    FAIL() << "a duplicate token was accepted";
  } catch (const cocktail::Error& e) {
    EXPECT_STREQ(e.what(), "tokenizer.json: the tokenizer has duplicate key 'a' inside 'vocab'");
  }
}

TEST(DTypeNames, SafetensorsRoundTrip) {
  for (const char* name : {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                           "I32", "U32", "F32", "F64", "I64", "U64", "F4", "F6_E2M3", "F6_E3M2",
                           "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64"}) {
    auto t = dtype_from_safetensors_name(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(safetensors_name(*t), name);
  }
  EXPECT_FALSE(dtype_from_safetensors_name("bf16"));
  EXPECT_FALSE(dtype_from_safetensors_name(""));
}

TEST(DTypeNames, TorchNames) {
  EXPECT_EQ(dtype_from_torch_name("bfloat16"), DType::BF16);
  EXPECT_EQ(dtype_from_torch_name("float16"), DType::F16);
  EXPECT_EQ(dtype_from_torch_name("float32"), DType::F32);
  EXPECT_EQ(dtype_from_torch_name("float64"), DType::F64);
  EXPECT_EQ(dtype_from_torch_name("float8_e4m3fn"), DType::F8_E4M3);
  EXPECT_EQ(dtype_from_torch_name("float8_e5m2"), DType::F8_E5M2);
  for (const char* s : {"bf16"}) EXPECT_EQ(dtype_from_torch_name(s), DType::BF16);
  for (const char* s : {"fp16", "f16", "half"}) EXPECT_EQ(dtype_from_torch_name(s), DType::F16);
  for (const char* s : {"fp32", "f32", "float"}) EXPECT_EQ(dtype_from_torch_name(s), DType::F32);
  for (const char* s : {"fp64", "f64", "double"}) EXPECT_EQ(dtype_from_torch_name(s), DType::F64);
  EXPECT_FALSE(dtype_from_torch_name("BFloat16"));
  EXPECT_FALSE(dtype_from_torch_name("BF16"));
  EXPECT_FALSE(dtype_from_torch_name("int8"));
  EXPECT_EQ(torch_name(DType::BF16), "bfloat16");
  EXPECT_EQ(torch_name(DType::F16), "float16");
  EXPECT_EQ(torch_name(DType::F32), "float32");
  EXPECT_EQ(torch_name(DType::F64), "float64");
  EXPECT_EQ(torch_name(DType::F8_E4M3), "float8_e4m3fn");
  EXPECT_EQ(torch_name(DType::F8_E5M2), "float8_e5m2");
}

class FileTest : public TempDirTest {};

TEST_F(FileTest, WriteReadAndEof) {
  const std::string path = (dir_ / "f.bin").string();
  {
    File f(path, File::Mode::CreateReadWrite);
    f.pwrite_full("hello world", 11, 0);
    EXPECT_EQ(f.size(), 11u);
  }
  {
    // CreateReadWrite must not truncate: ranks open the same output file.
    File f(path, File::Mode::CreateReadWrite);
    EXPECT_EQ(f.size(), 11u);
    f.pwrite_full("W", 1, 6);
  }
  File f(path, File::Mode::Read);
  char buf[11];
  f.pread_full(buf, 11, 0);
  EXPECT_EQ(std::string(buf, 11), "hello World");
  try {
    f.pread_full(buf, 4, 9);
    ADD_FAILURE() << "read past EOF succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": unexpected end of file reading 4 bytes at offset 9");
  }
  File moved = std::move(f);
  EXPECT_TRUE(moved.is_open());
  EXPECT_FALSE(f.is_open());  // NOLINT(bugprone-use-after-move)
}

TEST_F(FileTest, TruncateAndSync) {
  const std::string path = (dir_ / "t.bin").string();
  File f(path, File::Mode::CreateReadWrite);
  f.truncate(4096);
  f.sync();
  EXPECT_EQ(f.size(), 4096u);
}

// Model configs are walked (and dumped into messages) recursively: deep
// nesting is refused when read. 100,000 levels overflowed the stack.
TEST_F(FileTest, JsonObjectRefusesDeepNesting) {
  const fs::path path = dir_ / "config.json";
  write_bytes(path, "{\"a\":" + std::string(129, '[') + std::string(129, ']') + "}");
  try {
    read_json_object(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path.string() + ": JSON nests arrays and objects deeper than 128 levels");
  }
  write_bytes(path, "{\"a\":" + std::string(127, '[') + std::string(127, ']') + "}");
  EXPECT_EQ(read_json_object(path)["a"].size(), 1u);
}

TEST_F(FileTest, OpenErrorNamesFileAndReason) {
  const std::string path = (dir_ / "missing.bin").string();
  try {
    File f(path, File::Mode::Read);
    ADD_FAILURE() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot open for reading: No such file or directory");
  }
}

}  // namespace
}  // namespace cocktail
