#include "cli/load_fewshot.hpp"

#include "core/error.hpp"
#include "core/module_file.hpp"

namespace cocktail {
namespace {

const FewShotModule& load() {
  const OpenedModule m = open_module(kFewShotModuleFile, kFewShotModuleSymbol, COCKTAIL_BUILD_ID);
  if (!m.entry)
    throw Error("the few-shot step needs " + m.path + ", which cannot be loaded: " + m.error +
                " (the modules built with cocktail_dist belong beside it)");
  using Entry = const FewShotModule* (*)();
  return *reinterpret_cast<Entry>(m.entry)();
}

}  // namespace

const FewShotModule& fewshot_module() {
  // Loaded once, then read-only: what every later call returns.
  static const FewShotModule& module = load();
  return module;
}

}  // namespace cocktail
