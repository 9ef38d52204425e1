// See tool_args.hpp.
#include "perf/common/tool_args.hpp"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <type_traits>

namespace wghub::tools {

namespace {

// The whole text as a number of T, in range; false otherwise.
template <typename T>
bool parse_number(const std::string& text, T& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  if constexpr (std::is_floating_point_v<T>) {
    const double v = std::strtod(text.c_str(), &end);
    if (errno != 0 || *end != '\0') return false;
    out = v;
  } else if constexpr (std::is_signed_v<T>) {
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < std::numeric_limits<T>::min() ||
        v > std::numeric_limits<T>::max())
      return false;
    out = static_cast<T>(v);
  } else {
    if (text[0] == '-') return false;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(v);
  }
  return true;
}

}  // namespace

ToolArgs::ToolArgs(std::string tool, std::function<void(std::FILE*)> usage)
    : tool_(std::move(tool)), usage_(std::move(usage)) {}

ToolArgs& ToolArgs::add(const std::string& name, bool takes_value,
                        std::function<bool(const std::string&)> set) {
  specs_.push_back({name, takes_value, std::move(set)});
  return *this;
}

ToolArgs& ToolArgs::option(const std::string& name, std::string& out) {
  return add(name, true, [&out](const std::string& v) {
    out = v;
    return true;
  });
}
ToolArgs& ToolArgs::option(const std::string& name, double& out) {
  return add(name, true, [&out](const std::string& v) { return parse_number(v, out); });
}
ToolArgs& ToolArgs::option(const std::string& name, int& out) {
  return add(name, true, [&out](const std::string& v) { return parse_number(v, out); });
}
ToolArgs& ToolArgs::option(const std::string& name, unsigned& out) {
  return add(name, true, [&out](const std::string& v) { return parse_number(v, out); });
}
ToolArgs& ToolArgs::option(const std::string& name, std::uint64_t& out) {
  return add(name, true, [&out](const std::string& v) { return parse_number(v, out); });
}
ToolArgs& ToolArgs::option(const std::string& name, std::optional<unsigned>& out) {
  return add(name, true, [&out](const std::string& v) {
    unsigned n = 0;
    if (!parse_number(v, n)) return false;
    out = n;
    return true;
  });
}
ToolArgs& ToolArgs::flag(const std::string& name, bool& out) {
  return add(name, false, [&out](const std::string&) {
    out = true;
    return true;
  });
}

bool ToolArgs::parse(int argc, char** argv) const {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage_(stdout);
      std::exit(0);
    }
    const Spec* spec = nullptr;
    for (const Spec& s : specs_)
      if (s.name == arg) spec = &s;
    if (spec == nullptr) {
      std::fprintf(stderr, "%s: unknown option '%s' (see --help)\n", tool_.c_str(), arg.c_str());
      return false;
    }
    if (!spec->takes_value) {
      spec->set({});
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s needs a value\n", tool_.c_str(), arg.c_str());
      return false;
    }
    const std::string value = argv[++i];
    if (!spec->set(value)) {
      std::fprintf(stderr, "%s: bad value '%s' for %s\n", tool_.c_str(), value.c_str(),
                   arg.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace wghub::tools
