#include "cli/inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/progress.hpp"
#include "core/dtype_names.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

void inspect_checkpoint(const std::string& path, std::ostream& out) {
  const Checkpoint ckpt = Checkpoint::open(path);
  size_t width = 4;
  for (const auto& t : ckpt.tensors()) width = std::max(width, t.info.name.size());

  std::map<std::string, uint64_t> bytes_by_dtype;
  uint64_t params = 0;
  char line[256];
  out << ckpt.path().string() << ": " << ckpt.tensors().size() << " tensors in "
      << ckpt.files().size() << " file(s)\n";
  std::snprintf(line, sizeof line, "%-*s  %-7s  %-20s  %12s  %s\n", static_cast<int>(width),
                "name", "dtype", "shape", "bytes", "file");
  out << line;
  for (const auto& t : ckpt.tensors()) {
    const std::string shape = format_shape(t.info.shape);
    const std::string dtype(safetensors_name(t.info.dtype));
    std::snprintf(line, sizeof line, "%-*s  %-7s  %-20s  %12llu  %s\n", static_cast<int>(width),
                  t.info.name.c_str(), dtype.c_str(), shape.c_str(),
                  static_cast<unsigned long long>(t.info.nbytes()),
                  ckpt.files()[t.file].path.filename().c_str());
    out << line;
    bytes_by_dtype[dtype] += t.info.nbytes();
    params += t.info.numel();
  }
  out << "total: " << params << " parameters, " << format_bytes(ckpt.total_tensor_bytes());
  for (const auto& [dtype, bytes] : bytes_by_dtype) out << ", " << dtype << " " << format_bytes(bytes);
  out << "\n";
}

}  // namespace cocktail
