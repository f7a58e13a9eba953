#include "io/lora_delta.hpp"

#include <cblas.h>

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

float rounded(DType t, float v) {
  if (t == DType::F32) return v;
  std::byte buf[8];
  store_from_f32(buf, t, 0, v);
  return load_as_f32(buf, t, 0);
}

// delta[i, :] for rows [row0, row0 + n) of the base tensor into `out` (n x cols).
void group_update(const LoraFactors& f, const LoraOperands& ops, uint64_t rows, uint64_t cols, uint64_t row0,
                  uint64_t n, float* out) {
  const int r = static_cast<int>(f.rank);
  if (!f.transposed) {
    // B[row0 : row0 + n, :] (n x r) @ A (r x cols)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(cols), r, 1.0f,
                ops.b.data() + row0 * f.rank, r, ops.a.data(), static_cast<int>(cols), 0.0f, out,
                static_cast<int>(cols));
  } else {
    // (A[:, row0 : row0 + n])^T (n x r) @ B^T (r x cols)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, static_cast<int>(n), static_cast<int>(cols), r, 1.0f,
                ops.a.data() + row0, static_cast<int>(rows), ops.b.data(), r, 0.0f, out, static_cast<int>(cols));
  }
}

}  // namespace

LoraOperands read_lora_operands(const File& adapter, const LoraFactors& f) {
  return {read_as_f32(adapter, f.a), read_as_f32(adapter, f.b)};
}

void add_lora_update(const LoraFactors& f, const LoraOperands& ops, DType dtype, uint64_t rows, uint64_t cols,
                     uint64_t first, uint64_t count, std::byte* data) {
  if (count == 0 || cols == 0) return;
  const uint64_t end = first + count;
  std::vector<float> delta;
  for (uint64_t g0 = first / cols / kLoraRowGroup * kLoraRowGroup; g0 * cols < end; g0 += kLoraRowGroup) {
    const uint64_t n = std::min(kLoraRowGroup, rows - g0);
    delta.resize(n * cols);
    group_update(f, ops, rows, cols, g0, n, delta.data());
    const uint64_t lo = std::max(first, g0 * cols), hi = std::min(end, (g0 + n) * cols);
    for (uint64_t e = lo; e < hi; ++e) {
      // peft multiplies the product by the scale (not inside the sum).
      const float d = rounded(f.round_then, rounded(f.round_first, delta[e - g0 * cols] * f.scale));
      store_from_f32(data, dtype, e - first, load_as_f32(data, dtype, e - first) + d);
    }
  }
}

void read_checkpoint_elements(const Checkpoint& ckpt, const CheckpointTensor& t, uint64_t first, uint64_t count,
                              std::byte* dst) {
  if (count == 0) return;
  const uint64_t size = dtype_size(t.info.dtype);
  const File file(ckpt.files()[t.file].path.string(), File::Mode::Read);
  file.pread_full(dst, count * size, t.file_offset() + first * size);
  if (!t.lora) return;
  const File adapter(ckpt.files()[t.lora->a.file].path.string(), File::Mode::Read);
  add_lora_update(*t.lora, read_lora_operands(adapter, *t.lora), t.info.dtype, t.info.shape[0], t.info.shape[1],
                  first, count, dst);
}

}  // namespace cocktail
