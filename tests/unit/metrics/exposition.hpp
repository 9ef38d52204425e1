// A strict reader of the Prometheus text format (0.0.4) for the tests: the
// exporter writes the per-peer families itself, so the tests read what a
// scrape returns, not an intermediate structure. check_exposition.py parses
// the same text with prometheus_client as a second, independent reader.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace wghub::ctl::testing {

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in written order, unescaped
  double value = 0;
};

struct Family {
  std::string name, help, type;
  std::vector<Sample> samples;
};

// The families of `text`, in order. Sets `error` (line number and why) and
// stops at the first line that breaks the format: a sample outside its
// family's HELP/TYPE block, a bad escape, a missing value, a family twice.
inline std::vector<Family> parse_exposition(const std::string& text, std::string& error) {
  std::vector<Family> out;
  std::size_t pos = 0;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    error = "line " + std::to_string(line_no) + ": " + why;
    return out;
  };
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) return fail("no line feed at the end");
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.starts_with("# HELP ")) {
      const std::size_t sp = line.find(' ', 7);
      if (sp == std::string::npos) return fail("HELP without text");
      const std::string name = line.substr(7, sp - 7);
      for (const Family& f : out)
        if (f.name == name) return fail("family " + name + " twice");
      out.push_back({name, line.substr(sp + 1), "", {}});
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::size_t sp = line.find(' ', 7);
      if (out.empty() || sp == std::string::npos || line.substr(7, sp - 7) != out.back().name)
        return fail("TYPE without its HELP");
      out.back().type = line.substr(sp + 1);
      continue;
    }
    if (line.empty() || line[0] == '#') return fail("unexpected line '" + line + "'");
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    if (out.empty() || (s.name != out.back().name && !s.name.starts_with(out.back().name + "_")))
      return fail("sample " + s.name + " outside its family");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key, value;
        while (i < line.size() && line[i] != '=') key += line[i++];
        if (line.compare(i, 2, "=\"") != 0) return fail("label " + key + " without =\"");
        i += 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (++i == line.size()) return fail("escape at the end");
            const char c = line[i];
            if (c != '\\' && c != '"' && c != 'n') return fail("bad escape");
            value += c == 'n' ? '\n' : c;
          } else {
            value += line[i];
          }
          ++i;
        }
        if (i == line.size()) return fail("unterminated label value");
        ++i;  // the closing quote
        s.labels.emplace_back(std::move(key), std::move(value));
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i == line.size()) return fail("unterminated label set");
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return fail("no value");
    const std::string number = line.substr(i + 1);
    char* stop = nullptr;
    s.value = std::strtod(number.c_str(), &stop);
    if (number.empty() || *stop != '\0') return fail("bad value '" + number + "'");
    out.back().samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace wghub::ctl::testing
