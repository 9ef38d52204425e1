// When the control thread's next pass over the peers may start. Passes
// (timers, metrics snapshots) are O(peers) and run in slices between
// handshakes; at 2^20 peers one takes seconds, so a fixed period alone
// would have them fill the thread.
#pragma once

#include <algorithm>
#include <chrono>

namespace wghub::ctl {

using PaceClock = std::chrono::steady_clock;

// For a pass that started at `start` and ended at `end`: `interval` after
// its start, or as long after its end as it took, whichever is later (the
// pass takes at most half the thread's time).
inline PaceClock::time_point paced_next(PaceClock::time_point start, PaceClock::time_point end,
                                        std::chrono::nanoseconds interval) {
  return std::max(start + interval, end + (end - start));
}

// As paced_next, for a pass whose slices took `busy` of the thread in all
// (the rest of its time the thread did other work between them): the next
// starts `interval` after its start, or `idle_per_busy` times `busy` after its
// end, whichever is later, so the passes take at most 1 / (1 + idle_per_busy)
// of the thread.
inline PaceClock::time_point duty_paced_next(PaceClock::time_point start, PaceClock::time_point end,
                                             std::chrono::nanoseconds busy,
                                             std::chrono::nanoseconds interval,
                                             unsigned idle_per_busy) {
  return std::max(start + interval, end + busy * idle_per_busy);
}

}  // namespace wghub::ctl
