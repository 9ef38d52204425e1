// A scratch directory for config tests: key files with chosen modes, config
// files and peers directories, all removed when the test ends.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "crypto/base64.hpp"

namespace wghub::config::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wghub-config-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  // Writes content to rel (creating parent directories) and sets its mode.
  std::string write(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    const std::string full = *this / rel;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    {
      std::ofstream out(full, std::ios::binary | std::ios::trunc);
      out << content;
    }
    ::chmod(full.c_str(), mode);
    return full;
  }

  std::string mkdir(const std::string& rel) const {
    const std::string full = *this / rel;
    std::filesystem::create_directories(full);
    return full;
  }

 private:
  std::string path_;
};

// The base64 text of a key whose 32 bytes are all `fill`, as wg genkey prints it.
inline std::string key_text(std::uint8_t fill) {
  std::uint8_t bytes[32];
  for (auto& b : bytes) b = fill;
  return crypto::key_to_base64(bytes);
}

// A load's messages as the operator reads them ("file:line:column: field: ...").
inline std::vector<std::string> messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.to_string());
  return out;
}

// The interface and ports of a config whose key file is hub.key; peers follow.
inline const std::string kHead =
    "interface:\n"
    "  private_key_file: hub.key\n"
    "ports:\n"
    "  wan: {devargs: net_null0, address: 198.51.100.10/24}\n"
    "  lan: {devargs: net_null1, address: 10.0.0.1/16}\n";

}  // namespace wghub::config::test
