#pragma once
// The work units of a merge already in its staging folder, so the same
// command rerun after a crash, a kill or a preemption resumes instead of
// starting over.
//
//   <staging>/.cocktail-journal/job      the job's identity, one labelled line per item
//   <staging>/.cocktail-journal/owner    the run that works in the folder now
//   <staging>/.cocktail-journal/rank-R   records appended by rank R: {unit,
//                                        checksum of its output bytes, the unit's
//                                        statistics, check}, 8-byte words
//
// A record is appended once a unit's pwrite returned, without fsync: a killed
// process loses nothing the kernel already holds, and a machine crash can lose
// bytes a record vouches for, so a resuming rank re-reads every recorded unit
// it owns and redoes those whose bytes no longer match. A torn last record
// fails its own check and is dropped. Units are numbered by the plan, not by
// rank, so a rerun may use another rank count.
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/file.hpp"

namespace cocktail {

// What a unit contributed to the job's report, so a resumed run reports the
// same totals as an uninterrupted one.
struct UnitRecord {
  uint64_t checksum = 0;            // of the unit's output bytes
  std::vector<uint64_t> stats;      // the caller's fixed-length per-unit counts
};

// A fast 64-bit checksum of bytes (not cryptographic).
uint64_t bytes_checksum(const void* data, size_t n);

// What a journal must match to be resumed from: the plan (layout, headers,
// weights, units) and every input file's size, mtime and header bytes.
std::vector<std::string> job_identity(uint64_t plan_fingerprint, const std::vector<Checkpoint>& models);

class Journal {
 public:
  // Why the journal in `staging` cannot be resumed from ("" when it can):
  // no journal, or the first identity line that differs, named.
  static std::string mismatch(const std::filesystem::path& staging, const std::vector<std::string>& identity);
  // Whether `staging` holds a journal (of any job).
  static bool exists(const std::filesystem::path& staging);
  // Writes the identity into a fresh staging folder (rank 0), durably.
  static void create(const std::filesystem::path& staging, const std::vector<std::string>& identity);
  // Makes the run `owner` (OutputLock::holder) the folder's owner, durably:
  // a run that resumes or starts the folder claims it.
  static void claim(const std::filesystem::path& staging, const std::string& owner);
  // The run that claimed `staging` last ("" when none did).
  static std::string owner(const std::filesystem::path& staging);
  // Every intact record, from every rank's file; `stats` entries per record.
  static std::unordered_map<uint64_t, UnitRecord> recorded_units(const std::filesystem::path& staging,
                                                                 size_t stats);
  // Deletes the journal (rank 0, from the published output).
  static void remove(const std::filesystem::path& staging);

  // Opens rank `rank`'s record file for appending records with `stats`
  // counts each (dropping a torn tail).
  Journal(const std::filesystem::path& staging, int rank, size_t stats);
  void record(uint64_t unit, const UnitRecord& record);

 private:
  File file_;
  size_t words_;  // per record
  uint64_t end_ = 0;
};

}  // namespace cocktail
