#include "io/output_folder.hpp"

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

void check_output_path(const fs::path& output, const std::vector<fs::path>& inputs,
                       bool overwrite) {
  if (output.empty()) throw Error("no output path: set 'output' in the config or pass --output");
  const fs::path out = clean_output_path(output);
  for (const auto& input : inputs) {
    const fs::path in = absolute_clean(input);
    // A single-file input only owns itself; writing beside it is fine.
    if (fs::is_regular_file(in) ? out == in : is_within(out, in))
      throw Error("output " + out.string() + " is inside the input folder " + in.string());
    if (is_within(in, out))
      throw Error("input " + in.string() + " is inside the output folder " + out.string());
  }
  const fs::path parent = out.parent_path();
  if (!fs::is_directory(parent))
    throw Error("output " + out.string() + ": " + parent.string() +
                (fs::exists(parent) ? " is not a folder" : " does not exist (create it first)"));
  if (fs::exists(out) && !overwrite)
    throw Error("output " + out.string() + " already exists; pass --overwrite to replace it");
}

void create_staged_shards(const fs::path& staging, const OutputLayout& layout) {
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) throw Error(staging.string() + ": cannot create the staging folder: " + ec.message());
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
