#pragma once
// Few-shot examples of the target task, in the authors' formats: decoder
// {"input", "output"}, encoder {"query", "pos": [...], "neg": [...]}. A file is
// a JSON list of them or JSON Lines; several files are pooled in order, which
// gives the paper's unified variant.
#include <filesystem>
#include <string>
#include <vector>

namespace cocktail {

struct DecoderExample {
  std::string input, output;
  std::string where;  // "file:line" for messages
};

struct EncoderExample {
  std::string query, pos;          // upstream uses only pos[0]
  std::vector<std::string> neg;
  std::string where;
};

struct Examples {
  std::vector<DecoderExample> decoder;
  std::vector<EncoderExample> encoder;

  bool is_encoder() const { return !encoder.empty(); }
  size_t size() const { return decoder.size() + encoder.size(); }
};

// Throws cocktail::Error "FILE:LINE: ..." for unreadable files, bad JSON, a
// missing or non-string field, an empty output, fewer negatives than
// `neg_number` (upstream raises too), and files mixing the two formats.
Examples load_examples(const std::vector<std::filesystem::path>& files, size_t neg_number);

}  // namespace cocktail
