// Error-collecting yaml-cpp access (see yaml_reader.hpp).
#include "config/yaml_reader.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace wghub::config::detail {

Doc::Doc(std::string file, std::vector<ConfigError>& errors, std::size_t first_line)
    : file_(std::move(file)), errors_(errors), first_line_(first_line) {}

Location Doc::at(const YAML::Mark& mark) const {
  // yaml-cpp marks are 0-based; a null mark (-1) means "no position known".
  if (mark.line < 0) return Location{file_, 0, 0};
  return Location{file_, static_cast<int>(first_line_) + mark.line + 1, mark.column + 1};
}

Location Doc::at(const YAML::Node& node) const {
  if (!node.IsDefined()) return Location{file_, 0, 0};
  return at(node.Mark());
}

void Doc::error(const Location& where, std::string field, std::string message) const {
  errors_.push_back(
      ConfigError{where.file, where.line, where.column, std::move(field), std::move(message)});
}

std::string Doc::resolve(const std::string& path) const {
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  const auto dir = std::filesystem::path(file_).parent_path();
  if (dir.empty()) return path;
  return (dir / p).lexically_normal().string();
}

std::string join(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string element(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string describe_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t limit) {
  if (a.size() < b.size()) std::swap(a, b);  // the row follows the shorter string
  if (a.size() - b.size() >= limit) return limit;
  // Known keys are short: their row fits on the stack.
  std::array<std::size_t, 64> small;
  std::vector<std::size_t> large;
  std::size_t* row = small.data();
  if (b.size() + 1 > small.size()) {
    large.resize(b.size() + 1);
    row = large.data();
  }
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    std::size_t row_min = row[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      row_min = std::min(row_min, row[j]);
      diag = up;
    }
    // Every path to the last cell crosses this row: no smaller result follows.
    if (row_min >= limit) return limit;
  }
  return std::min(row[b.size()], limit);
}

MapReader::MapReader(const Doc& doc, const YAML::Node& node, std::string path,
                     std::initializer_list<const char*> known_keys)
    : doc_(doc), node_(node), path_(std::move(path)) {
  if (!node.IsMap()) {
    std::string keys;
    for (const char* k : known_keys) keys += std::string(keys.empty() ? "" : ", ") + k;
    doc.error(node, path_, "expected a mapping with keys " + keys + ", got " + describe_kind(node));
    return;
  }
  ok_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key_node = it->first;
    const std::string key = key_node.IsScalar() ? key_node.Scalar() : std::string();
    const std::string field = join(path_, key);
    if (!key_node.IsScalar()) {
      doc.error(key_node, path_, "keys must be plain words, got " + describe_kind(key_node));
      continue;
    }
    const bool known =
        std::any_of(known_keys.begin(), known_keys.end(), [&](const char* k) { return key == k; });
    if (!known) {
      std::string best;
      std::size_t best_distance = 3;  // suggest only near misses
      for (const char* k : known_keys) {
        const std::size_t d = edit_distance(key, k, best_distance);
        if (d < best_distance) {
          best_distance = d;
          best = k;
        }
      }
      std::string message = "unknown key '" + key + "'";
      if (!best.empty()) {
        message += "; did you mean '" + best + "'?";
      } else {
        std::string keys;
        for (const char* k : known_keys) keys += std::string(keys.empty() ? "" : ", ") + k;
        message += "; known keys here: " + keys;
      }
      doc.error(key_node, field, message);
      continue;
    }
    if (const Entry* first = find(key)) {
      doc.error(key_node, field,
                "key '" + key + "' appears twice (first at " + doc.at(first->key_node).to_string() +
                    "); remove one");
      continue;
    }
    entries_.push_back(Entry{key, key_node, it->second});
  }
}

const MapReader::Entry* MapReader::find(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

YAML::Node MapReader::get(std::string_view key) const {
  const Entry* e = find(key);
  if (e == nullptr || e->value.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return e->value;
}

YAML::Node MapReader::require(std::string_view key) const {
  if (!ok_) return YAML::Node(YAML::NodeType::Undefined);
  const Entry* e = find(key);
  if (e == nullptr) {
    doc_.error(node_, path(key), "required field is missing");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  if (e->value.IsNull()) {
    doc_.error(e->key_node, path(key), "required field has no value");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return e->value;
}

std::optional<std::string> read_string(const Doc& doc, const YAML::Node& node,
                                       const std::string& path, const char* hint) {
  if (!node.IsScalar()) {
    doc.error(node, path,
              "expected a string, got " + describe_kind(node) + (hint != nullptr ? hint : ""));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::int64_t> read_int(const Doc& doc, const YAML::Node& node,
                                     const std::string& path, const char* noun, std::int64_t min,
                                     std::int64_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!node.IsScalar()) {
    doc.error(node, path, "expected an integer " + range + ", got " + describe_kind(node));
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  std::string_view digits(text);
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  std::int64_t value = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    doc.error(node, path, "expected an integer " + range + ", got '" + text + "'");
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    doc.error(node, path, std::string(noun) + " " + text + " is out of range (" + range + ")");
    return std::nullopt;
  }
  return value;
}

std::optional<bool> read_bool(const Doc& doc, const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) {
    std::string v = node.Scalar();
    std::transform(v.begin(), v.end(), v.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  doc.error(node, path, "expected true or false, got " + describe_kind(node));
  return std::nullopt;
}

bool expect_list(const Doc& doc, const YAML::Node& node, const std::string& path,
                 const char* example) {
  if (node.IsSequence()) return true;
  std::string got = describe_kind(node);
  if (node.IsScalar()) got = "a single value " + got;
  doc.error(node, path, "expected a list like " + std::string(example) + ", got " + got);
  return false;
}

std::optional<std::string> read_text_file(const Doc& doc, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(doc.file(), ec)) {
    doc.error(Location{doc.file(), 0, 0}, "",
              std::string("cannot read ") + what + ": it is a directory");
    return std::nullopt;
  }
  std::ifstream in(doc.file(), std::ios::binary);
  if (!in) {
    doc.error(Location{doc.file(), 0, 0}, "",
              std::string("cannot read ") + what + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    doc.error(Location{doc.file(), 0, 0}, "",
              std::string("cannot read ") + what + ": " + std::strerror(errno));
    return std::nullopt;
  }
  return std::move(text).str();
}

std::optional<YAML::Node> parse_document(const Doc& doc, const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    doc.error(doc.at(e.mark), "", "YAML syntax error: " + e.msg);
  }
  return std::nullopt;
}

}  // namespace wghub::config::detail
