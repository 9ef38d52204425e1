// Internal to config/: typed, error-collecting access to yaml-cpp nodes.
// Every reader reports problems into the document's error list with file,
// line, column and field path, and returns nullopt instead of throwing, so
// one load reports all errors at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/error.hpp"

namespace wghub::config::detail {

// One YAML document being read: its file name for messages, the directory
// relative paths in it resolve against, and where errors go.
class Doc {
 public:
  // `first_line`: the file's line (0-based) that the text's first line is,
  // for a part of a file parsed apart (peers_split.hpp).
  Doc(std::string file, std::vector<ConfigError>& errors, std::size_t first_line = 0);

  const std::string& file() const { return file_; }
  Location at(const YAML::Node& node) const;
  Location at(const YAML::Mark& mark) const;
  void error(const Location& where, std::string field, std::string message) const;
  void error(const YAML::Node& where, std::string field, std::string message) const {
    error(at(where), std::move(field), std::move(message));
  }
  // A relative path resolves against the directory of this document's file.
  std::string resolve(const std::string& path) const;
  std::size_t error_count() const { return errors_.size(); }

 private:
  std::string file_;
  std::vector<ConfigError>& errors_;
  std::size_t first_line_;
};

// Field paths: join("peers[2]", "allowed_ips") == "peers[2].allowed_ips",
// join("", "public_key") == "public_key", element("a", 1) == "a[1]".
std::string join(const std::string& path, std::string_view key);
std::string element(const std::string& path, std::size_t index);

// "a string", "a list", "a mapping", "nothing".
std::string describe_kind(const YAML::Node& node);

// Levenshtein distance; used to suggest the key an operator meant. With a
// `limit`, returns `limit` as soon as the distance is known to be at least
// that (the length difference, or a row minimum of the table, reached it):
// the answer is min(distance, limit), in time that does not grow with an
// absurdly long key.
std::size_t edit_distance(std::string_view a, std::string_view b,
                          std::size_t limit = static_cast<std::size_t>(-1));

// A mapping with a known set of keys. Construction reports a non-mapping,
// unknown keys (suggesting the nearest known one) and duplicate keys.
class MapReader {
 public:
  MapReader(const Doc& doc, const YAML::Node& node, std::string path,
            std::initializer_list<const char*> known_keys);

  // False when the node was not a mapping (already reported).
  bool ok() const { return ok_; }
  // The value for key; an undefined node when absent or null.
  YAML::Node get(std::string_view key) const;
  // Like get, but reports a missing or empty required field.
  YAML::Node require(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).IsDefined(); }
  std::string path(std::string_view key) const { return join(path_, key); }
  const YAML::Node& node() const { return node_; }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };
  const Entry* find(std::string_view key) const;

  const Doc& doc_;
  YAML::Node node_;
  std::string path_;
  std::vector<Entry> entries_;
  bool ok_ = false;
};

// Scalar readers. On failure they report at `node` under `path` and return nullopt.
// `hint` (optional) is appended to the type error.
std::optional<std::string> read_string(const Doc& doc, const YAML::Node& node,
                                       const std::string& path, const char* hint = nullptr);
// Integers in decimal; `noun` names the value in range errors ("port 70000 is out of range").
std::optional<std::int64_t> read_int(const Doc& doc, const YAML::Node& node,
                                     const std::string& path, const char* noun, std::int64_t min,
                                     std::int64_t max);
std::optional<bool> read_bool(const Doc& doc, const YAML::Node& node, const std::string& path);
// Reports unless node is a sequence; `example` shows the expected shape.
bool expect_list(const Doc& doc, const YAML::Node& node, const std::string& path,
                 const char* example);

// Reads the whole of doc.file(); on failure reports at file level.
std::optional<std::string> read_text_file(const Doc& doc, const char* what);
// Parses text as one YAML document; a syntax error is reported at its position.
std::optional<YAML::Node> parse_document(const Doc& doc, const std::string& text);

}  // namespace wghub::config::detail
