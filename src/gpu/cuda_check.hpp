#pragma once
// CUDA runtime calls that fail throw cocktail::Error naming the call, so a
// failure on a GPU reads like any other job error.
#include <cuda_runtime.h>

#include <string>

#include "core/error.hpp"

namespace cocktail {

inline void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorString(status));
}

}  // namespace cocktail
