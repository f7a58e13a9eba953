// libFuzzer target: the bytes are a whole .safetensors file. Runs what
// read_safetensors_header does after its reads: the 8-byte length prefix, then
// the header JSON, against the file's size. cocktail::Error is the expected
// answer to bad input; anything else escaping (another exception, a crash, a
// sanitizer report) is a finding. An accepted header is checked against the
// promises the rest of the program relies on.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "io/safetensors.hpp"

namespace {

[[noreturn]] void broken(const char* promise) {
  std::fprintf(stderr, "fuzz_safetensors_header: accepted header breaks: %s\n", promise);
  std::abort();
}

void check_accepted(const cocktail::SafetensorsHeader& h, uint64_t file_size) {
  if (h.data_start() > file_size) broken("data starts inside the file");
  uint64_t pos = 0;
  std::set<std::string> names;
  for (const cocktail::TensorInfo& t : h.tensors) {
    if (t.begin != pos) broken("tensors tile the data buffer in offset order");
    pos = t.end;
    const unsigned __int128 bits =
        static_cast<unsigned __int128>(t.numel()) * cocktail::dtype_bits(t.dtype);
    if (bits != static_cast<unsigned __int128>(t.nbytes()) * 8) broken("nbytes == numel x dtype size");
    if (!names.insert(t.name).second) broken("tensor names are unique");
    if (h.find(t.name) == nullptr) broken("find() finds every tensor");
  }
  if (pos != file_size - h.data_start()) broken("tensors end where the file ends");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  const std::string label = "fuzz.safetensors";
  try {
    const uint64_t n = cocktail::parse_safetensors_prefix(file.substr(0, 8), size, label);
    const cocktail::SafetensorsHeader h =
        cocktail::parse_safetensors_header(file.substr(8, n), size, label);
    check_accepted(h, size);
  } catch (const cocktail::Error&) {
    // Refused with a message: the expected outcome for bad input.
  }
  return 0;
}
