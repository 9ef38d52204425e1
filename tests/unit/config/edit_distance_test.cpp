// edit_distance, which the loader uses to suggest the key an operator meant:
// known values, and the bounded form against the plain one on random strings
// (the bound must never change an answer below it).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "config/yaml_reader.hpp"

namespace wghub::config::detail {
namespace {

TEST(EditDistance, KnownValues) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("peers", ""), 5u);
  EXPECT_EQ(edit_distance("", "peers"), 5u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("sitting", "kitten"), 3u);
  EXPECT_EQ(edit_distance("listen_prot", "listen_port"), 2u);
  EXPECT_EQ(edit_distance("allowed_ip", "allowed_ips"), 1u);
  EXPECT_EQ(edit_distance("peers", "peers"), 0u);
}

TEST(EditDistance, LimitStopsEarlyWithoutChangingSmallerAnswers) {
  EXPECT_EQ(edit_distance(std::string(100000, 'x'), "peers", 3), 3u);  // length difference
  EXPECT_EQ(edit_distance("zzzzz", "peers", 3), 3u);                   // row minimum
  EXPECT_EQ(edit_distance("peer", "peers", 3), 1u);
  std::mt19937 rng(7);
  const std::string alphabet = "abc_";
  auto random_string = [&](std::size_t max_len) {
    std::string s(rng() % (max_len + 1), 'a');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int i = 0; i < 20000; ++i) {
    // Every other pair is long enough that the row no longer fits on the stack.
    const std::size_t max_len = i % 2 == 0 ? 12 : 90;
    const std::string a = random_string(max_len);
    const std::string b = random_string(max_len);
    const std::size_t limit = rng() % (max_len + 4);
    ASSERT_EQ(edit_distance(a, b, limit), std::min(edit_distance(a, b), limit))
        << "'" << a << "' '" << b << "' limit " << limit;
  }
}

}  // namespace
}  // namespace wghub::config::detail
