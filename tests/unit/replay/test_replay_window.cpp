// Replay window against the Linux kernel's selftest
// (drivers/net/wireguard/selftest/counter.c): its numbered table, in order, with
// the same inputs and expected results, then its bulk fills of the window.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "dataplane/replay_window.hpp"

namespace wghub::dp {
namespace {

constexpr uint64_t kLim = kCounterWindowSize + 1;  // counter.c T_LIM
constexpr uint64_t kRam = kRejectAfterMessages;

TEST(ReplayWindow, SpecConstants) {
  EXPECT_EQ(kCounterBitsTotal, 8192u);
  EXPECT_EQ(kCounterWindowSize, 8128u);
  // 2^64 - 2^13 - 1
  EXPECT_EQ(kRejectAfterMessages, UINT64_C(18446744073709543423));
  // Compact: the 128-word bitmap plus the greatest counter, nothing else.
  EXPECT_EQ(sizeof(ReplayWindow), 128 * sizeof(uint64_t) + sizeof(uint64_t));
}

struct Case {
  int number;
  uint64_t counter;
  bool accepted;
};

// counter.c, cases 1..34, one window for the whole sequence.
const Case kKernelTable[] = {
    {1, 0, true},
    {2, 1, true},
    {3, 1, false},
    {4, 9, true},
    {5, 8, true},
    {6, 7, true},
    {7, 7, false},
    {8, kLim, true},
    {9, kLim - 1, true},
    {10, kLim - 1, false},
    {11, kLim - 2, true},
    {12, 2, true},
    {13, 2, false},
    {14, kLim + 16, true},
    {15, 3, false},
    {16, kLim + 16, false},
    {17, kLim * 4, true},
    {18, kLim * 4 - (kLim - 1), true},
    {19, 10, false},
    {20, kLim * 4 - kLim, false},
    {21, kLim * 4 - (kLim + 1), false},
    {22, kLim * 4 - (kLim - 2), true},
    {23, kLim * 4 + 1 - kLim, false},
    {24, 0, false},
    {25, kRam, false},
    {26, kRam - 1, true},
    {27, kRam, false},
    {28, kRam - 1, false},
    {29, kRam - 2, true},
    {30, kRam + 1, false},
    {31, kRam + 2, false},
    {32, kRam - 2, false},
    {33, kRam - 3, true},
    {34, 0, false},
};

TEST(ReplayWindow, KernelNumberedTable) {
  ReplayWindow w;
  int expected_number = 1;
  for (const Case& c : kKernelTable) {
    ASSERT_EQ(c.number, expected_number++) << "table out of order";
    EXPECT_EQ(w.check_and_update(c.counter), c.accepted)
        << "kernel counter self-test " << c.number << " (counter " << c.counter << ")";
  }
  EXPECT_EQ(expected_number, 35);
}

// Runs the counters through a fresh window; each must be accepted.
void expect_all_accepted(ReplayWindow& w, const std::vector<uint64_t>& counters) {
  for (uint64_t c : counters) ASSERT_TRUE(w.check_and_update(c)) << "counter " << c;
}

std::vector<uint64_t> ascending(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

std::vector<uint64_t> descending(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t i = first + 1; i-- > last;) v.push_back(i);
  return v;
}

// counter.c bulk block 1: 1..WINDOW forward, then 0 is still inside the window.
TEST(ReplayWindow, BulkForwardFromOneThenZero) {
  ReplayWindow w;
  expect_all_accepted(w, ascending(1, kCounterWindowSize));
  EXPECT_TRUE(w.check_and_update(0));
  EXPECT_FALSE(w.check_and_update(0));
}

// Block 2: 2..WINDOW+1 forward; 1 is just inside, 0 just outside.
TEST(ReplayWindow, BulkForwardFromTwoThenOneAndZero) {
  ReplayWindow w;
  expect_all_accepted(w, ascending(2, kCounterWindowSize + 1));
  EXPECT_TRUE(w.check_and_update(1));
  EXPECT_FALSE(w.check_and_update(0));
}

// Block 3: WINDOW..0 backward, every one inside the window.
TEST(ReplayWindow, BulkBackwardToZero) {
  ReplayWindow w;
  expect_all_accepted(w, descending(kCounterWindowSize, 0));
}

// Block 4: WINDOW+1..1 backward; 0 is then out of the window.
TEST(ReplayWindow, BulkBackwardFromWindowPlusOneThenZero) {
  ReplayWindow w;
  expect_all_accepted(w, descending(kCounterWindowSize + 1, 1));
  EXPECT_FALSE(w.check_and_update(0));
}

// Block 5: WINDOW..1 backward, then WINDOW+1 moves the window past 0.
TEST(ReplayWindow, BulkBackwardThenAdvanceThenZero) {
  ReplayWindow w;
  expect_all_accepted(w, descending(kCounterWindowSize, 1));
  EXPECT_TRUE(w.check_and_update(kCounterWindowSize + 1));
  EXPECT_FALSE(w.check_and_update(0));
}

// Block 6: WINDOW..1 backward, 0 while still inside, then WINDOW+1.
TEST(ReplayWindow, BulkBackwardThenZeroThenAdvance) {
  ReplayWindow w;
  expect_all_accepted(w, descending(kCounterWindowSize, 1));
  EXPECT_TRUE(w.check_and_update(0));
  EXPECT_TRUE(w.check_and_update(kCounterWindowSize + 1));
}

// Not from the kernel: reset() gives a window that accepts old counters again.
TEST(ReplayWindow, ResetForgetsEverything) {
  ReplayWindow w;
  EXPECT_TRUE(w.check_and_update(kLim * 4));
  EXPECT_FALSE(w.check_and_update(0));
  w.reset();
  EXPECT_EQ(w.next_expected(), 0u);
  EXPECT_TRUE(w.check_and_update(0));
  EXPECT_EQ(w.next_expected(), 1u);
}

// Not from the kernel: a smaller limit bounds the window the same way.
TEST(ReplayWindow, CustomLimit) {
  ReplayWindow w;
  EXPECT_TRUE(w.check_and_update(98, 100));
  EXPECT_TRUE(w.check_and_update(99, 100));
  EXPECT_FALSE(w.check_and_update(100, 100));
  EXPECT_TRUE(w.check_and_update(97, 100));
}

}  // namespace
}  // namespace wghub::dp
