// Tokens per second of cocktail's tokenizer on a corpus, one thread:
//   tokenizer_bench CORPUS.jsonl REPEAT TOKENIZER_DIR...
// Each line of CORPUS is a JSON string; every line is encoded REPEAT times
// (special tokens added). Prints one line per tokenizer:
//   <dir name> <lines> <tokens> <seconds> <tokens per second>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: tokenizer_bench CORPUS.jsonl REPEAT TOKENIZER_DIR...\n");
    return 2;
  }
  std::vector<std::string> lines;
  std::ifstream in(argv[1]);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  const int repeat = std::stoi(argv[2]);
  for (int a = 3; a < argc; ++a) {
    const std::filesystem::path dir = argv[a];
    const auto tok = cocktail::Tokenizer::from_file(dir / "tokenizer.json");
    size_t tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) {
      for (const auto& text : lines) tokens += tok.encode(text).size();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s %zu %zu %.3f %.0f\n", dir.filename().c_str(), lines.size() * repeat, tokens, s,
                static_cast<double>(tokens) / s);
  }
  return 0;
}
