// Fuzz target: the wg-quick importer (parse_wgquick) and what `wghub import`
// does with a parsed file (to_wghub_yaml), plus compare_wgquick, which must
// find no difference between a config and itself. Key hygiene: no error or
// warning contains a PrivateKey or PresharedKey value (checked when the value
// looks like a key and occurs only once in the file, so a message quoting
// other text is no false alarm).
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/wgquick.hpp"
#include "fuzz/fuzz_common.hpp"

namespace {

using namespace wghub::config;
using wghub::fuzz::check;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// 44 characters of base64 ending in '=': what wg genkey writes.
bool looks_like_key(std::string_view v) {
  if (v.size() != 44 || v.back() != '=') return false;
  for (std::size_t i = 0; i + 1 < v.size(); ++i) {
    const char c = v[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  }
  return true;
}

std::vector<std::string_view> secret_values(std::string_view text) {
  std::vector<std::string_view> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const auto key = trim(line.substr(0, eq));
    const auto value = trim(line.substr(eq + 1));
    if ((key == "PrivateKey" || key == "PresharedKey") && looks_like_key(value) &&
        text.find(value) == text.rfind(value))
      out.push_back(value);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const WgQuickResult r = parse_wgquick(text, "/etc/wireguard/wg0.conf");
  check(r.ok() == r.errors.empty(), "a config with errors, or errors without a config");
  const auto secrets = secret_values(text);
  for (const auto* list : {&r.errors, &r.warnings})
    for (const auto& e : *list) {
      const std::string msg = e.to_string();
      for (std::string_view v : secrets)
        check(msg.find(v) == std::string::npos, "a key in an import message");
    }
  wghub::fuzz::trace("parsed: %d, %zu errors, %zu warnings\n", r.ok(), r.errors.size(),
                     r.warnings.size());
  if (!r.ok()) return 0;
  check(compare_wgquick(*r.config, *r.config).empty(), "a config differs from itself");
  ImportOptions options;
  const std::string yaml = to_wghub_yaml(*r.config, options);
  for (std::string_view v : secrets)
    check(yaml.find(v) == std::string::npos, "a key in the imported YAML");
  return 0;
}
