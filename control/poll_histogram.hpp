// How long the control thread's polls take: every packet queued for it
// (handshakes, keepalives, ARP, the wg(8) socket) waits through at most one
// poll, so the long ones are the stalls an operator and a benchmark want to
// see. Control thread only; the metrics snapshot copies it (a few words).
// Exported as the histogram wghub_control_poll_seconds and the gauge
// wghub_control_poll_longest_seconds (docs/metrics.md).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace wghub::ctl {

struct PollHistogram {
  // Upper bounds in seconds, Prometheus `le` (the last bucket, +Inf, is implied).
  static constexpr std::array<double, 10> kBounds = {0.0005, 0.001, 0.002, 0.005, 0.01,
                                                     0.02,   0.05,  0.1,   0.5,   1.0};

  void observe(std::chrono::nanoseconds d) {
    const double s = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    ++counts[i];
    ++count;
    sum_seconds += s;
    longest_seconds = std::max(longest_seconds, s);
  }
  // Polls that took longer than `seconds` (one of kBounds).
  std::uint64_t above(double seconds) const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i)
      if (kBounds[i] > seconds) n += counts[i];
    return n + counts[kBounds.size()];
  }

  std::array<std::uint64_t, kBounds.size() + 1> counts{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sum_seconds = 0;
  double longest_seconds = 0;  // since the hub started
};

}  // namespace wghub::ctl
