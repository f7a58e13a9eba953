#pragma once
// The GPU ChunkCompute (gpu/cuda_compute.cpp), inside libcocktail_cuda.so;
// the engine reaches it through make_cuda_compute (merge/chunk_compute.hpp).
#include <memory>

#include "merge/chunk_compute.hpp"

namespace cocktail::cuda {

// GPU `device`: one CUDA stream and device buffers per slot, so device memory
// is slots x (max_models x max_in_bytes + max_out_bytes). Throws
// cocktail::Error when the device fails.
std::unique_ptr<ChunkCompute> make_compute(int device, const ComputeSizes& sizes);

}  // namespace cocktail::cuda
