#pragma once
// What the merge and the statistics passes share for reading inputs: each
// checkpoint file opened once per rank, with the size and mtime it had
// then, and transfers split into pieces so several I/O threads serve one
// range (one outstanding pread per thread leaves fast storage idle).
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_pool.hpp"
#include "io/checkpoint.hpp"
#include "io/file.hpp"
#include "io/lora_delta.hpp"
#include "plan/tensor_plan.hpp"

namespace cocktail {

constexpr uint64_t kIoPiece = 8ull << 20;

// Queues transfer(at, n) for each kIoPiece of [0, bytes) on `io`.
void submit_pieces(ThreadPool& io, std::vector<std::future<void>>& into, uint64_t bytes,
                   const std::function<void(uint64_t, uint64_t)>& transfer);

class InputFiles {
 public:
  explicit InputFiles(const std::vector<Checkpoint>& models) : models_(models) {}

  // The file holding a source's tensor, opened on first use.
  const File& file(const TensorSource& s);

  // Queues on `io` the reads that fill `dst` with elements [first, first +
  // count) of t.sources[s] in the output's order: one range of its file, or
  // for a vocabulary tensor its rows in the output's token order (whole
  // rows: such tensors' units are row-aligned); a LoRA candidate's tensor
  // with its update added unless `add_lora` is false. Call from one thread.
  void submit_reads(ThreadPool& io, std::vector<std::future<void>>& into, const PlannedTensor& t, size_t s,
                    uint64_t first, uint64_t count, std::byte* dst, bool add_lora = true);

  // The LoRA update of those elements of t.sources[s] (index s), for a
  // compute that adds it itself; nothing when the source is not adapted.
  std::optional<LoraUpdate> lora_update(const PlannedTensor& t, size_t s, uint64_t first, uint64_t count);

  // A checkpoint rewritten during the merge would leave an output mixing
  // two versions of it: throws naming the file.
  void check_unchanged() const;

 private:
  struct Input {
    File file;
    FileStamp opened;
  };
  void submit_vocabulary_reads(ThreadPool& io, std::vector<std::future<void>>& into, const PlannedTensor& t,
                               size_t s, uint64_t first, uint64_t count, std::byte* dst);
  const std::vector<std::byte>& mean_row(const PlannedTensor& t, size_t model);
  // The adapted tensor's factors, read once while its units stream by.
  std::shared_ptr<const LoraOperands> lora_operands(const TensorSource& s);

  const std::vector<Checkpoint>& models_;
  std::map<std::pair<size_t, uint32_t>, Input> files_;
  // Each model's mean row of a vocabulary tensor (its padding rows), by
  // (tensor name, model): computed once, by the rank that needs it.
  std::map<std::pair<std::string, size_t>, std::vector<std::byte>> mean_rows_;
  std::map<const LoraFactors*, std::shared_ptr<const LoraOperands>> lora_;
};

}  // namespace cocktail
