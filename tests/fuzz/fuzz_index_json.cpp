// libFuzzer target: the bytes are a model.safetensors.index.json. Runs the
// parser Checkpoint::open reads indexes with. cocktail::Error is the expected
// answer to bad input; anything else escaping (another exception, a crash, a
// sanitizer report) is a finding. An accepted index must name only plain file
// names, since Checkpoint::open then opens them inside the model folder.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto map = cocktail::parse_checkpoint_index(text, "model.safetensors.index.json");
    if (map.empty()) {
      std::fprintf(stderr, "fuzz_index_json: accepted an empty weight_map\n");
      std::abort();
    }
    for (const auto& [tensor, file] : map) {
      if (file.empty() || file == "." || file == ".." ||
          file.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
        std::fprintf(stderr, "fuzz_index_json: accepted shard name outside the folder\n");
        std::abort();
      }
    }
  } catch (const cocktail::Error&) {
    // Refused with a message: the expected outcome for bad input.
  }
  return 0;
}
