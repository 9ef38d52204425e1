// Replay protection for transport data messages: the sliding bitmap window of
// RFC 6479, sized and bounded exactly as the Linux kernel's WireGuard
// (drivers/net/wireguard/receive.c counter_validate, noise.h constants).
//
// One window per receiving keypair. Not thread-safe itself: a keypair's
// packets can reach any worker (RSS spreads one peer's flows over queues), so
// callers hold the keypair's rx lock (Keypair::rx_lock) around
// check_and_update(); no atomics in here. Call it only after the packet
// authenticated (whitepaper 5.4.6: the counter is checked after decryption,
// so forged packets cannot move the window).
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/messages.hpp"  // kRejectAfterMessages

namespace wghub::dp {

// RFC 6479 bitmap: 8192 bits in 128 words; one word is always being recycled, so
// the usable window behind the greatest counter is 8192 - 64 = 8128 (noise.h
// COUNTER_BITS_TOTAL and COUNTER_WINDOW_SIZE).
inline constexpr unsigned kCounterBitsTotal = 8192;
inline constexpr unsigned kCounterBitsPerWord = 64;
inline constexpr unsigned kCounterWindowSize = kCounterBitsTotal - kCounterBitsPerWord;

class ReplayWindow {
 public:
  ReplayWindow() { reset(); }

  // Forget every counter seen; used when a fresh keypair takes this slot.
  void reset();

  // True when `counter` is new and inside the window, and records it; false for a
  // replay, a counter too far behind the greatest one seen, or one at/after
  // `limit` (the key-exhaustion bound; tests may pass a smaller one).
  bool check_and_update(uint64_t counter, uint64_t limit = kRejectAfterMessages);

  // Greatest counter accepted plus one; 0 before any packet (kernel semantics).
  uint64_t next_expected() const { return next_; }

  // Starts loading what check_and_update(counter) reads: next_ and the
  // counter's bitmap word (1 KiB of bitmap is 16 cache lines; with
  // thousands of sessions both would miss, one after the other).
  void prefetch(uint64_t counter) const {
    __builtin_prefetch(&next_, 1);
    __builtin_prefetch(&bitmap_[((counter + 1) / kCounterBitsPerWord) % kWords], 1);
  }

 private:
  static constexpr unsigned kWords = kCounterBitsTotal / kCounterBitsPerWord;

  // First, so it shares a line with the keypair's rx lock.
  uint64_t next_;
  // Bit (n+1) % 8192 is set once counter n was accepted. Counters are shifted by
  // one so that 0 can mean "nothing received yet", as in the kernel.
  std::array<uint64_t, kWords> bitmap_;
};

}  // namespace wghub::dp
