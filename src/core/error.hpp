#pragma once
// One exception type for every failure a user can cause or meet (bad input,
// I/O errors). The message is the whole user-facing line: it names the file,
// tensor or config key, so `main` prints it as is.
#include <stdexcept>
#include <string>

namespace cocktail {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace cocktail
