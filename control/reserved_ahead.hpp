// Vectors reserved a step ahead, on a helper thread. The hub runs under
// mlockall(MCL_CURRENT | MCL_FUTURE) (crypto::harden_process_memory), so a
// large reserve() populates and locks every page on the spot: 2^20 metrics
// entries of 192 bytes took ~100 ms of page faults, 10^5 ~10 ms (measured;
// ~5 and 0.3 ms without mlockall). For a thread that answers handshakes,
// take() hands out storage reserved while the caller did other work, and
// starts reserving the next one, 1/16 larger to allow for growth.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <vector>

namespace wghub::ctl {

template <typename T>
class ReservedAhead {
 public:
  // Below this the caller's own reserve costs microseconds: no thread.
  static constexpr std::size_t kAheadFrom = 4096;

  // An empty vector with capacity for at least n. From the helper when its
  // vector is ready and large enough, otherwise reserved here (counted).
  std::vector<T> take(std::size_t n) {
    std::vector<T> v;
    if (next_.valid() && next_.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
      v = next_.get();
    if (v.capacity() < n) {
      v = std::vector<T>();  // one grown past the 1/16 margin: rare
      v.reserve(n);
      reserved_inline_ += n >= kAheadFrom ? 1 : 0;
    }
    // A pending one is left to finish: destroying a std::async future waits.
    if (!next_.valid() && n >= kAheadFrom)
      next_ = std::async(std::launch::async, [m = n + n / 16] {
        std::vector<T> next;
        next.reserve(m);
        return next;
      });
    return v;
  }

  // Large takes (kAheadFrom or more) that the caller had to reserve itself.
  std::uint64_t reserved_inline() const { return reserved_inline_; }
  // Waits for the helper's vector (tests).
  void wait() const {
    if (next_.valid()) next_.wait();
  }

 private:
  std::future<std::vector<T>> next_;
  std::uint64_t reserved_inline_ = 0;
};

}  // namespace wghub::ctl
