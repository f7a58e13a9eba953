#include "core/module_file.hpp"

#include <dlfcn.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace cocktail {

OpenedModule open_module(const char* file, const char* symbol, const char* build_id) {
  namespace fs = std::filesystem;
  OpenedModule m;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    // A bare name would have dlopen search the system for some other copy.
    m.path = file;
    m.error = "cannot find the running executable's folder (/proc/self/exe: " + ec.message() + ")";
    return m;
  }
  m.path = (exe.parent_path() / file).string();
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
  const auto build = reinterpret_cast<const char* (*)()>(dlsym(handle, kModuleBuildSymbol));
  if (!build || std::strcmp(build(), build_id) != 0) {
    m.error = "it was built with another cocktail_dist";
    return m;
  }
  m.entry = dlsym(handle, symbol);
  if (!m.entry) m.error = std::string("it has no ") + symbol;
  return m;
}

}  // namespace cocktail
