#include "io/output_folder.hpp"

#include <unistd.h>

#include "core/error.hpp"
#include "io/file.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

// Symlinks resolved, so that "inside" means the same folder on disk.
fs::path absolute_clean(const fs::path& p) { return fs::weakly_canonical(fs::absolute(p)); }

// A rename is durable only once the folder holding the entry is synced.
void sync_folder(const fs::path& folder) {
  File(folder.string(), File::Mode::Read).sync();
}

// <parent>/.<name><suffix>: hidden, and on the output's filesystem so that
// rename() is atomic.
fs::path sibling(const fs::path& out, const char* suffix) {
  std::string name = ".";
  name += out.filename().string();
  name += suffix;
  return out.parent_path() / name;
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin(), o = outer.begin();
  for (; o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

}  // namespace

fs::path clean_output_path(const fs::path& output) {
  if (output.empty()) return output;
  fs::path out = absolute_clean(output);
  return out.has_filename() ? out : out.parent_path();
}

fs::path staging_path(const fs::path& output) {
  return sibling(clean_output_path(output), ".cocktail-staging");
}

fs::path lock_path(const fs::path& output) { return sibling(clean_output_path(output), ".cocktail-lock"); }

namespace {

// The names the job creates beside the output must fit the filesystem; found
// here, not as a raw error from deep inside the job.
void check_name_lengths(const fs::path& out) {
  const fs::path parent = out.parent_path();
  long name_max = ::pathconf(parent.c_str(), _PC_NAME_MAX);
  long path_max = ::pathconf(parent.c_str(), _PC_PATH_MAX);
  if (name_max <= 0) name_max = 255;
  if (path_max <= 0) path_max = 4096;
  const std::string name = out.filename().string();
  const fs::path longest = sibling(out, ".cocktail-replaced");  // the longest of the job's suffixes
  const auto limit = static_cast<size_t>(name_max);
  const size_t room = limit - (longest.filename().string().size() - name.size());
  if (longest.filename().string().size() > limit)
    throw Error("output " + out.string() + ": its name is " + std::to_string(name.size()) +
                " bytes, and the folders cocktail keeps beside it (" + longest.filename().string().substr(0, 8) +
                "...cocktail-replaced) would exceed this filesystem's " + std::to_string(limit) +
                "-byte limit on names; use a name of at most " + std::to_string(room) + " bytes");
  // The deepest path written: a journal record file or a module's file
  // inside the staging folder, within 80 bytes of its name.
  constexpr size_t kDeepest = 80;
  if (staging_path(out).string().size() + kDeepest > static_cast<size_t>(path_max))
    throw Error("output " + out.string() + ": the path is " + std::to_string(out.string().size()) +
                " bytes, too long for the files cocktail writes under it (this system's limit is " +
                std::to_string(path_max) + " bytes per path)");
}

}  // namespace

void check_output_path(const fs::path& output, const std::vector<fs::path>& models,
                       const std::vector<fs::path>& files_read, bool overwrite) {
  if (output.empty()) throw Error("no output path: set 'output' in the config or pass --output");
  const fs::path out = clean_output_path(output);
  for (const auto& input : models) {
    const fs::path in = absolute_clean(input);
    // A single-file input only owns itself; writing beside it is fine.
    if (fs::is_regular_file(in) ? out == in : is_within(out, in))
      throw Error("output " + out.string() + " is inside the input folder " + in.string());
    if (is_within(in, out))
      throw Error("input " + in.string() + " is inside the output folder " + out.string());
  }
  const fs::path staging = staging_path(out);
  for (const auto& file : files_read) {
    const fs::path resolved = absolute_clean(file);
    const fs::path& replaced = is_within(resolved, staging) ? staging : out;
    if (!is_within(resolved, replaced)) continue;
    const fs::path given = fs::absolute(file).lexically_normal();
    throw Error("input " + given.string() + (given == resolved ? "" : " (a link to " + resolved.string() + ")") +
                " is inside " + replaced.string() + ", which this job replaces; choose another output");
  }
  const fs::path parent = out.parent_path();
  if (!fs::is_directory(parent))
    throw Error("output " + out.string() + ": " + parent.string() +
                (fs::exists(parent) ? " is not a folder" : " does not exist (create it first)"));
  check_name_lengths(out);
  std::error_code ec;
  if (fs::exists(out, ec) && !overwrite)
    throw Error("output " + out.string() + " already exists; pass --overwrite to replace it");
}

void create_staged_shards(const fs::path& staging, const OutputLayout& layout) {
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) throw Error(staging.string() + ": cannot create the staging folder: " + ec.message());
  if (layout.format == OutputFormat::Keras) return;  // every rank creates those, together
  for (const auto& shard : layout.shards) {
    File file((staging / shard.file_name).string(), File::Mode::CreateReadWrite);
    file.truncate(shard.file_size);
    file.pwrite_full(shard.header.data(), shard.header.size(), 0);
    file.sync();  // a resumed job relies on the headers without rewriting them
  }
}

void write_staged_file(const fs::path& staging, const std::string& name,
                       const std::string& contents) {
  File file((staging / name).string(), File::Mode::CreateReadWrite);
  file.truncate(0);
  file.pwrite_full(contents.data(), contents.size(), 0);
  file.sync();
}

void publish_output(const fs::path& staging, const fs::path& output, bool overwrite) {
  const fs::path out = clean_output_path(output);
  std::error_code ec;
  fs::path old;
  if (fs::exists(out)) {
    if (!overwrite) throw Error("output " + out.string() + " already exists; pass --overwrite");
    old = sibling(out, ".cocktail-replaced");
    fs::remove_all(old, ec);
    fs::rename(out, old, ec);
    if (ec) throw Error(out.string() + ": cannot move the old output aside: " + ec.message());
  }
  fs::rename(staging, out, ec);
  if (ec) {
    std::error_code back;
    if (!old.empty()) fs::rename(old, out, back);  // the user's old output stays where it was
    throw Error(out.string() + ": cannot rename the staging folder into place: " + ec.message());
  }
  sync_folder(out.parent_path());
  if (!old.empty()) fs::remove_all(old, ec);
}

void remove_staging(const fs::path& staging) noexcept {
  std::error_code ec;
  fs::remove_all(staging, ec);
}

}  // namespace cocktail
