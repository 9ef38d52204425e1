// ToolArgs, the command lines of the lab's tools (perf/common/tool_args.hpp):
// values of every type, flags, and each mistake refused with its message.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "perf/common/tool_args.hpp"

namespace wghub::tools {
namespace {

struct Parsed {
  std::string text = "default";
  double rate = 0;
  int count = 3;
  unsigned size = 64;
  std::uint64_t total = 0;
  std::optional<unsigned> id;
  bool verbose = false;
};

bool parse(std::vector<std::string> args, Parsed& p) {
  args.insert(args.begin(), "tool");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ToolArgs("tool", [](std::FILE*) {})
      .option("--text", p.text)
      .option("--rate", p.rate)
      .option("--count", p.count)
      .option("--size", p.size)
      .option("--total", p.total)
      .option("--id", p.id)
      .flag("--verbose", p.verbose)
      .parse(static_cast<int>(argv.size()), argv.data());
}

TEST(ToolArgs, ValuesAndFlags) {
  Parsed p;
  ASSERT_TRUE(parse({"--text", "a b", "--rate", "2.5", "--count", "-7", "--size", "1420", "--total",
                     "18446744073709551615", "--id", "9", "--verbose"},
                    p));
  EXPECT_EQ(p.text, "a b");
  EXPECT_DOUBLE_EQ(p.rate, 2.5);
  EXPECT_EQ(p.count, -7);
  EXPECT_EQ(p.size, 1420u);
  EXPECT_EQ(p.total, 18446744073709551615ull);
  EXPECT_EQ(p.id, 9u);
  EXPECT_TRUE(p.verbose);
}

TEST(ToolArgs, DefaultsStayWhenNotGiven) {
  Parsed p;
  ASSERT_TRUE(parse({}, p));
  EXPECT_EQ(p.text, "default");
  EXPECT_EQ(p.count, 3);
  EXPECT_FALSE(p.id.has_value());
  EXPECT_FALSE(p.verbose);
}

TEST(ToolArgs, MistakesAreRefused) {
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--bogus", "1"},           // unknown option
           {"--count"},                // no value
           {"--count", "12x"},         // not all of it a number
           {"--count", ""},            // empty
           {"--count", "9999999999"},  // out of an int's range
           {"--size", "-1"},           // negative for an unsigned
           {"--size", "4294967296"},   // out of range
           {"--rate", "fast"},         // not a number
           {"--id", "x"},              // optional, still checked
           {"extra"},                  // a stray argument
       }) {
    Parsed p;
    EXPECT_FALSE(parse(bad, p)) << bad[0] << (bad.size() > 1 ? " " + bad[1] : "");
  }
}

}  // namespace
}  // namespace wghub::tools
