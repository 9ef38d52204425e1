// Internal to config/: the small text and secret helpers that the wg-quick
// parser (wgquick_parse.cpp), the import writer (wgquick_import.cpp) and the
// export writer (wgquick_export.cpp) share.
#pragma once

#include <string>
#include <string_view>

#include "crypto/base64.hpp"
#include "crypto/secret.hpp"

namespace wghub::config::detail {

inline std::string encode_secret(const crypto::Key& key) {
  return crypto::key_to_base64(key.data());
}

inline void wipe_string(std::string& s) {
  if (!s.empty()) crypto::wipe(s.data(), s.size());
  s.clear();
}

// A comment's text on one line.
inline std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace wghub::config::detail
