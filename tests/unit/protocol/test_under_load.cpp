// "Under load" on a fake clock: entered when the unproven handshake ring is
// past 1/8, held a second, and held on while the workers keep answering a
// flood with cookies even though the ring itself stays empty.
#include <gtest/gtest.h>

#include "control/under_load.hpp"

namespace wghub::ctl {
namespace {

constexpr unsigned kCapacity = 4096;  // mark: 512
TimePoint at_ms(int ms) {
  return TimePoint{} + std::chrono::milliseconds(ms);
}

TEST(UnderLoad, EnteredPastTheMarkAndLeftAfterAQuietSecond) {
  UnderLoad load;
  EXPECT_EQ(load.update(512, kCapacity, 0, at_ms(0)), UnderLoad::Change::kNone);
  EXPECT_FALSE(load.active());
  EXPECT_EQ(load.update(513, kCapacity, 0, at_ms(10)), UnderLoad::Change::kEntered);
  EXPECT_TRUE(load.active());
  EXPECT_EQ(load.update(600, kCapacity, 0, at_ms(20)), UnderLoad::Change::kNone);
  // Drained, but the hold runs from the last time the ring was past the mark.
  EXPECT_EQ(load.update(0, kCapacity, 100, at_ms(900)), UnderLoad::Change::kNone);
  EXPECT_TRUE(load.active());
  EXPECT_EQ(load.update(0, kCapacity, 100, at_ms(1020)), UnderLoad::Change::kLeft);
  EXPECT_FALSE(load.active());
}

TEST(UnderLoad, StaysWhileTheWorkersAnswerAFlood) {
  UnderLoad load;
  ASSERT_EQ(load.update(1000, kCapacity, 0, at_ms(0)), UnderLoad::Change::kEntered);
  // The workers answer 50,000 a second: the ring stays empty.
  std::uint64_t answered = 0;
  for (int ms = 100; ms <= 5000; ms += 100) {
    answered += 5000;
    EXPECT_EQ(load.update(0, kCapacity, answered, at_ms(ms)), UnderLoad::Change::kNone) << ms;
    EXPECT_TRUE(load.active()) << ms;
  }
  // The flood stops: a second later (from the last hold), the hub leaves.
  EXPECT_EQ(load.update(0, kCapacity, answered, at_ms(5900)), UnderLoad::Change::kNone);
  EXPECT_EQ(load.update(0, kCapacity, answered + 10, at_ms(6100)), UnderLoad::Change::kLeft);
}

}  // namespace
}  // namespace wghub::ctl
