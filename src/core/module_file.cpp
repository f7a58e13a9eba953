#include "core/module_file.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <string>

namespace cocktail {

OpenedModule open_module(const char* file, const char* symbol) {
  namespace fs = std::filesystem;
  OpenedModule m;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  m.path = (ec ? fs::path(file) : exe.parent_path() / file).string();
  // Never unloaded: libtorch and the CUDA runtime do not support it, and the
  // process ends soon.
  void* handle = dlopen(m.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    m.missing = !fs::exists(m.path, ec);
    const char* why = dlerror();
    m.error = why ? why : "dlopen failed";
    return m;
  }
  m.loads = true;
  m.entry = dlsym(handle, symbol);
  if (!m.entry) m.error = std::string("it has no ") + symbol + " (not a module of this build)";
  return m;
}

}  // namespace cocktail
