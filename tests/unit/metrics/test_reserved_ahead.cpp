// control/reserved_ahead.hpp: the metrics builder's storage is reserved a
// pass ahead on a helper thread; the caller reserves only when the helper's
// vector is not ready or is too small, and counts those.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "control/reserved_ahead.hpp"

namespace wghub::ctl {
namespace {

struct Entry {
  char bytes[192];  // a MetricsPeer's size
};

TEST(ReservedAhead, SecondTakeUsesTheHelpersVector) {
  ReservedAhead<Entry> r;
  constexpr std::size_t n = 100'000;
  std::vector<Entry> first = r.take(n);
  EXPECT_GE(first.capacity(), n);
  EXPECT_TRUE(first.empty());
  EXPECT_EQ(r.reserved_inline(), 1u);  // nothing was ahead yet
  r.wait();
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<Entry> next = r.take(n + n / 32);  // grew less than 1/16
    EXPECT_GE(next.capacity(), n + n / 16) << "pass " << pass;
    EXPECT_TRUE(next.empty());
    EXPECT_EQ(r.reserved_inline(), 1u) << "pass " << pass;
    r.wait();
  }
}

TEST(ReservedAhead, GrowthPastTheMarginIsReservedInlineAndCounted) {
  ReservedAhead<Entry> r;
  (void)r.take(10'000);
  r.wait();
  std::vector<Entry> v = r.take(20'000);  // the helper's 10,625 is too small
  EXPECT_GE(v.capacity(), 20'000u);
  EXPECT_EQ(r.reserved_inline(), 2u);
  // Its next one was started for 20,000.
  r.wait();
  EXPECT_GE(r.take(20'000).capacity(), 20'000u);
  EXPECT_EQ(r.reserved_inline(), 2u);
}

TEST(ReservedAhead, SmallTakesStartNoHelperAndCountNothing) {
  ReservedAhead<Entry> r;
  for (std::size_t n : {0u, 1u, 100u, 4095u}) {
    std::vector<Entry> v = r.take(n);
    EXPECT_GE(v.capacity(), n);
    r.wait();
  }
  EXPECT_EQ(r.reserved_inline(), 0u);
}

}  // namespace
}  // namespace wghub::ctl
