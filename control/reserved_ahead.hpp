// Vectors reserved ahead, on a helper thread. This was made when the hub ran
// under mlockall(MCL_CURRENT | MCL_FUTURE): a large reserve() populated and
// locked every page on the spot (2^20 metrics entries of 192 bytes: ~100 ms).
// The hub now locks pages as they are first touched (MCL_ONFAULT,
// crypto::harden_process_memory), so a reserve only maps; the helper still
// keeps that mmap, which takes the address space's lock for writing, off the
// thread that answers handshakes. take() hands out storage a helper reserved,
// and starts reserving the next, 1/16 larger to allow for growth. When none
// is ready, or the ready one is too small, take() says so and the caller
// tries again on a later poll; the caller never reserves (nor frees) a large
// vector.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <optional>
#include <vector>

#include "control/cpu_affinity.hpp"

namespace wghub::ctl {

template <typename T>
class ReservedAhead {
 public:
  // Below this the caller's own reserve costs microseconds: no helper.
  static constexpr std::size_t kAheadFrom = 4096;

  // An empty vector with capacity for at least n, or nullopt while a helper
  // reserves one (ask again later).
  std::optional<std::vector<T>> take(std::size_t n) {
    if (n < kAheadFrom) {
      std::vector<T> v;
      v.reserve(n);
      return v;
    }
    if (!next_.valid()) {
      start(n, {});
      ++not_ready_;
      return std::nullopt;
    }
    if (next_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++not_ready_;
      return std::nullopt;
    }
    std::vector<T> v = next_.get();
    if (v.capacity() < n) {  // grown past the 1/16: the helper frees it
      start(n, std::move(v));
      ++not_ready_;
      return std::nullopt;
    }
    start(n, {});
    return v;
  }

  // Takes that found no vector ready (each costs the caller one poll).
  std::uint64_t not_ready() const { return not_ready_; }
  // Waits for the helper's vector (tests).
  void wait() const {
    if (next_.valid()) next_.wait();
  }

 private:
  void start(std::size_t n, std::vector<T> old) {
    next_ = std::async(std::launch::async, [m = n + n / 16, old = std::move(old)]() mutable {
      lower_this_thread();  // below the control thread (cpu_affinity.hpp)
      old = std::vector<T>();
      std::vector<T> next;
      next.reserve(m);
      return next;
    });
  }

  std::future<std::vector<T>> next_;
  std::uint64_t not_ready_ = 0;
};

}  // namespace wghub::ctl
