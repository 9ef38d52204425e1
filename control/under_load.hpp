// "Under load" (whitepaper 5.3; the kernel's receive.c: the handshake queue
// past 1/8 of its length). Decided from the ring of unproven handshake
// messages only: ARP, pings, staged packets and proven messages never count.
// Entered at once. Left once a hold of a second passed with the ring at or
// below the mark and the workers answering fewer than that many messages
// with cookies meanwhile: under a steady flood the workers keep the ring
// empty, and without that second rule the hub would leave, let a ring's
// worth of the flood through to X25519, and enter again, every second.
#pragma once

#include <chrono>
#include <cstdint>

#include "control/clock.hpp"

namespace wghub::ctl {

class UnderLoad {
 public:
  // Kernel: once under load, stay so for at least a second.
  static constexpr auto kHold = std::chrono::seconds(1);

  enum class Change { kNone, kEntered, kLeft };

  // `depth`/`capacity`: the unproven handshake ring; `answered`: cookie
  // replies the workers sent so far (a running total).
  Change update(unsigned depth, unsigned capacity, std::uint64_t answered, TimePoint now) {
    const unsigned mark = capacity / 8;
    if (depth > mark) {
      hold(answered, now);
      if (active_) return Change::kNone;
      active_ = true;
      return Change::kEntered;
    }
    if (!active_ || now < until_) return Change::kNone;
    if (answered - answered_at_hold_ > mark) {  // the flood goes on
      hold(answered, now);
      return Change::kNone;
    }
    active_ = false;
    return Change::kLeft;
  }
  bool active() const { return active_; }

 private:
  void hold(std::uint64_t answered, TimePoint now) {
    until_ = now + kHold;
    answered_at_hold_ = answered;
  }

  bool active_ = false;
  TimePoint until_{};
  std::uint64_t answered_at_hold_ = 0;
};

}  // namespace wghub::ctl
