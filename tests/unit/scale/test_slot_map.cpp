// SlotMap, the device's peers by slot: what the control path relies on from
// the std::map it replaced (order, find, lower_bound resuming a slice, erase
// while others stay put, references stable until their own erase).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "control/slot_map.hpp"

namespace wghub::ctl {
namespace {

std::vector<std::pair<std::uint32_t, std::string>> contents(const SlotMap<std::string>& m) {
  std::vector<std::pair<std::uint32_t, std::string>> out;
  for (const auto& [slot, value] : m) out.emplace_back(slot, value);
  return out;
}

TEST(SlotMap, IteratesInSlotOrderSkippingHoles) {
  SlotMap<std::string> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.begin(), m.end());
  m[7] = "g";
  m[2] = "b";
  m[40] = "x";
  EXPECT_EQ(m.size(), 3u);
  using V = std::vector<std::pair<std::uint32_t, std::string>>;
  EXPECT_EQ(contents(m), (V{{2, "b"}, {7, "g"}, {40, "x"}}));
  EXPECT_EQ(m.erase(7), 1u);
  EXPECT_EQ(m.erase(7), 0u);
  EXPECT_EQ(m.erase(1000), 0u);
  EXPECT_EQ(contents(m), (V{{2, "b"}, {40, "x"}}));
  EXPECT_EQ(m.size(), 2u);
}

TEST(SlotMap, FindAtAndOperatorIndex) {
  SlotMap<int> m;
  EXPECT_EQ(m.find(0), m.end());
  EXPECT_EQ(m[5], 0) << "value-initialised, as std::map::operator[]";
  EXPECT_EQ(m.size(), 1u);
  m[5] = 9;
  auto it = m.find(5);
  ASSERT_NE(it, m.end());
  EXPECT_EQ(it->first, 5u);
  EXPECT_EQ(it->second, 9);
  EXPECT_EQ(m.at(5), 9);
  EXPECT_THROW(m.at(4), std::out_of_range);
  EXPECT_THROW(m.at(6), std::out_of_range);
  EXPECT_TRUE(m.contains(5));
  EXPECT_FALSE(m.contains(4));
  const SlotMap<int>& c = m;
  EXPECT_EQ(c.find(5)->second, 9);
  EXPECT_EQ(c.find(3), c.end());
}

// The timer, metrics and wg(8) passes resume at a slot: lower_bound gives
// the first entry there or after, and end() past the last.
TEST(SlotMap, LowerBoundResumesAPass) {
  SlotMap<int> m;
  for (std::uint32_t s : {1u, 4u, 5u, 9u}) m[s] = static_cast<int>(s) * 10;
  EXPECT_EQ(m.lower_bound(0)->first, 1u);
  EXPECT_EQ(m.lower_bound(2)->first, 4u);
  EXPECT_EQ(m.lower_bound(5)->first, 5u);
  EXPECT_EQ(m.lower_bound(6)->first, 9u);
  EXPECT_EQ(m.lower_bound(10), m.end());
  EXPECT_EQ(m.lower_bound(1u << 30), m.end());
  // A slice of two, then the rest, as tick_slice walks them.
  std::vector<std::uint32_t> seen;
  std::uint32_t cursor = 0;
  for (;;) {
    auto it = m.lower_bound(cursor);
    for (int n = 0; it != m.end() && n < 2; ++it, ++n) seen.push_back(it->first);
    if (it == m.end()) break;
    cursor = it->first;
  }
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{1, 4, 5, 9}));
}

TEST(SlotMap, ReferencesSurviveOtherInsertsAndErases) {
  SlotMap<std::string> m;
  std::string& kept = m[3];
  kept = "kept";
  for (std::uint32_t s = 4; s < 5000; ++s) m[s] = std::to_string(s);  // the array grows
  for (std::uint32_t s = 4; s < 5000; s += 2) m.erase(s);
  EXPECT_EQ(&kept, &m.at(3));
  EXPECT_EQ(kept, "kept");
  EXPECT_EQ(m.size(), 1u + 2498u);
  // A slot used again starts from a fresh value.
  m[4] = "new";
  EXPECT_EQ(m.at(4), "new");
  m.erase(4);
  EXPECT_EQ(m[4], "");
}

// slice_by_slot, the shape of the timer, metrics and wg(8) passes: slices
// resume where the last stopped, only counted entries use up the limit, an
// entry removed or added behind the cursor meanwhile is not met twice, and
// a spent budget ends a slice at the next look (every 64 entries).
TEST(SlotMap, SlicesResumeBySlotAndCountWhatTheVisitCounts) {
  SlotMap<int> m;
  for (std::uint32_t s = 0; s < 10; ++s) m[s] = static_cast<int>(s);
  std::uint32_t cursor = 0;
  std::vector<std::uint32_t> seen;
  // Odd slots are skipped (not counted): a slice of 2 counted visits 0, 1, 2.
  auto visit = [&](std::uint32_t slot, int&) {
    seen.push_back(slot);
    return slot % 2 == 0;
  };
  EXPECT_FALSE(slice_by_slot(m, cursor, 2, visit));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(cursor, 3u);
  m.erase(4);  // ahead of the cursor: not met
  m[1] = 1;    // behind it: not met again
  EXPECT_FALSE(slice_by_slot(m, cursor, 2, visit));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 1, 2, 3, 5, 6, 7, 8}));
  EXPECT_EQ(cursor, 9u);
  EXPECT_TRUE(slice_by_slot(m, cursor, 100, visit));
  EXPECT_EQ(seen.back(), 9u);
  EXPECT_EQ(cursor, 0u) << "a finished pass starts again at slot 0";
}

TEST(SlotMap, ASpentBudgetEndsASliceAtTheNextLook) {
  SlotMap<int> m;
  for (std::uint32_t s = 0; s < 1000; ++s) m[s] = 0;
  std::uint32_t cursor = 0;
  std::size_t visited = 0;
  auto visit = [&](std::uint32_t, int&) {
    ++visited;
    return true;
  };
  EXPECT_FALSE(slice_by_slot(m, cursor, 1000, visit, std::chrono::nanoseconds(0)));
  EXPECT_EQ(visited, 63u) << "the clock is read before the 64th entry";
  EXPECT_EQ(cursor, 63u);
  EXPECT_TRUE(slice_by_slot(m, cursor, 1000, visit));  // untimed: to the end
  EXPECT_EQ(visited, 1000u);
}

}  // namespace
}  // namespace wghub::ctl
