// The CPU's model name for benchmark headers (from /proc/cpuinfo), so every
// printed figure says which processor measured it.
#pragma once

#include <fstream>
#include <string>

namespace wghub::perf {

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

}  // namespace wghub::perf
