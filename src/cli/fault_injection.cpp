#include "cli/fault_injection.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "core/error.hpp"

namespace cocktail {

FaultHook fault_hook(const char* spec, int rank, const MergePlan& plan, const std::vector<Checkpoint>& models) {
  if (!spec || !*spec) return {};
  const std::string text = spec;
  const size_t at = text.find('@'), c1 = text.find(':'), c2 = text.rfind(':');
  if (at == std::string::npos || c1 == std::string::npos || c1 == c2 || c1 < at)
    throw Error("COCKTAIL_FAULT='" + text + "': expected <kill|term|usr1|stop|touch>@<read|written|publish>:<rank>:<unit>");
  const std::string action = text.substr(0, at), point = text.substr(at + 1, c1 - at - 1);
  int fault_rank = 0;
  size_t fault_unit = 0;
  try {
    fault_rank = std::stoi(text.substr(c1 + 1, c2 - c1 - 1));
    fault_unit = std::stoull(text.substr(c2 + 1));
  } catch (const std::exception&) {
    throw Error("COCKTAIL_FAULT='" + text + "': rank and unit must be numbers");
  }
  if ((action != "kill" && action != "touch" && action != "term" && action != "usr1" && action != "stop") ||
      (point != "read" && point != "written" && point != "publish"))
    throw Error("COCKTAIL_FAULT='" + text + "': unknown action or point");
  if (fault_rank != rank) return {};
  return [=, &plan, &models](const char* where, size_t unit) {
    if (point != where || (point != "publish" && unit != fault_unit)) return;
    if (action == "kill") ::kill(::getpid(), SIGKILL);
    if (action == "term") ::kill(::getpid(), SIGTERM);
    if (action == "usr1") ::kill(::getpid(), SIGUSR1);
    if (action == "stop") ::kill(::getpid(), SIGSTOP);
    if (action != "touch") return;
    const TensorSource& source = plan.tensors[plan.units[unit].tensor].sources.front();
    const std::string path = models[source.model].files()[source.tensor->file].path.string();
    ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  };
}

}  // namespace cocktail
