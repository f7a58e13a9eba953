#pragma once
// The shared modules built beside cocktail_dist (libcocktail_fewshot.so,
// libcocktail_cuda.so): parts whose libraries only some jobs need, opened on
// demand with dlopen and never closed.
#include <string>

namespace cocktail {

struct OpenedModule {
  void* entry = nullptr;  // the exported symbol; null when the module cannot be had
  std::string path;       // where it was looked for
  std::string error;      // why not, when entry is null
  bool missing = false;   // no file at `path`
  bool loads = false;     // dlopen took it (a null entry then means: not this build's)
};

// Every module exports kModuleBuildSymbol, a function returning its build's
// id (COCKTAIL_BUILD_ID, made once per build folder): a module copied from
// another build, whose tables may be laid out differently, is refused.
inline constexpr const char* kModuleBuildSymbol = "cocktail_module_build_id";

// Opens `file` from the folder of the running executable, checks that its
// build id is `build_id` and looks up `symbol` in it. Errors are returned,
// not thrown: the callers decide whether a module that cannot be had is a
// failure.
OpenedModule open_module(const char* file, const char* symbol, const char* build_id);

}  // namespace cocktail
