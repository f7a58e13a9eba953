#include "merge/input_files.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace cocktail {

void submit_pieces(ThreadPool& io, std::vector<std::future<void>>& into, uint64_t bytes,
                   const std::function<void(uint64_t, uint64_t)>& transfer) {
  for (uint64_t done = 0; done < bytes; done += kIoPiece) {
    const uint64_t n = std::min(kIoPiece, bytes - done);
    into.push_back(io.submit([transfer, done, n] { transfer(done, n); }));
  }
}

const File& InputFiles::file(const TensorSource& s) {
  const auto key = std::make_pair(s.model, s.tensor->file);
  auto it = files_.find(key);
  if (it == files_.end()) {
    File f(models_[s.model].files()[s.tensor->file].path.string(), File::Mode::Read);
    const FileStamp stamp = f.stamp();
    it = files_.emplace(key, Input{std::move(f), stamp}).first;
  }
  return it->second.file;
}

void InputFiles::submit_reads(ThreadPool& io, std::vector<std::future<void>>& into, const PlannedTensor& t, size_t s,
                              uint64_t first, uint64_t count, std::byte* dst) {
  if (t.vocabulary) return submit_vocabulary_reads(io, into, t, s, first, count, dst);
  const CheckpointTensor& src = *t.sources[s].tensor;
  const uint64_t size = dtype_size(src.info.dtype);
  const File* f = &file(t.sources[s]);
  const uint64_t offset = src.file_offset() + first * size;
  if (!src.lora) {
    submit_pieces(io, into, count * size, [f, dst, offset](uint64_t at, uint64_t n) { f->pread_full(dst + at, n, offset + at); });
    return;
  }
  // Pieces of whole row groups, each read and then updated by one thread.
  const uint64_t rows = src.info.shape[0], cols = src.info.shape[1];
  const uint64_t group = kLoraRowGroup * cols;
  const uint64_t step = std::max<uint64_t>(1, kIoPiece / size / group) * group;
  std::shared_ptr<const LoraOperands> ops = lora_operands(t.sources[s]);
  for (uint64_t e = first; e < first + count;) {
    const uint64_t n = std::min(first + count, (e / step + 1) * step) - e;
    std::byte* out = dst + (e - first) * size;
    into.push_back(io.submit([f, out, offset = src.file_offset() + e * size, n, size, e, rows, cols, ops, &src] {
      f->pread_full(out, n * size, offset);
      add_lora_update(*src.lora, *ops, src.info.dtype, rows, cols, e, n, out);
    }));
    e += n;
  }
}

std::shared_ptr<const LoraOperands> InputFiles::lora_operands(const TensorSource& s) {
  const LoraFactors* key = s.tensor->lora.get();
  auto it = lora_.find(key);
  if (it != lora_.end()) return it->second;
  // Units come tensor by tensor: older tensors' factors are not needed
  // again (reads in flight keep their own reference).
  if (lora_.size() >= 2 * models_.size()) lora_.clear();
  const File& adapter = file(TensorSource{s.model, &key->a});
  return lora_[key] = std::make_shared<const LoraOperands>(read_lora_operands(adapter, *key));
}

void InputFiles::check_unchanged() const {
  for (const auto& [key, in] : files_)
    if (!(in.file.stamp() == in.opened))
      throw Error(in.file.path() + ": changed while it was being read (size or mtime); the merge is abandoned");
}

}  // namespace cocktail
