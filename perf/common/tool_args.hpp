// The command lines of the lab's stand-alone tools (streamgen, streamsink,
// initiation_flood, proto_peer): "--name value" options and "--flag"s bound
// to variables, -h/--help printing the tool's usage, and one message per
// mistake: an unknown option, a missing value, a value that is not a number
// of the option's type (all of it, in range), each naming the tool and the
// option. Range and combination checks stay with each tool.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wghub::tools {

class ToolArgs {
 public:
  // `usage` prints the tool's usage text to the stream it is given.
  ToolArgs(std::string tool, std::function<void(std::FILE*)> usage);

  ToolArgs& option(const std::string& name, std::string& out);
  ToolArgs& option(const std::string& name, double& out);
  ToolArgs& option(const std::string& name, int& out);
  ToolArgs& option(const std::string& name, unsigned& out);
  ToolArgs& option(const std::string& name, std::uint64_t& out);
  ToolArgs& option(const std::string& name, std::optional<unsigned>& out);  // set when given
  ToolArgs& flag(const std::string& name, bool& out);

  // False after printing what is wrong; -h/--help prints the usage to stdout
  // and exits 0.
  bool parse(int argc, char** argv) const;

 private:
  struct Spec {
    std::string name;
    bool takes_value;
    // Stores the value; false when it does not parse.
    std::function<bool(const std::string&)> set;
  };
  ToolArgs& add(const std::string& name, bool takes_value,
                std::function<bool(const std::string&)> set);

  std::string tool_;
  std::function<void(std::FILE*)> usage_;
  std::vector<Spec> specs_;
};

}  // namespace wghub::tools
