// cocktail_dist's side of the CUDA module (gpu/cuda_module.hpp): loads it on
// the first question about GPUs and forwards to it.
#include "core/error.hpp"
#include "core/module_file.hpp"
#include "gpu/cuda_module.hpp"

namespace cocktail {
namespace {

struct LoadedCuda {
  const CudaModule* module = nullptr;
  GpuProbe none;  // what probe_gpus says when the module cannot be had
};

LoadedCuda load() {
  LoadedCuda l;
#ifndef COCKTAIL_HAVE_CUDA
  l.none = {0, "this build has no CUDA (configured with COCKTAIL_CUDA=OFF or without nvcc)", true};
#else
  const OpenedModule m = open_module(kCudaModuleFile, kCudaModuleSymbol, COCKTAIL_BUILD_ID);
  if (m.entry) {
    l.module = reinterpret_cast<const CudaModule* (*)()>(m.entry)();
  } else if (!m.missing && !m.loads && m.error.find(COCKTAIL_CUDART_SONAME) != std::string::npos) {
    // The CUDA runtime itself does not load: a node without CUDA, nothing
    // to use. (dlerror names the library it could not open.)
    l.none = {0, "the CUDA libraries cannot be loaded: " + m.error, true};
  } else {
    // A broken install (the module missing or from another build, NCCL
    // missing, mismatched versions), not a machine without GPUs: device:
    // auto warns.
    l.none = {0, "the GPU path needs " + m.path + ", which cannot be loaded: " + m.error +
                     " (the modules built with cocktail_dist belong beside it)", false};
  }
#endif
  return l;
}

const LoadedCuda& loaded() {
  // Loaded once, then read-only.
  static const LoadedCuda l = load();
  return l;
}

}  // namespace

const CudaModule& cuda_module() {
  const LoadedCuda& l = loaded();
  if (!l.module) throw Error(l.none.reason);
  return *l.module;
}

GpuProbe probe_gpus() {
  const LoadedCuda& l = loaded();
  return l.module ? l.module->probe_gpus() : l.none;
}

std::string gpu_identity(int device) { return cuda_module().gpu_identity(device); }

std::unique_ptr<ChunkCompute> make_cuda_compute(int device, const ComputeSizes& sizes) {
  return cuda_module().make_compute(device, sizes);
}

}  // namespace cocktail
