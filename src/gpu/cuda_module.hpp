#pragma once
// The GPU path as one shared module, libcocktail_cuda.so beside
// cocktail_dist: the CUDA merge (gpu/cuda_compute.cpp), the device probe and
// NcclComm, with the CUDA runtime and NCCL they link. cocktail_dist itself
// links neither, so `device: cpu`, inspect and --version never map them, and
// one build runs on nodes without the CUDA libraries. The module is loaded
// the first time a rank looks for a GPU.
//
// As with the few-shot module, objects cross the boundary with one layout:
// both sides are built from the same sources in one build.
#include <memory>
#include <string>

#include "dist/comm.hpp"
#include "gpu/device.hpp"
#include "merge/chunk_compute.hpp"

namespace cocktail {

struct CudaModule {
  GpuProbe (*probe_gpus)();
  std::string (*gpu_identity)(int device);
  std::unique_ptr<ChunkCompute> (*make_compute)(int device, const ComputeSizes& sizes);
  // dist/nccl_comm.hpp; both null in a build without NCCL.
  std::string (*nccl_unique_id)();
  std::unique_ptr<Comm> (*make_nccl_comm)(Comm& host, int device, const std::string& id);
};

// The name the module exports its table under (extern "C").
inline constexpr const char* kCudaModuleSymbol = "cocktail_cuda_module";
inline constexpr const char* kCudaModuleFile = "libcocktail_cuda.so";

// The module, loaded once per process from the folder of the running
// executable. Throws cocktail::Error with the reason when it cannot be had:
// a build without CUDA, the CUDA libraries missing on this node, or the
// module missing or not this build's.
const CudaModule& cuda_module();

}  // namespace cocktail
