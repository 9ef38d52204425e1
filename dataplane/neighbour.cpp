// The neighbour table's writer side (control thread), for both families. See
// neighbour.hpp for the sequence lock these functions keep.
#include "dataplane/neighbour.hpp"

#include <bit>

namespace wghub::dp {

template <typename Family>
NeighbourTableOf<Family>::NeighbourTableOf(NeighbourTiming timing, std::size_t capacity)
    : mask_(std::bit_ceil(capacity < 8 ? std::size_t{8} : capacity) - 1),
      timing_(timing),
      slots_(new Slot[mask_ + 1]),
      meta_(mask_ + 1) {}

template <typename Family>
void NeighbourTableOf<Family>::write_slot(std::size_t i, std::uint64_t hi, std::uint64_t lo,
                                          std::uint64_t mac) {
  Slot& s = slots_[i];
  const std::uint64_t seq = s.seq.load(std::memory_order_relaxed);
  s.seq.store(seq + 1, std::memory_order_relaxed);
  // Release: a reader that sees any of these also sees the odd seq above.
  s.hi.store(hi, std::memory_order_release);
  s.lo.store(lo, std::memory_order_release);
  s.mac.store(mac, std::memory_order_release);
  s.seq.store(seq + 2, std::memory_order_release);
}

template <typename Family>
bool NeighbourTableOf<Family>::is_empty(std::size_t i) const {
  const Slot& s = slots_[i];
  return s.hi.load(std::memory_order_relaxed) == 0 && s.lo.load(std::memory_order_relaxed) == 0 &&
         (s.mac.load(std::memory_order_relaxed) & kTombstoneBit) == 0;
}

template <typename Family>
bool NeighbourTableOf<Family>::is_tombstone(std::size_t i) const {
  return (slots_[i].mac.load(std::memory_order_relaxed) & kTombstoneBit) != 0;
}

template <typename Family>
std::optional<std::size_t> NeighbourTableOf<Family>::find(const Address& ip) const {
  const Key k = key_of(ip);
  std::size_t i = home(k.hi, k.lo);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    if (is_empty(i)) return std::nullopt;
    if (!is_tombstone(i) && slots_[i].hi.load(std::memory_order_relaxed) == k.hi &&
        slots_[i].lo.load(std::memory_order_relaxed) == k.lo)
      return i;
  }
  return std::nullopt;
}

template <typename Family>
std::optional<std::size_t> NeighbourTableOf<Family>::insert(const Address& ip, std::uint64_t now) {
  const Key k = key_of(ip);
  if ((k.hi == 0 && k.lo == 0) || live_ >= max_entries()) return std::nullopt;
  std::size_t i = home(k.hi, k.lo);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    const bool tomb = is_tombstone(i);
    if (!tomb && !is_empty(i)) continue;
    write_slot(i, k.hi, k.lo, 0);  // the key, no MAC yet
    if (tomb) --tombstones_;
    ++live_;
    ++incomplete_;
    meta_[i] = Entry{ip, NeighbourState::kIncomplete, {}, 0, now, 0};
    return i;
  }
  return std::nullopt;
}

template <typename Family>
void NeighbourTableOf<Family>::erase(std::size_t i) {
  // The key stays (probe chains run on through the tombstone); the MAC goes
  // in the same seqlocked write, so no reader matches the old key with a MAC.
  write_slot(i, slots_[i].hi.load(std::memory_order_relaxed),
             slots_[i].lo.load(std::memory_order_relaxed), kTombstoneBit);
  if (meta_[i].state == NeighbourState::kIncomplete) --incomplete_;
  meta_[i] = Entry{};
  --live_;
  ++tombstones_;
  // A tombstone followed by an empty slot ends every probe chain through it:
  // make it empty, and walk back while that keeps holding.
  std::size_t j = i;
  for (std::size_t n = 0; n <= mask_; ++n) {
    if (!is_tombstone(j) || !is_empty((j + 1) & mask_)) break;
    write_slot(j, 0, 0, 0);
    --tombstones_;
    j = (j - 1) & mask_;
  }
  if (tombstones_ > (mask_ + 1) / 8 || (live_ == 0 && tombstones_ > 0)) compact();
}

template <typename Family>
void NeighbourTableOf<Family>::compact() {
  // A tombstone is needed only while some live entry's probe path (from its
  // home slot to where it sits) runs through it. Every other tombstone can
  // become empty without any reader missing a live entry. Entries never move.
  std::vector<bool> needed(mask_ + 1, false);
  for (std::size_t i = 0; i <= mask_; ++i) {
    if (is_empty(i) || is_tombstone(i)) continue;
    for (std::size_t j = home(slots_[i].hi.load(std::memory_order_relaxed),
                              slots_[i].lo.load(std::memory_order_relaxed));
         j != i; j = (j + 1) & mask_)
      needed[j] = true;
  }
  for (std::size_t j = 0; j <= mask_; ++j) {
    if (!is_tombstone(j) || needed[j]) continue;
    write_slot(j, 0, 0, 0);
    --tombstones_;
  }
}

template <typename Family>
bool NeighbourTableOf<Family>::update(const Address& ip, const rte_ether_addr& mac,
                                      std::uint64_t now) {
  std::optional<std::size_t> i = find(ip);
  if (!i) i = insert(ip, now);
  if (!i) return false;
  Entry& e = meta_[*i];
  if (e.state == NeighbourState::kIncomplete) --incomplete_;
  if (e.state != NeighbourState::kResolved || !rte_is_same_ether_addr(&e.mac, &mac)) {
    std::uint64_t word = kValidBit;
    for (int b = 0; b < RTE_ETHER_ADDR_LEN; ++b)
      word |= std::uint64_t{mac.addr_bytes[b]} << (8 * b);
    write_slot(*i, slots_[*i].hi.load(std::memory_order_relaxed),
               slots_[*i].lo.load(std::memory_order_relaxed), word);
  }
  e.state = NeighbourState::kResolved;
  e.mac = mac;
  e.updated_at = now;
  e.tries = 0;
  return true;
}

template <typename Family>
bool NeighbourTableOf<Family>::needs_request(const Address& ip, std::uint64_t now) {
  const std::optional<std::size_t> found = find(ip);
  if (!found) {
    // A stranger can make us resolve many addresses (a site sending to
    // every host of the LAN): incomplete entries get a quarter of the
    // table, so real neighbours always find room.
    if (incomplete_ >= max_incomplete()) {
      ++incomplete_refused_;
      return false;
    }
    const std::optional<std::size_t> i = insert(ip, now);
    if (!i) return false;
    meta_[*i].tries = 1;
    meta_[*i].asked_at = now;
    return true;
  }
  Entry& e = meta_[*found];
  if (e.state != NeighbourState::kIncomplete) return false;
  // now < asked_at (a caller with an older clock reading) counts as "just asked".
  if (e.tries >= timing_.max_tries || now < e.asked_at || now - e.asked_at < timing_.retry_interval)
    return false;
  ++e.tries;
  e.asked_at = now;
  return true;
}

template <typename Family>
auto NeighbourTableOf<Family>::expire(std::uint64_t now) -> std::vector<Address> {
  std::vector<Address> ask;
  for (std::size_t i = 0; i <= mask_; ++i) {
    Entry& e = meta_[i];
    if (e.state == NeighbourState::kFree) continue;
    if (e.state == NeighbourState::kResolved && now - e.updated_at < timing_.reachable) continue;
    // Stale or incomplete: ask (again) every retry_interval, give up after
    // max_tries unanswered requests. A stale entry's MAC stays in use while
    // it is being re-resolved.
    const bool first_ask = e.state == NeighbourState::kResolved && e.tries == 0;
    if (!first_ask && now - e.asked_at < timing_.retry_interval) continue;
    if (e.tries >= timing_.max_tries) {
      erase(i);
      continue;
    }
    ++e.tries;
    e.asked_at = now;
    ask.push_back(e.ip);
  }
  return ask;
}

template <typename Family>
bool NeighbourTableOf<Family>::remove(const Address& ip) {
  const std::optional<std::size_t> i = find(ip);
  if (!i) return false;
  erase(*i);
  return true;
}

template <typename Family>
bool NeighbourTableOf<Family>::contains(const Address& ip) const {
  return find(ip).has_value();
}

template <typename Family>
auto NeighbourTableOf<Family>::entry(const Address& ip) const -> std::optional<Entry> {
  const std::optional<std::size_t> i = find(ip);
  if (!i) return std::nullopt;
  return meta_[*i];
}

template <typename Family>
auto NeighbourTableOf<Family>::entries() const -> std::vector<Entry> {
  std::vector<Entry> out;
  out.reserve(live_);
  for (const Entry& e : meta_)
    if (e.state != NeighbourState::kFree) out.push_back(e);
  return out;
}

template class NeighbourTableOf<Inet4>;
template class NeighbourTableOf<Inet6>;

}  // namespace wghub::dp
