#include "fewshot/examples.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/json_strict.hpp"
#include "io/file.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

// A few-shot set is a few KB; this only stops a wrong path from exhausting memory.
constexpr uint64_t kMaxExampleFile = 256ull << 20;

using json = nlohmann::json;

std::string text_field(const json& e, const char* key, const std::string& where) {
  if (!e.contains(key)) throw Error(where + ": missing \"" + key + "\"");
  if (!e[key].is_string()) throw Error(where + ": \"" + key + "\" is not a string");
  return e[key].get<std::string>();
}

std::vector<std::string> text_list(const json& e, const char* key, const std::string& where) {
  if (!e.contains(key)) throw Error(where + ": missing \"" + key + "\"");
  if (!e[key].is_array()) throw Error(where + ": \"" + key + "\" is not a list of strings");
  std::vector<std::string> out;
  for (const auto& v : e[key]) {
    if (!v.is_string()) throw Error(where + ": \"" + key + "\" is not a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

void add_example(const json& e, const std::string& where, size_t neg_number, Examples& out) {
  if (!e.is_object()) throw Error(where + ": an example must be a JSON object");
  const bool encoder = e.contains("query");
  if (encoder ? !out.decoder.empty() : !out.encoder.empty())
    throw Error(where + ": mixes encoder examples {query, pos, neg} with decoder examples "
                        "{input, output}");
  if (encoder) {
    EncoderExample x{text_field(e, "query", where), "", text_list(e, "neg", where), where};
    const auto pos = text_list(e, "pos", where);
    if (pos.empty()) throw Error(where + ": \"pos\" is empty");
    x.pos = pos[0];
    if (x.neg.size() < neg_number)
      throw Error(where + ": " + std::to_string(x.neg.size()) + " negatives, fewer than neg_number " +
                  std::to_string(neg_number));
    out.encoder.push_back(std::move(x));
  } else {
    DecoderExample x{text_field(e, "input", where), text_field(e, "output", where), where};
    if (x.output.empty()) throw Error(where + ": \"output\" is empty, so nothing would be scored");
    out.decoder.push_back(std::move(x));
  }
}

// line of byte `offset` in `text`, 1-based.
size_t line_at(const std::string& text, size_t offset) {
  size_t line = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

void load_file(const fs::path& file, size_t neg_number, Examples& out) {
  const std::string text = read_small_file(file.string(), kMaxExampleFile);
  const std::string name = file.string();
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw Error(name + ": no examples");
  if (text[first] == '[') {  // one JSON list
    json list;
    check_json_depth(text, name, "the examples file");
    try {
      list = json::parse(text);
    } catch (const json::parse_error& e) {
      throw Error(name + ":" + std::to_string(line_at(text, e.byte)) + ": not valid JSON");
    } catch (const json::exception& e) {  // a number past double's range
      throw Error(name + ": not valid JSON: " + e.what());
    }
    // Lines of list items are not kept by the parser; the item number is.
    for (size_t i = 0; i < list.size(); ++i)
      add_example(list[i], name + ": example " + std::to_string(i + 1), neg_number, out);
    return;
  }
  size_t line_no = 0;
  for (size_t begin = 0; begin < text.size();) {  // JSON Lines
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = name + ":" + std::to_string(line_no);
    json e;
    check_json_depth(line, where, "this example");
    try {
      e = json::parse(line);
    } catch (const json::exception&) {
      throw Error(where + ": not valid JSON");
    }
    add_example(e, where, neg_number, out);
  }
}

}  // namespace

Examples load_examples(const std::vector<fs::path>& files, size_t neg_number) {
  if (files.empty()) throw Error("no example files given");
  Examples out;
  for (const auto& f : files) load_file(f, neg_number, out);
  if (out.size() == 0) throw Error(files.front().string() + ": no examples");
  return out;
}

}  // namespace cocktail
