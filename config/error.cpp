// Formatting of config errors (see error.hpp).
#include "config/error.hpp"

namespace wghub::config {

std::string Location::to_string() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string ConfigError::to_string() const {
  std::string out = Location{file, line, column}.to_string();
  if (!field.empty()) out += ": " + field;
  out += ": " + message;
  return out;
}

}  // namespace wghub::config
