// control/reserved_ahead.hpp: the metrics builder's storage is reserved
// ahead on a helper thread; the caller never reserves a large vector: with
// none ready, or the ready one too small, it is told to ask again.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <thread>
#include <vector>

#include "control/reserved_ahead.hpp"

namespace wghub::ctl {
namespace {

struct Entry {
  char bytes[192];  // a MetricsPeer's size
};

TEST(ReservedAhead, FirstTakeStartsTheHelperThenEachTakeGetsItsVector) {
  ReservedAhead<Entry> r;
  constexpr std::size_t n = 100'000;
  EXPECT_FALSE(r.take(n).has_value());  // nothing reserved yet
  EXPECT_EQ(r.not_ready(), 1u);
  r.wait();
  for (int pass = 0; pass < 3; ++pass) {
    std::optional<std::vector<Entry>> v = r.take(n + n / 32);  // grew less than 1/16
    ASSERT_TRUE(v.has_value()) << "pass " << pass;
    EXPECT_GE(v->capacity(), n + n / 16) << "pass " << pass;
    EXPECT_TRUE(v->empty());
    r.wait();
  }
  EXPECT_EQ(r.not_ready(), 1u);
}

TEST(ReservedAhead, GrowthPastTheMarginWaitsForALargerOne) {
  ReservedAhead<Entry> r;
  EXPECT_FALSE(r.take(10'000).has_value());
  r.wait();
  EXPECT_FALSE(r.take(20'000).has_value());  // the helper's 10,625 is too small
  EXPECT_EQ(r.not_ready(), 2u);
  r.wait();
  std::optional<std::vector<Entry>> v = r.take(20'000);
  ASSERT_TRUE(v.has_value());
  EXPECT_GE(v->capacity(), 20'000u);
}

TEST(ReservedAhead, SmallTakesAreReservedAtOnce) {
  ReservedAhead<Entry> r;
  for (std::size_t n : {0u, 1u, 100u, 4095u}) {
    std::optional<std::vector<Entry>> v = r.take(n);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(v->capacity(), n);
  }
  EXPECT_EQ(r.not_ready(), 0u);
}

// The helper (and every background thread: cpu_affinity.hpp) runs below the
// control thread; the caller's own priority is left alone.
TEST(ReservedAhead, HelperRunsAtTheBackgroundNiceValue) {
  const int mine = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  int helper = -100;
  std::thread([&] {
    EXPECT_TRUE(lower_this_thread());
    EXPECT_TRUE(lower_this_thread());  // once per thread; later calls are free
    helper = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  }).join();
  EXPECT_EQ(helper, std::max(mine, kBackgroundNice));
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), mine);
}

}  // namespace
}  // namespace wghub::ctl
