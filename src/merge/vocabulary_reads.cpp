// InputFiles' reads of a vocabulary tensor: each output row from the
// model's own row of the token, or filled by the vocabulary's rule
// (vocab/output_vocabulary.hpp), as mergekit's PermutedVocabulary builds
// it, one row at a time: no model's embedding is ever held whole.
#include <algorithm>
#include <cstring>
#include <memory>

#include "core/error.hpp"
#include "element_math.hpp"
#include "merge/input_files.hpp"
#include "vocab/output_vocabulary.hpp"

namespace cocktail {
namespace {

// Where a model's tensor of this name lies: its file and first byte.
struct RowSource {
  const File* file = nullptr;
  uint64_t offset = 0;
};

struct RowReader {
  const OutputVocabulary* vocab = nullptr;
  DType dtype = DType::F32;
  uint64_t row_elems = 0, row_bytes = 0;
  std::map<size_t, RowSource> sources;  // by model

  void read_row(size_t model, int64_t row, std::byte* dst) const {
    const RowSource& s = sources.at(model);
    s.file->pread_full(dst, row_bytes, s.offset + static_cast<uint64_t>(row) * row_bytes);
  }

  // A filled row as mergekit computes it with dtype float32: zeros, each
  // model's row added in float32, divided by their count; then rounded once
  // to the inputs' dtype, which is what the read buffers hold
  // (docs/methods.md: bit for bit in float32, within one step in 16 bits).
  void fill_row(const RowFill& fill, std::byte* dst) const {
    if (fill.terms.empty()) return void(std::memset(dst, 0, row_bytes));
    if (fill.terms.size() == 1) return read_row(fill.terms[0].first, fill.terms[0].second, dst);
    std::vector<std::byte> row(row_bytes);
    std::vector<float> sum(row_elems, 0.0f);
    for (const auto& [model, r] : fill.terms) {
      read_row(model, r, row.data());
      for (uint64_t j = 0; j < row_elems; ++j) sum[j] = add_rn(sum[j], load_as_f32(row.data(), dtype, j));
    }
    const float count = static_cast<float>(fill.terms.size());
    for (uint64_t j = 0; j < row_elems; ++j) store_from_f32(dst, dtype, j, div_rn(sum[j], count));
  }

  // Output rows [a, b) of `model` (all below the tokens) into dst; runs of
  // consecutive own rows are one read.
  void read_rows(size_t model, uint64_t a, uint64_t b, std::byte* dst) const {
    for (uint64_t r = a; r < b;) {
      const int64_t src = vocab->source_row(model, r);
      std::byte* out = dst + (r - a) * row_bytes;
      if (src < 0) {
        fill_row(vocab->fills[static_cast<size_t>(-1 - src)], out);
        ++r;
        continue;
      }
      uint64_t n = 1;
      while (r + n < b && vocab->source_row(model, r + n) == src + static_cast<int64_t>(n)) ++n;
      const RowSource& s = sources.at(model);
      s.file->pread_full(out, n * row_bytes, s.offset + static_cast<uint64_t>(src) * row_bytes);
      r += n;
    }
  }
};

}  // namespace

void InputFiles::submit_vocabulary_reads(ThreadPool& io, std::vector<std::future<void>>& into, const PlannedTensor& t,
                                         size_t s, uint64_t first, uint64_t count, std::byte* dst) {
  const size_t model = t.sources[s].model;
  auto reader = std::make_shared<RowReader>();
  reader->vocab = t.vocabulary;
  reader->dtype = t.sources[s].tensor->info.dtype;
  reader->row_elems = t.numel / t.shape[0];
  reader->row_bytes = reader->row_elems * dtype_size(reader->dtype);
  // Every model a fill may read: the files are opened here, on the calling thread.
  for (const TensorSource& src : t.sources) reader->sources[src.model] = {&file(src), src.tensor->file_offset()};
  for (const RowFill& f : t.vocabulary->fills)
    for (const auto& [m, r] : f.terms)
      if (!reader->sources.count(m)) {
        const TensorSource donor{m, models_[m].find(t.name)};
        reader->sources[m] = {&file(donor), donor.tensor->file_offset()};
      }
  const uint64_t begin = first / reader->row_elems, end = (first + count) / reader->row_elems;
  const uint64_t tokens = t.vocabulary->tokens.size();
  if (end > tokens) {  // padding rows: the model's mean row
    const std::vector<std::byte>& mean = mean_row(t, model);
    for (uint64_t r = std::max(begin, tokens); r < end; ++r)
      std::memcpy(dst + (r - begin) * reader->row_bytes, mean.data(), reader->row_bytes);
  }
  const uint64_t rows_per_piece = std::max<uint64_t>(1, kIoPiece / reader->row_bytes);
  for (uint64_t a = begin; a < std::min(end, tokens); a += rows_per_piece) {
    const uint64_t b = std::min({a + rows_per_piece, end, tokens});
    std::byte* out = dst + (a - begin) * reader->row_bytes;
    into.push_back(io.submit([reader, model, a, b, out] { reader->read_rows(model, a, b, out); }));
  }
}

// mergekit pads with torch.mean over the model's rows of the tokens; here
// the sum runs in double in row order, so every rank count and chunk size
// gives the same row (docs/methods.md: within one step of torch's).
const std::vector<std::byte>& InputFiles::mean_row(const PlannedTensor& t, size_t model) {
  const auto key = std::make_pair(t.name, model);
  if (auto it = mean_rows_.find(key); it != mean_rows_.end()) return it->second;
  size_t s = 0;
  while (t.sources[s].model != model) ++s;
  const DType dtype = t.sources[s].tensor->info.dtype;
  const uint64_t row_elems = t.numel / t.shape[0], row_bytes = row_elems * dtype_size(dtype);
  const uint64_t tokens = t.vocabulary->tokens.size();
  const uint64_t block = std::max<uint64_t>(1, kIoPiece / row_bytes);
  std::vector<double> sum(row_elems, 0.0);
  std::vector<std::byte> rows(block * row_bytes);
  ThreadPool reader(1);
  for (uint64_t a = 0; a < tokens; a += block) {
    const uint64_t b = std::min(tokens, a + block);
    std::vector<std::future<void>> reads;
    submit_vocabulary_reads(reader, reads, t, s, a * row_elems, (b - a) * row_elems, rows.data());
    for (auto& f : reads) f.get();
    for (uint64_t r = 0; r < b - a; ++r)
      for (uint64_t j = 0; j < row_elems; ++j) sum[j] += load_as_f32(rows.data() + r * row_bytes, dtype, j);
  }
  std::vector<std::byte> mean(row_bytes);
  for (uint64_t j = 0; j < row_elems; ++j)
    store_from_f32(mean.data(), dtype, j, static_cast<float>(sum[j] / static_cast<double>(tokens)));
  return mean_rows_.emplace(key, std::move(mean)).first->second;
}

}  // namespace cocktail
