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
  submit_pieces(io, into, count * size, [f, dst, offset](uint64_t at, uint64_t n) { f->pread_full(dst + at, n, offset + at); });
}

void InputFiles::check_unchanged() const {
  for (const auto& [key, in] : files_)
    if (!(in.file.stamp() == in.opened))
      throw Error(in.file.path() + ": changed while it was being read (size or mtime); the merge is abandoned");
}

}  // namespace cocktail
