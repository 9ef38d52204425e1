// RFC 6479 anti-replay window, following the kernel's counter_validate
// (drivers/net/wireguard/receive.c) step for step so that its selftest table
// (selftest/counter.c) holds for us unchanged.
#include "dataplane/replay_window.hpp"

#include <algorithm>

namespace wghub::dp {

void ReplayWindow::reset() {
  bitmap_.fill(0);
  next_ = 0;
}

bool ReplayWindow::check_and_update(uint64_t counter, uint64_t limit) {
  // Once the limit was reached (or the sender claims to be past it) the keypair
  // is spent; whitepaper 6.1 Reject-After-Messages.
  if (next_ >= limit + 1 || counter >= limit) return false;

  // Work in the shifted space (counter + 1) so that next_ == 0 means empty.
  const uint64_t shifted = counter + 1;

  // Too old: further behind the greatest counter than the window reaches.
  if (kCounterWindowSize + shifted < next_) return false;

  const uint64_t word = shifted / kCounterBitsPerWord;
  if (shifted > next_) {
    // RFC 6479 section 3: moving forward clears the words between the old top
    // and the new one (at most the whole ring), rather than shifting bits.
    const uint64_t current_word = next_ / kCounterBitsPerWord;
    const uint64_t advance = std::min<uint64_t>(word - current_word, kWords);
    for (uint64_t i = 1; i <= advance; ++i) bitmap_[(current_word + i) % kWords] = 0;
    next_ = shifted;
  }

  uint64_t& slot = bitmap_[word % kWords];
  const uint64_t bit = uint64_t{1} << (shifted % kCounterBitsPerWord);
  if (slot & bit) return false;  // replay
  slot |= bit;
  return true;
}

}  // namespace wghub::dp
