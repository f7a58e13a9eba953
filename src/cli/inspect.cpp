#include "cli/inspect.hpp"

#include <algorithm>
#include <iomanip>
#include <map>

#include "cli/progress.hpp"
#include "core/dtype_names.hpp"
#include "io/checkpoint.hpp"
#include "io/lora_adapter.hpp"

namespace cocktail {

void inspect_checkpoint(const std::string& path, std::ostream& out) {
  const auto [base, adapter] = split_adapter_reference(path);
  const Checkpoint ckpt = Checkpoint::open(base, adapter);
  // Column widths from the data, so long names never run into the next column.
  size_t name_width = 4, shape_width = 5;
  for (const auto& t : ckpt.tensors()) {
    name_width = std::max(name_width, t.info.name.size());
    shape_width = std::max(shape_width, format_shape(t.info.shape).size());
  }
  auto row = [&](const std::string& name, const std::string& dtype, const std::string& shape,
                 const std::string& bytes, const std::string& file) {
    out << std::left << std::setw(static_cast<int>(name_width)) << name << "  " << std::setw(7)
        << dtype << "  " << std::setw(static_cast<int>(shape_width)) << shape << "  "
        << std::right << std::setw(14) << bytes << "  " << file << "\n";
  };

  out << ckpt.label() << ": " << ckpt.tensors().size() << " tensors in "
      << ckpt.files().size() << " file(s)\n";
  row("name", "dtype", "shape", "bytes", "file");
  std::map<std::string, uint64_t> bytes_by_dtype;
  uint64_t params = 0;
  for (const auto& t : ckpt.tensors()) {
    const std::string dtype(safetensors_name(t.info.dtype));
    std::string file = ckpt.files()[t.file].path.filename().string();
    if (t.lora) file += " + LoRA r=" + std::to_string(t.lora->rank);
    row(t.info.name, dtype, format_shape(t.info.shape), std::to_string(t.info.nbytes()), file);
    bytes_by_dtype[dtype] += t.info.nbytes();
    params += t.info.numel();
  }
  out << "total: " << params << " parameters, " << format_bytes(ckpt.total_tensor_bytes());
  for (const auto& [dtype, bytes] : bytes_by_dtype) out << ", " << dtype << " " << format_bytes(bytes);
  out << "\n";
}

}  // namespace cocktail
