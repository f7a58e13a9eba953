#include "io/journal.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

constexpr const char* kFolder = ".cocktail-journal";
// A record: unit, checksum, stats..., check.
size_t record_words(size_t stats) { return 3 + stats; }

uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

uint64_t record_check(const uint64_t* words, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; ++i) h = mix(h ^ words[i]) + i;
  return h | 1;  // never 0, so a zero-filled tail is never a record
}

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

// Four independent lanes keep the multiplies pipelined (several GB/s on one
// core); the tail and the length go into the final mix.
uint64_t bytes_checksum(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t lane[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * k, 8);
      lane[k] = (lane[k] ^ w) * 0x9E3779B97F4A7C15ull;
      lane[k] ^= lane[k] >> 29;
    }
  uint64_t h = mix(lane[0]) ^ mix(lane[1] + 1) ^ mix(lane[2] + 2) ^ mix(lane[3] + 3);
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return mix(h ^ n);
}

std::vector<std::string> job_identity(uint64_t plan_fingerprint, const std::vector<Checkpoint>& models) {
  std::vector<std::string> lines = {"cocktail journal 1", "plan " + hex(plan_fingerprint)};
  for (const Checkpoint& model : models)
    for (const CheckpointFile& f : model.files()) {
      const File file(f.path.string(), File::Mode::Read);
      const FileStamp stamp = file.stamp();
      std::string header(f.header.data_start(), '\0');
      file.pread_full(header.data(), header.size(), 0);
      lines.push_back("input " + f.path.string() + " size " + std::to_string(stamp.size) + " mtime " +
                      std::to_string(stamp.mtime_ns) + " header " + hex(bytes_checksum(header.data(), header.size())));
    }
  return lines;
}

std::string Journal::mismatch(const fs::path& staging, const std::vector<std::string>& identity) {
  const fs::path job = staging / kFolder / "job";
  if (!exists(staging)) return "it has no journal";
  const std::vector<std::string> old = read_lines(job);
  for (size_t i = 0; i < identity.size(); ++i) {
    if (i < old.size() && old[i] == identity[i]) continue;
    const std::string& now = identity[i];
    if (now.rfind("input ", 0) == 0)
      return "input " + now.substr(6, now.find(" size ") - 6) + " changed (size, mtime or header)";
    if (now.rfind("plan ", 0) == 0)
      return "the merge changed (models, weights or few-shot losses, dtypes, chunk_size or max_shard_size)";
    return "its journal is from another version";
  }
  if (old.size() != identity.size()) return "the list of input files changed";
  return "";
}

bool Journal::exists(const fs::path& staging) { return fs::exists(staging / kFolder / "job"); }

void Journal::create(const fs::path& staging, const std::vector<std::string>& identity) {
  const fs::path dir = staging / kFolder;
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the journal: " + ec.message());
  std::string text;
  for (const auto& line : identity) text += line + "\n";
  const File file((dir / "job").string(), File::Mode::CreateReadWrite);
  file.truncate(0);
  file.pwrite_full(text.data(), text.size(), 0);
  // The shards' headers were synced before: after a machine crash, a job
  // file that survived vouches for them.
  file.sync();
}

void Journal::claim(const fs::path& staging, const std::string& owner) {
  const std::string text = owner + "\n";
  const File file((staging / kFolder / "owner").string(), File::Mode::CreateReadWrite);
  file.truncate(0);
  file.pwrite_full(text.data(), text.size(), 0);
  file.sync();
}

std::string Journal::owner(const fs::path& staging) {
  const std::vector<std::string> lines = read_lines(staging / kFolder / "owner");
  return lines.empty() ? "" : lines.front();
}

std::unordered_map<uint64_t, UnitRecord> Journal::recorded_units(const fs::path& staging, size_t stats) {
  const size_t words = record_words(stats), bytes_per = words * 8;
  std::unordered_map<uint64_t, UnitRecord> done;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(staging / kFolder, ec)) {
    if (entry.path().filename().string().rfind("rank-", 0) != 0) continue;
    const File file(entry.path().string(), File::Mode::Read);
    std::vector<uint64_t> all(file.size() / bytes_per * words);
    file.pread_full(all.data(), all.size() * 8, 0);
    for (size_t at = 0; at < all.size(); at += words) {
      const uint64_t* r = &all[at];
      if (r[words - 1] != record_check(r, words - 1)) continue;
      done[r[0]] = UnitRecord{r[1], std::vector<uint64_t>(r + 2, r + 2 + stats)};
    }
  }
  return done;
}

void Journal::remove(const fs::path& staging) {
  std::error_code ec;
  fs::remove_all(staging / kFolder, ec);
  if (ec) throw Error((staging / kFolder).string() + ": cannot remove the journal: " + ec.message());
}

Journal::Journal(const fs::path& staging, int rank, size_t stats)
    : file_((staging / kFolder / ("rank-" + std::to_string(rank))).string(), File::Mode::CreateReadWrite),
      words_(record_words(stats)) {
  end_ = file_.size() / (words_ * 8) * (words_ * 8);
  file_.truncate(end_);
}

void Journal::record(uint64_t unit, const UnitRecord& record) {
  std::vector<uint64_t> r = {unit, record.checksum};
  r.insert(r.end(), record.stats.begin(), record.stats.end());
  r.resize(words_ - 1, 0);
  r.push_back(record_check(r.data(), r.size()));
  file_.pwrite_full(r.data(), r.size() * 8, end_);
  end_ += r.size() * 8;
}

}  // namespace cocktail
