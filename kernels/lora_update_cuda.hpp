#pragma once
// The CUDA LoRA update: the same bytes as the CPU's add_lora_update
// (lora_update.hpp holds the per-element code both run).
#include <cuda_runtime.h>

#include "lora_update.hpp"

namespace cocktail {

// Enqueues the update of args.data on `stream`; every pointer in `args` is
// device memory. `blocks` bounds the grid. Throws cocktail::Error on a
// launch failure.
void launch_lora_update(const LoraArgs& args, int blocks, cudaStream_t stream);

}  // namespace cocktail
