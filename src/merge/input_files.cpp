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
                              uint64_t first, uint64_t count, std::byte* dst, bool add_lora) {
  if (t.vocabulary) return submit_vocabulary_reads(io, into, t, s, first, count, dst);
  const CheckpointTensor& src = *t.sources[s].tensor;
  const uint64_t size = dtype_size(src.info.dtype);
  const File* f = &file(t.sources[s]);
  const uint64_t offset = src.file_offset() + first * size;
  if (!src.lora || !add_lora) {
    submit_pieces(io, into, count * size, [f, dst, offset](uint64_t at, uint64_t n) { f->pread_full(dst + at, n, offset + at); });
    return;
  }
  // Each piece read, then updated, by one thread.
  std::shared_ptr<const LoraOperands> ops = lora_operands(t.sources[s]);
  const uint64_t cols = src.info.shape[1];
  submit_pieces(io, into, count * size, [f, dst, offset, size, first, cols, ops, &src](uint64_t at, uint64_t n) {
    f->pread_full(dst + at, n, offset + at);
    add_lora_update(lora_args(*src.lora, *ops, cols, src.info.dtype, first + at / size, n / size, dst + at));
  });
}

std::optional<LoraUpdate> InputFiles::lora_update(const PlannedTensor& t, size_t s, uint64_t first, uint64_t count) {
  const CheckpointTensor& src = *t.sources[s].tensor;
  if (!src.lora) return std::nullopt;
  LoraUpdate u{s, lora_operands(t.sources[s]), {}};
  u.args = lora_args(*src.lora, *u.operands, src.info.shape[1], src.info.dtype, first, count, nullptr);
  return u;
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
