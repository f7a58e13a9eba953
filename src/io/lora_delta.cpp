#include "io/lora_delta.hpp"

#include <algorithm>

#include "element_math.hpp"

namespace cocktail {

namespace {

std::vector<float> read_as_f32(const File& file, const CheckpointTensor& t) {
  std::vector<std::byte> raw(t.info.nbytes());
  if (!raw.empty()) file.pread_full(raw.data(), raw.size(), t.file_offset());
  std::vector<float> out(t.info.numel());
  for (size_t i = 0; i < out.size(); ++i) out[i] = load_as_f32(raw.data(), t.info.dtype, i);
  return out;
}

// m (n x k, row-major) as k x n.
std::vector<float> transposed(const std::vector<float>& m, uint64_t n, uint64_t k) {
  std::vector<float> t(m.size());
  for (uint64_t i = 0; i < n; ++i)
    for (uint64_t j = 0; j < k; ++j) t[j * n + i] = m[i * k + j];
  return t;
}

}  // namespace

LoraOperands read_lora_operands(const File& adapter, const LoraFactors& f) {
  std::vector<float> a = read_as_f32(adapter, f.a), b = read_as_f32(adapter, f.b);
  if (!f.transposed) return {std::move(b), std::move(a)};
  // A is r x rows and B is cols x r: left = A^T, right = B^T.
  return {transposed(a, f.rank, f.a.info.numel() / f.rank), transposed(b, f.b.info.numel() / f.rank, f.rank)};
}

LoraArgs lora_args(const LoraFactors& f, const LoraOperands& ops, uint64_t cols, DType dtype, uint64_t first,
                   uint64_t count, std::byte* data) {
  LoraArgs a;
  a.left = ops.left.data();
  a.right = ops.right.data();
  a.rank = static_cast<uint32_t>(f.rank);
  a.cols = cols;
  a.scale = f.scale;
  a.round_first = f.round_first;
  a.round_then = f.round_then;
  a.data = data;
  a.dtype = dtype;
  a.first = first;
  a.count = count;
  return a;
}

void read_checkpoint_elements(const Checkpoint& ckpt, const CheckpointTensor& t, uint64_t first, uint64_t count,
                              std::byte* dst) {
  if (count == 0) return;
  const uint64_t size = dtype_size(t.info.dtype);
  const File file(ckpt.files()[t.file].path.string(), File::Mode::Read);
  file.pread_full(dst, count * size, t.file_offset() + first * size);
  if (!t.lora) return;
  const File adapter(ckpt.files()[t.lora->a.file].path.string(), File::Mode::Read);
  const LoraOperands ops = read_lora_operands(adapter, *t.lora);
  add_lora_update(lora_args(*t.lora, ops, t.info.shape[1], t.info.dtype, first, count, dst));
}

}  // namespace cocktail
