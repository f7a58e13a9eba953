// libFuzzer target: the bytes are a job's YAML config. load_job takes a path,
// so each input is written to job.yaml in a scratch folder and loaded from
// there: the fuzzer runs exactly what cocktail_dist runs, file read included
// (launch/fuzz.sh points TMPDIR at tmpfs, where that costs little).
// The folder holds models the seeds name (base, target, a, b, a symlink to a)
// and an examples file, so inputs get past the path checks into the rest of
// the validation. cocktail::Error is the expected answer to a bad config;
// anything else escaping (another exception, a crash, a sanitizer report) is
// a finding, and so is an accepted job that breaks what load_job promises.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "config/job.hpp"
#include "core/error.hpp"

namespace fs = std::filesystem;

namespace {

fs::path g_dir;
fs::path g_config;

void remove_scratch() {
  std::error_code ec;
  fs::remove_all(g_dir, ec);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_job_config: %s\n", what.c_str());
  std::abort();
}

void write_config(const uint8_t* data, size_t size) {
  const int fd = ::open(g_config.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write " + g_config.string());
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write " + g_config.string());
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

void check_accepted(const cocktail::Job& job) {
  using cocktail::MergeMethod;
  if (job.models.empty()) fail("accepted job has no models");
  double sum = 0;
  for (size_t i = 0; i < job.models.size(); ++i) {
    const cocktail::ModelSpec& m = job.models[i];
    if (!m.path.is_absolute() || !fs::exists(m.path)) fail("model path not absolute and existing");
    for (size_t k = 0; k < i; ++k)
      if (job.models[k].path == m.path) fail("the same model listed twice");
    // A linear base may go unweighted: it then supplies config and tokenizer only.
    if (job.method == MergeMethod::Linear && m.role != cocktail::ModelRole::Base && !m.weight)
      fail("linear model without a weight");
    for (const cocktail::Setting& st : m.parameters)
      if (st.conditions.empty()) fail("a method parameter with no value");
    sum += m.weight.value_or(0.0);
  }
  if (job.method == MergeMethod::Linear && job.normalize && sum == 0) fail("weights sum to 0");
  if (job.alpha < 0 || job.alpha > 1) fail("alpha outside [0, 1]");
  if (job.method_name.empty()) fail("no method name");
  if (job.chunk_size < 1024 || job.max_shard_size == 0) fail("byte sizes out of range");
  if (job.prefetch < 1 || job.io_threads < 1 || job.threads < 0) fail("thread counts out of range");
  if (job.fewshot && (job.fewshot->files.empty() || job.fewshot->temperature <= 0))
    fail("few-shot settings out of range");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = (fs::path(tmp && *tmp ? tmp : "/tmp") / "cocktail_fuzz_job_XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) fail("mkdtemp failed in " + tmpl);
  g_dir = tmpl;
  std::atexit(remove_scratch);
  for (const char* model : {"base", "target", "a", "b"}) fs::create_directory(g_dir / model);
  fs::create_directory_symlink("a", g_dir / "link-a");
  std::FILE* f = std::fopen((g_dir / "examples.jsonl").c_str(), "w");
  if (!f) fail("cannot create examples.jsonl");
  std::fputs("{\"input\": \"1 + 1 =\", \"output\": \"2\"}\n", f);
  std::fclose(f);
  g_config = g_dir / "job.yaml";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_config(data, size);
  try {
    check_accepted(cocktail::load_job(g_config));
  } catch (const cocktail::Error&) {
    // Refused with a message naming the line: the expected outcome.
  }
  return 0;
}
