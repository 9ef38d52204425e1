// "Under load" (whitepaper 5.3; the kernel's receive.c: the handshake queue
// past 1/8 of its length). Decided from the depth of the ring of unproven
// handshake messages only: ARP, pings, staged packets and proven messages
// never count. Entered at once; left once the depth stayed at or below the
// mark for a second, so that a flood in pulses keeps the hub answering with
// cookies in between.
#pragma once

#include <chrono>

#include "control/clock.hpp"

namespace wghub::ctl {

class UnderLoad {
 public:
  // Kernel: once under load, stay so for at least a second.
  static constexpr auto kHold = std::chrono::seconds(1);

  enum class Change { kNone, kEntered, kLeft };

  Change update(unsigned depth, unsigned capacity, TimePoint now) {
    if (depth > capacity / 8) {
      until_ = now + kHold;
      if (active_) return Change::kNone;
      active_ = true;
      return Change::kEntered;
    }
    if (active_ && now >= until_) {
      active_ = false;
      return Change::kLeft;
    }
    return Change::kNone;
  }
  bool active() const { return active_; }

 private:
  bool active_ = false;
  TimePoint until_{};
};

}  // namespace wghub::ctl
