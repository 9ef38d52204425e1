// The control plane's notion of time. Protocol logic never reads a clock
// itself: callers pass `now` in, so tests drive it with a simulated clock and
// the hub with steady_clock (monotonic, like the kernel's boottime clock).
#pragma once

#include <chrono>

namespace wghub::ctl {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

}  // namespace wghub::ctl
