#include "io/keras_weights.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/hdf5_reader.hpp"
#include "io/json_strict.hpp"

namespace cocktail {
namespace fs = std::filesystem;

namespace {

bool float_fields(const Hdf5Type& t, int sign, int exp_at, int exp_bits, int man_bits, uint32_t bias) {
  return t.sign_bit == sign && t.exponent_bit == exp_at && t.exponent_bits == exp_bits && t.mantissa_bit == 0 &&
         t.mantissa_bits == man_bits && t.exponent_bias == bias && t.bit_offset == 0 && t.precision == 8 * t.size;
}

// The tensor dtype of a dataset, as Keras and h5py store numpy's types.
DType map_dtype(const Hdf5Dataset& d, const std::string& label) {
  const Hdf5Type& t = d.type;
  const std::string what = label + ": dataset " + quote_name(d.name);
  if (d.dtype_attribute) {
    // Keras writes ml_dtypes' bfloat16 as 2-byte opaque data with this mark.
    const std::string& a = *d.dtype_attribute;
    const bool raw = t.cls == Hdf5Type::Class::Opaque || t.cls == Hdf5Type::Class::FixedPoint;
    if (a == "bfloat16" && raw && t.size == 2) return DType::BF16;
    if (a == "float8_e4m3fn" && raw && t.size == 1) return DType::F8_E4M3;
    if (a == "float8_e5m2" && raw && t.size == 1) return DType::F8_E5M2;
    throw Error(what + " has a dtype attribute " + quote_name(a) + " on " + std::to_string(t.size) +
                "-byte data, which this code does not know (bfloat16, float8_e4m3fn, float8_e5m2 are read)");
  }
  if (!t.little_endian && t.size > 1)
    throw Error(what + " is big-endian; only little-endian data is read");
  if (t.cls == Hdf5Type::Class::Float) {
    if (t.size == 2 && float_fields(t, 15, 10, 5, 10, 15)) return DType::F16;
    if (t.size == 2 && float_fields(t, 15, 7, 8, 7, 127)) return DType::BF16;
    if (t.size == 4 && float_fields(t, 31, 23, 8, 23, 127)) return DType::F32;
    if (t.size == 8 && float_fields(t, 63, 52, 11, 52, 1023)) return DType::F64;
  }
  if (t.cls == Hdf5Type::Class::FixedPoint && t.bit_offset == 0 && t.precision == 8 * t.size) {
    switch (t.size) {
      case 1: return t.is_signed ? DType::I8 : DType::U8;
      case 2: return t.is_signed ? DType::I16 : DType::U16;
      case 4: return t.is_signed ? DType::I32 : DType::U32;
      case 8: return t.is_signed ? DType::I64 : DType::U64;
      default: break;
    }
  }
  if (t.cls == Hdf5Type::Class::Enum && t.size == 1) return DType::BOOL;  // numpy's bool, as h5py stores it
  throw Error(what + " has an HDF5 type this code cannot map to a tensor dtype (class " + std::to_string(t.code) +
              ", " + std::to_string(t.size) + " bytes)");
}

}  // namespace

bool is_hdf5_file(const fs::path& path) {
  try {
    const File f(path.string(), File::Mode::Read);
    return find_hdf5_signature(f.size(), [&](uint64_t at, size_t n, void* dst) { f.pread_full(dst, n, at); })
        .has_value();
  } catch (const Error&) {
    return false;
  }
}

std::vector<TensorInfo> read_keras_weights(const fs::path& path) {
  const std::string label = path.string();
  const File file(label, File::Mode::Read);
  const std::vector<Hdf5Dataset> datasets = read_hdf5_datasets(
      file.size(), [&](uint64_t at, size_t n, void* dst) { file.pread_full(dst, n, at); }, label);
  std::vector<TensorInfo> out;
  for (const Hdf5Dataset& d : datasets) {
    TensorInfo t;
    t.name = d.name;
    t.dtype = map_dtype(d, label);
    t.shape = d.shape;
    t.begin = d.offset;
    t.end = d.offset + d.bytes;
    out.push_back(std::move(t));
  }
  std::stable_sort(out.begin(), out.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  // Two tensors over the same bytes would merge one into the other's.
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i - 1].nbytes() && out[i].nbytes() && out[i].begin < out[i - 1].end)
      throw Error(label + ": the data of datasets " + quote_name(out[i - 1].name) + " and " + quote_name(out[i].name) +
                  " overlap");
  return out;
}

std::string keras_group_of(const std::string& tensor) {
  const size_t slash = tensor.rfind('/');
  return "/" + (slash == std::string::npos ? std::string() : tensor.substr(0, slash));
}

std::map<std::string, std::vector<std::string>> parse_keras_index(std::string_view text, const std::string& label) {
  const nlohmann::json root = parse_strict_json(text, label, "weights index");
  if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object() || root["weight_map"].empty())
    throw Error(label + ": not a Keras sharded weights index (an object with a non-empty \"weight_map\")");
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [group, files] : root["weight_map"].items()) {
    std::vector<std::string> names;
    if (files.is_string()) names.push_back(files.get<std::string>());
    else if (files.is_array())
      for (const auto& f : files)
        if (f.is_string()) names.push_back(f.get<std::string>());
    if (names.empty() || (files.is_array() && names.size() != files.size()))
      throw Error(label + ": weight_map entry " + quote_name(group) + " is not a file name or a list of them");
    for (const std::string& n : names)
      if (n.empty() || n == "." || n == ".." || n.find_first_of(std::string("/\0", 2)) != std::string::npos)
        throw Error(label + ": weight_map entry " + quote_name(group) + " names " + quote_name(n) +
                    ", not a plain file name inside the folder");
    out.emplace(group, std::move(names));
  }
  return out;
}

}  // namespace cocktail
