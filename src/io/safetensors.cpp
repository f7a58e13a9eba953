#include "io/safetensors.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"

namespace cocktail {

using nlohmann::json;

namespace {

void check_header_len(uint64_t n, uint64_t file_size, const std::string& label) {
  if (n > kMaxSafetensorsHeader) {
    throw Error(label + ": header length " + std::to_string(n) + " exceeds the limit of " +
                std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  if (file_size < 8 || n > file_size - 8) {
    throw Error(label + ": header length " + std::to_string(n) +
                " runs past end of file (file is " + std::to_string(file_size) + " bytes)");
  }
}

// JSON integers that fit uint64_t; "-0" parses as a signed zero and is fine.
std::optional<uint64_t> as_u64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<uint64_t>();
  return std::nullopt;
}

std::string short_dump(const json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string range_str(const TensorInfo& t) {
  std::string s = "[";
  s += std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
  return s;
}

std::map<std::string, std::string> parse_metadata(const json& v, const std::string& label) {
  if (!v.is_object()) throw Error(label + ": __metadata__ is not an object");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) {
      throw Error(label + ": __metadata__ value for key " + quote_name(key) + " is " +
                  short_dump(value) + ", not a string");
    }
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

// "LABEL: tensor 'NAME': ", the start of every message about one tensor.
// Built only for a message: a header may list a million tensors.
struct TensorWhere {
  const std::string& label;
  const std::string& name;
  std::string str() const { return label + ": tensor " + quote_name(name) + ": "; }
};

std::vector<uint64_t> parse_u64_array(const json& v, const char* field,
                                      const TensorWhere& where) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    auto x = as_u64(v[i]);
    if (!x) {
      throw Error(where.str() + field + "[" + std::to_string(i) + "] is " + short_dump(v[i]) +
                  ", not a non-negative 64-bit integer");
    }
    out.push_back(*x);
  }
  return out;
}

// Byte size the shape and dtype call for, with the reference's overflow rules.
uint64_t expected_bytes(const TensorInfo& t, const TensorWhere& where) {
  auto what = [&] {
    return where.str() + "shape " + format_shape(t.shape) + " of " +
           std::string(safetensors_name(t.dtype));
  };
  uint64_t numel = 1;
  for (uint64_t d : t.shape) {
    if (__builtin_mul_overflow(numel, d, &numel)) {
      throw Error(what() + " overflows a 64-bit element count");
    }
  }
  uint64_t bits;
  if (__builtin_mul_overflow(numel, uint64_t{dtype_bits(t.dtype)}, &bits)) {
    throw Error(what() + " overflows a 64-bit size");
  }
  if (bits % 8 != 0) {
    throw Error(what() + " is " + std::to_string(bits) +
                " bits, not a whole number of bytes");
  }
  return bits / 8;
}

TensorInfo parse_tensor(const std::string& name, const json& v, const std::string& label) {
  const TensorWhere where{label, name};
  if (!v.is_object()) throw Error(where.str() + "entry is " + short_dump(v) + ", not an object");
  for (const auto& [field, _] : v.items()) {
    if (field != "dtype" && field != "shape" && field != "data_offsets") {
      throw Error(where.str() + "unexpected field " + quote_name(field) +
                  " (allowed: dtype, shape, data_offsets)");
    }
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(field)) throw Error(where.str() + "missing field '" + field + "'");
  }

  TensorInfo t;
  t.name = name;
  const json& dtype = v["dtype"];
  if (!dtype.is_string()) throw Error(where.str() + "dtype is " + short_dump(dtype) + ", not a string");
  auto parsed = dtype_from_safetensors_name(dtype.get_ref<const std::string&>());
  if (!parsed) throw Error(where.str() + "unknown dtype " + quote_name(dtype.get_ref<const std::string&>()));
  t.dtype = *parsed;

  const json& shape = v["shape"];
  if (!shape.is_array()) throw Error(where.str() + "shape is " + short_dump(shape) + ", not an array");
  t.shape = parse_u64_array(shape, "shape", where);

  const json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    throw Error(where.str() + "data_offsets is " + short_dump(offsets) +
                ", not an array of exactly 2 integers");
  }
  auto be = parse_u64_array(offsets, "data_offsets", where);
  t.begin = be[0];
  t.end = be[1];
  if (t.begin > t.end) throw Error(where.str() + "data_offsets " + range_str(t) + " end before they begin");

  const uint64_t need = expected_bytes(t, where);
  if (need != t.nbytes()) {
    throw Error(where.str() + "data_offsets " + range_str(t) + " hold " + std::to_string(t.nbytes()) +
                " bytes but shape " + format_shape(t.shape) + " of " +
                std::string(safetensors_name(t.dtype)) + " needs " + std::to_string(need));
  }
  return t;
}

// Tensors (sorted by offset) must tile the data buffer exactly: no byte is
// unaccounted for and none is shared.
void check_layout(const SafetensorsHeader& h, uint64_t file_size, const std::string& label) {
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : h.tensors) {
    if (t.begin != pos) {
      const std::string cur = "tensor " + quote_name(t.name) + " " + range_str(t);
      if (!prev) {
        throw Error(label + ": " + cur + " leaves a gap of " + std::to_string(t.begin) +
                    " bytes at the start of the data buffer");
      }
      const std::string before = "tensor " + quote_name(prev->name) + " " + range_str(*prev);
      if (t.begin > pos) {
        throw Error(label + ": gap of " + std::to_string(t.begin - pos) + " bytes between " +
                    before + " and " + cur);
      }
      throw Error(label + ": " + cur + " overlaps " + before);
    }
    pos = t.end;
    prev = &t;
  }
  const uint64_t available = file_size - h.data_start();
  if (pos < available) {
    throw Error(label + ": " + std::to_string(available - pos) +
                " trailing bytes after the last tensor (file is " + std::to_string(file_size) +
                " bytes, header and tensors account for " + std::to_string(h.data_start() + pos) +
                ")");
  }
  if (pos > available) {
    throw Error(label + ": tensor data needs " + std::to_string(pos) + " bytes but only " +
                std::to_string(available) + " follow the header: " +
                std::to_string(pos - available) + " bytes missing (truncated file?)");
  }
}

}  // namespace

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  for (const TensorInfo& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

SafetensorsHeader parse_safetensors_header(std::string_view text, uint64_t file_size,
                                           const std::string& file_label) {
  SafetensorsHeader h;
  h.header_len = text.size();
  check_header_len(h.header_len, file_size, file_label);

  const json root = parse_strict_json(text, file_label, "header");
  if (!root.is_object()) throw Error(file_label + ": header is not a JSON object");
  h.tensors.reserve(root.size());
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      h.metadata = parse_metadata(value, file_label);
    } else {
      h.tensors.push_back(parse_tensor(key, value, file_label));
    }
  }
  // Zero-size tensors may share an offset; the name keeps the order stable.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  check_layout(h, file_size, file_label);
  return h;
}

uint64_t parse_safetensors_prefix(std::string_view prefix, uint64_t file_size,
                                  const std::string& file_label) {
  if (file_size < 8 || prefix.size() < 8) {
    throw Error(file_label + ": file is " + std::to_string(file_size) +
                " bytes, shorter than the 8-byte safetensors length prefix");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(prefix[i]);  // little-endian
  check_header_len(n, file_size, file_label);
  return n;
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  File file(path, File::Mode::Read);
  const uint64_t size = file.size();
  char prefix[8] = {};
  if (size >= sizeof prefix) file.pread_full(prefix, sizeof prefix, 0);
  const uint64_t n = parse_safetensors_prefix(std::string_view(prefix, sizeof prefix), size, path);

  std::string text(n, '\0');
  file.pread_full(text.data(), text.size(), 8);
  return parse_safetensors_header(text, size, path);
}

std::string format_shape(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace cocktail
