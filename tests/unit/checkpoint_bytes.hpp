#pragma once
// A whole checkpoint tensor's bytes as every reader sees them (a LoRA
// candidate's with its update added), for tests that compare tensors.
#include <cstddef>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/lora_delta.hpp"

namespace cocktail::test {

inline std::vector<std::byte> tensor_bytes_of(const Checkpoint& c, const CheckpointTensor& t) {
  std::vector<std::byte> out(t.info.nbytes());
  read_checkpoint_elements(c, t, 0, t.info.numel(), out.data());
  return out;
}

}  // namespace cocktail::test
