// control/pacing.hpp: when the control thread's next pass over the peers
// may start, so that O(peers) passes leave it time at 2^20 peers.
#include "control/pacing.hpp"

#include <gtest/gtest.h>

namespace wghub::ctl {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const PaceClock::time_point t0{seconds(1000)};

TEST(Pacing, AShortPassRepeatsAtItsInterval) {
  EXPECT_EQ(paced_next(t0, t0 + milliseconds(30), milliseconds(100)), t0 + milliseconds(100));
  // Slices of 20 ms in all over a 300 ms pass: the next a second after its start.
  EXPECT_EQ(duty_paced_next(t0, t0 + milliseconds(300), milliseconds(20), seconds(1), 9),
            t0 + seconds(1));
}

TEST(Pacing, ALongPassWaitsAsLongAsItTook) {
  // A timer pass of 2 s (2^20 peers, each serviced): half the thread at most.
  EXPECT_EQ(paced_next(t0, t0 + seconds(2), milliseconds(100)), t0 + seconds(4));
}

TEST(Pacing, ABusyPassLeavesNineTimesItsWorkIdle) {
  // A metrics pass at 2^20 peers: its slices took 1.5 s of a 3 s pass.
  const auto end = t0 + seconds(3);
  const auto next = duty_paced_next(t0, end, milliseconds(1500), seconds(1), 9);
  EXPECT_EQ(next, end + milliseconds(13500));
  // Over a cycle the slices are a tenth of the thread's time at most.
  const double share = 1.5 / std::chrono::duration<double>(next - t0).count();
  EXPECT_LE(share, 0.1);
}

}  // namespace
}  // namespace wghub::ctl
