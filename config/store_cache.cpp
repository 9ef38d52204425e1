// See store_cache.hpp.
#include "config/store_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/atomic_file.hpp"
#include "config/file_trust.hpp"

namespace wghub::config {

namespace {

constexpr int kFormat = 1;

}  // namespace

bool write_store_cache(const std::string& path, const std::string& prefix,
                       const StoreSnapshot& snapshot, std::string& error) {
  namespace fs = std::filesystem;
  nlohmann::json doc;
  doc["format"] = kFormat;
  doc["prefix"] = prefix;
  doc["revision"] = snapshot.revision;
  doc["written"] = static_cast<std::int64_t>(std::time(nullptr));
  nlohmann::json entries = nlohmann::json::array();
  for (const StoreEntry& e : snapshot.entries)
    entries.push_back(nlohmann::json{{"key", e.key}, {"value", e.value}});
  doc["entries"] = std::move(entries);
  const std::string text = doc.dump(1) + "\n";

  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path() && !fs::exists(target.parent_path(), ec)) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
      error = "cannot create " + target.parent_path().string() + ": " + ec.message();
      return false;
    }
    ::chmod(target.parent_path().c_str(), 0700);
  }
  return write_file_atomically(path, text, 0600, true, error);
}

std::optional<StoreCache> read_store_cache(const std::string& path, const std::string& prefix,
                                           std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "no cached store state at " + path + " (" + std::strerror(errno) + ")";
    return std::nullopt;
  }
  if (const std::string why = untrusted_because(path, TrustedKind::config_file); !why.empty()) {
    error = "cached store state " + path + ": " + why;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  auto bad = [&](const std::string& why) {
    error = "cached store state " + path + " is unusable: " + why;
    return std::nullopt;
  };
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (doc.value("format", 0) != kFormat) return bad("unknown format (expected 1)");
  StoreCache cache;
  if (!doc.contains("prefix") || !doc["prefix"].is_string()) return bad("no prefix");
  cache.prefix = doc["prefix"].get<std::string>();
  if (cache.prefix != prefix)
    return bad("it holds prefix " + cache.prefix + ", the config's store.prefix is " + prefix);
  if (!doc.contains("revision") || !doc["revision"].is_number_integer()) return bad("no revision");
  cache.snapshot.revision = doc["revision"].get<std::int64_t>();
  cache.written = doc.value("written", std::int64_t{0});
  if (!doc.contains("entries") || !doc["entries"].is_array()) return bad("no entries");
  for (const auto& e : doc["entries"]) {
    if (!e.is_object() || !e.contains("key") || !e["key"].is_string() || !e.contains("value") ||
        !e["value"].is_string())
      return bad("an entry is not {\"key\": ..., \"value\": ...}");
    cache.snapshot.entries.push_back(
        StoreEntry{e["key"].get<std::string>(), e["value"].get<std::string>()});
  }
  return cache;
}

}  // namespace wghub::config
