// The IPv6 neighbour table's writer side (control thread). See neighbour6.hpp
// for the seqlock protocol; the aging rules are those of neighbour.cpp.
#include "dataplane/neighbour6.hpp"

#include <bit>

namespace wghub::dp {

Neighbour6Table::Neighbour6Table(NeighbourTiming timing, std::size_t capacity)
    : mask_(std::bit_ceil(capacity < 8 ? std::size_t{8} : capacity) - 1),
      timing_(timing),
      slots_(new Slot[mask_ + 1]),
      meta_(mask_ + 1) {}

void Neighbour6Table::write_slot(std::size_t i, std::uint64_t hi, std::uint64_t lo,
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

bool Neighbour6Table::is_empty(std::size_t i) const {
  const Slot& s = slots_[i];
  return s.hi.load(std::memory_order_relaxed) == 0 && s.lo.load(std::memory_order_relaxed) == 0 &&
         (s.mac.load(std::memory_order_relaxed) & kTombstoneBit) == 0;
}

bool Neighbour6Table::is_tombstone(std::size_t i) const {
  return (slots_[i].mac.load(std::memory_order_relaxed) & kTombstoneBit) != 0;
}

std::optional<std::size_t> Neighbour6Table::find(const Ipv6Bytes& ip) const {
  std::uint64_t hi, lo;
  split(ip, hi, lo);
  std::size_t i = home(hi, lo);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    if (is_empty(i)) return std::nullopt;
    if (!is_tombstone(i) && slots_[i].hi.load(std::memory_order_relaxed) == hi &&
        slots_[i].lo.load(std::memory_order_relaxed) == lo)
      return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> Neighbour6Table::insert(const Ipv6Bytes& ip, std::uint64_t now) {
  std::uint64_t hi, lo;
  split(ip, hi, lo);
  if ((hi == 0 && lo == 0) || live_ >= max_entries()) return std::nullopt;
  std::size_t i = home(hi, lo);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    const bool tomb = is_tombstone(i);
    if (!tomb && !is_empty(i)) continue;
    write_slot(i, hi, lo, 0);  // the key, no MAC yet
    if (tomb) --tombstones_;
    ++live_;
    ++incomplete_;
    meta_[i] = Neighbour6Entry{ip, NeighbourState::kIncomplete, {}, 0, now, 0};
    return i;
  }
  return std::nullopt;
}

void Neighbour6Table::erase(std::size_t i) {
  write_slot(i, slots_[i].hi.load(std::memory_order_relaxed),
             slots_[i].lo.load(std::memory_order_relaxed), kTombstoneBit);
  if (meta_[i].state == NeighbourState::kIncomplete) --incomplete_;
  meta_[i] = Neighbour6Entry{};
  --live_;
  ++tombstones_;
  // A tombstone followed by an empty slot ends every probe chain through it.
  std::size_t j = i;
  for (std::size_t n = 0; n <= mask_; ++n) {
    if (!is_tombstone(j) || !is_empty((j + 1) & mask_)) break;
    write_slot(j, 0, 0, 0);
    --tombstones_;
    j = (j - 1) & mask_;
  }
  if (tombstones_ > (mask_ + 1) / 8 || (live_ == 0 && tombstones_ > 0)) compact();
}

void Neighbour6Table::compact() {
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

bool Neighbour6Table::update(const Ipv6Bytes& ip, const rte_ether_addr& mac, std::uint64_t now) {
  std::optional<std::size_t> i = find(ip);
  if (!i) i = insert(ip, now);
  if (!i) return false;
  Neighbour6Entry& e = meta_[*i];
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

bool Neighbour6Table::needs_request(const Ipv6Bytes& ip, std::uint64_t now) {
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
  Neighbour6Entry& e = meta_[*found];
  if (e.state != NeighbourState::kIncomplete) return false;
  if (e.tries >= timing_.max_tries || now < e.asked_at || now - e.asked_at < timing_.retry_interval)
    return false;
  ++e.tries;
  e.asked_at = now;
  return true;
}

std::vector<Ipv6Bytes> Neighbour6Table::expire(std::uint64_t now) {
  std::vector<Ipv6Bytes> ask;
  for (std::size_t i = 0; i <= mask_; ++i) {
    Neighbour6Entry& e = meta_[i];
    if (e.state == NeighbourState::kFree) continue;
    if (e.state == NeighbourState::kResolved && now - e.updated_at < timing_.reachable) continue;
    // RFC 4861 7.3.3: a STALE entry stays usable while it is re-probed.
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

bool Neighbour6Table::remove(const Ipv6Bytes& ip) {
  const std::optional<std::size_t> i = find(ip);
  if (!i) return false;
  erase(*i);
  return true;
}

bool Neighbour6Table::contains(const Ipv6Bytes& ip) const {
  return find(ip).has_value();
}

std::optional<Neighbour6Entry> Neighbour6Table::entry(const Ipv6Bytes& ip) const {
  const std::optional<std::size_t> i = find(ip);
  if (!i) return std::nullopt;
  return meta_[*i];
}

std::vector<Neighbour6Entry> Neighbour6Table::entries() const {
  std::vector<Neighbour6Entry> out;
  out.reserve(live_);
  for (const Neighbour6Entry& e : meta_)
    if (e.state != NeighbourState::kFree) out.push_back(e);
  return out;
}

}  // namespace wghub::dp
