// What libcocktail_cuda.so exports: its table (gpu/cuda_module.hpp) and its
// build id (core/module_file.hpp).
#include "gpu/cuda_compute.hpp"
#include "gpu/cuda_device.hpp"
#include "gpu/cuda_module.hpp"
#ifdef COCKTAIL_HAVE_NCCL
#include "dist/nccl_comm.hpp"
#endif

namespace cocktail {
namespace {

#ifdef COCKTAIL_HAVE_NCCL
std::unique_ptr<Comm> make_nccl_comm(Comm& host, int device, const std::string& id) {
  return std::make_unique<NcclComm>(host, device, id);
}
constexpr auto kNcclUniqueId = &NcclComm::unique_id;
constexpr auto kMakeNcclComm = &make_nccl_comm;
#else
constexpr std::string (*kNcclUniqueId)() = nullptr;
constexpr std::unique_ptr<Comm> (*kMakeNcclComm)(Comm&, int, const std::string&) = nullptr;
#endif

}  // namespace
}  // namespace cocktail

extern "C" const cocktail::CudaModule* cocktail_cuda_module() {
  using namespace cocktail;
  static const CudaModule table{&cuda::probe_gpus, &cuda::gpu_identity, &cuda::make_compute, kNcclUniqueId,
                                kMakeNcclComm};
  return &table;
}

extern "C" const char* cocktail_module_build_id() { return COCKTAIL_BUILD_ID; }
