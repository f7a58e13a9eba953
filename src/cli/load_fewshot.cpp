#include "cli/load_fewshot.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace cocktail {
namespace {

const FewShotModule& load() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string path = (ec ? std::filesystem::path(kFewShotModuleFile)
                               : exe.parent_path() / kFewShotModuleFile).string();
  // Never unloaded: libtorch does not support it, and the process ends soon.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw Error("the few-shot step needs " + path + ", which cannot be loaded: " + dlerror() +
                " (it is built beside cocktail_dist)");
  using Entry = const FewShotModule* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, kFewShotModuleSymbol));
  if (!entry) throw Error(path + ": no " + kFewShotModuleSymbol + " (not a cocktail few-shot module)");
  return *entry();
}

}  // namespace

const FewShotModule& fewshot_module() {
  // Loaded once, then read-only: what every later call returns.
  static const FewShotModule& module = load();
  return module;
}

}  // namespace cocktail
