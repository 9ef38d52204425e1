// A token bucket on a caller-supplied clock (TSC cycles on a worker, any
// counter in tests): `per_second` tokens a second, at most `burst` banked,
// full at the start. It limits the ICMP errors a worker originates (Linux:
// icmp_ratelimit / icmp_msgs_per_sec, a token bucket too). One owner, no
// atomics: each worker keeps its own.
#pragma once

#include <algorithm>
#include <cstdint>

namespace wghub::dp {

class TokenBucket {
 public:
  TokenBucket() = default;
  // `hz`: clock ticks per second. per_second == 0 never refills (a fixed
  // allowance of `burst`, which tests use to count exactly).
  TokenBucket(std::uint64_t per_second, std::uint64_t burst, std::uint64_t hz)
      : ticks_per_token_(per_second == 0 ? 0 : std::max<std::uint64_t>(1, hz / per_second)),
        burst_(burst),
        tokens_(burst) {}

  // Takes one token at time `now` (never earlier than a previous call's).
  // False when the bucket is empty.
  bool take(std::uint64_t now) {
    if (!started_) {
      started_ = true;
      last_ = now;
    }
    if (ticks_per_token_ != 0 && now > last_) {
      const std::uint64_t earned = (now - last_) / ticks_per_token_;
      if (earned > 0) {
        tokens_ = std::min(burst_, tokens_ + std::min(earned, burst_));
        last_ += earned * ticks_per_token_;
      }
      if (tokens_ == burst_) last_ = now;  // a full bucket banks no time
    }
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }

  std::uint64_t tokens() const { return tokens_; }

 private:
  std::uint64_t ticks_per_token_ = 0;
  std::uint64_t burst_ = 0;
  std::uint64_t tokens_ = 0;
  std::uint64_t last_ = 0;
  bool started_ = false;
};

}  // namespace wghub::dp
