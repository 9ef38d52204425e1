// The neighbour table's writer side (control thread). See neighbour.hpp for
// the single-writer / wait-free-reader protocol these functions keep.
#include "dataplane/neighbour.hpp"

#include <bit>

namespace wghub::dp {

NeighbourTable::NeighbourTable(NeighbourTiming timing, std::size_t capacity)
    : mask_(std::bit_ceil(capacity < 8 ? std::size_t{8} : capacity) - 1),
      timing_(timing),
      slots_(new Slot[mask_ + 1]),
      meta_(mask_ + 1),
      generation_(mask_ + 1, 0) {}

std::optional<std::size_t> NeighbourTable::find(std::uint32_t ip_be) const {
  std::size_t i = home(ip_be);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    const std::uint64_t key = slots_[i].key.load(std::memory_order_relaxed);
    if (key == kEmptyKey) return std::nullopt;
    if (!key_is_tombstone(key) && static_cast<std::uint32_t>(key) == ip_be) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> NeighbourTable::insert(std::uint32_t ip_be, std::uint64_t now) {
  if (ip_be == 0 || live_ >= max_entries()) return std::nullopt;
  std::size_t i = home(ip_be);
  for (std::size_t n = 0; n <= mask_; ++n, i = (i + 1) & mask_) {
    const std::uint64_t key = slots_[i].key.load(std::memory_order_relaxed);
    if (key != kEmptyKey && !key_is_tombstone(key)) continue;
    std::uint32_t gen = (generation_[i] + 1) & 0x7fffffff;
    if (gen == 0) gen = 1;
    generation_[i] = gen;
    // MAC word first (invalid, new generation), then the key: a reader that
    // sees the key finds either this invalid word or the published MAC.
    slots_[i].mac.store(std::uint64_t{gen & 0x7fff} << 48, std::memory_order_release);
    slots_[i].key.store(std::uint64_t{ip_be} | std::uint64_t{gen} << 32, std::memory_order_release);
    if (key_is_tombstone(key)) --tombstones_;
    ++live_;
    ++incomplete_;
    meta_[i] = NeighbourEntry{ip_be, NeighbourState::kIncomplete, {}, 0, now, 0};
    return i;
  }
  return std::nullopt;
}

void NeighbourTable::publish_mac(std::size_t i, const rte_ether_addr& mac) {
  const std::uint64_t key = slots_[i].key.load(std::memory_order_relaxed);
  std::uint64_t word = kValidBit | key_generation_low(key) << 48;
  for (int b = 0; b < RTE_ETHER_ADDR_LEN; ++b) word |= std::uint64_t{mac.addr_bytes[b]} << (8 * b);
  slots_[i].mac.store(word, std::memory_order_release);
}

void NeighbourTable::erase(std::size_t i) {
  // Invalidate the MAC before the key turns into a tombstone: a reader that
  // still matched the old key sees no MAC.
  slots_[i].mac.store(0, std::memory_order_release);
  slots_[i].key.store(slots_[i].key.load(std::memory_order_relaxed) | kTombstoneBit,
                      std::memory_order_release);
  if (meta_[i].state == NeighbourState::kIncomplete) --incomplete_;
  meta_[i] = NeighbourEntry{};
  --live_;
  ++tombstones_;
  // A tombstone followed by an empty slot ends every probe chain through it:
  // make it empty, and walk back while that keeps holding.
  std::size_t j = i;
  for (std::size_t n = 0; n <= mask_; ++n) {
    const std::uint64_t key = slots_[j].key.load(std::memory_order_relaxed);
    const std::uint64_t next = slots_[(j + 1) & mask_].key.load(std::memory_order_relaxed);
    if (!key_is_tombstone(key) || next != kEmptyKey) break;
    slots_[j].key.store(kEmptyKey, std::memory_order_release);
    --tombstones_;
    j = (j - 1) & mask_;
  }
  if (tombstones_ > (mask_ + 1) / 8 || (live_ == 0 && tombstones_ > 0)) compact();
}

void NeighbourTable::compact() {
  // A tombstone is needed only while some live entry's probe path (from its
  // home slot to where it sits) runs through it. Every other tombstone can
  // become empty without any reader missing a live entry. Entries never move.
  std::vector<bool> needed(mask_ + 1, false);
  for (std::size_t i = 0; i <= mask_; ++i) {
    const std::uint64_t key = slots_[i].key.load(std::memory_order_relaxed);
    if (key == kEmptyKey || key_is_tombstone(key)) continue;
    for (std::size_t j = home(static_cast<std::uint32_t>(key)); j != i; j = (j + 1) & mask_)
      needed[j] = true;
  }
  for (std::size_t j = 0; j <= mask_; ++j) {
    const std::uint64_t key = slots_[j].key.load(std::memory_order_relaxed);
    if (!key_is_tombstone(key) || needed[j]) continue;
    slots_[j].key.store(kEmptyKey, std::memory_order_release);
    --tombstones_;
  }
}

bool NeighbourTable::update(std::uint32_t ip_be, const rte_ether_addr& mac, std::uint64_t now) {
  std::optional<std::size_t> i = find(ip_be);
  if (!i) i = insert(ip_be, now);
  if (!i) return false;
  NeighbourEntry& e = meta_[*i];
  if (e.state == NeighbourState::kIncomplete) --incomplete_;
  if (e.state != NeighbourState::kResolved || !rte_is_same_ether_addr(&e.mac, &mac)) {
    publish_mac(*i, mac);
  }
  e.state = NeighbourState::kResolved;
  e.mac = mac;
  e.updated_at = now;
  e.tries = 0;
  return true;
}

bool NeighbourTable::needs_request(std::uint32_t ip_be, std::uint64_t now) {
  const std::optional<std::size_t> found = find(ip_be);
  if (!found) {
    // A stranger can make us resolve many addresses (a site sending to
    // every host of the LAN): incomplete entries get a quarter of the
    // table, so real neighbours always find room.
    if (incomplete_ >= max_incomplete()) {
      ++incomplete_refused_;
      return false;
    }
    const std::optional<std::size_t> i = insert(ip_be, now);
    if (!i) return false;
    meta_[*i].tries = 1;
    meta_[*i].asked_at = now;
    return true;
  }
  NeighbourEntry& e = meta_[*found];
  if (e.state != NeighbourState::kIncomplete) return false;
  // now < asked_at (a caller with an older clock reading) counts as "just asked".
  if (e.tries >= timing_.max_tries || now < e.asked_at || now - e.asked_at < timing_.retry_interval)
    return false;
  ++e.tries;
  e.asked_at = now;
  return true;
}

std::vector<std::uint32_t> NeighbourTable::expire(std::uint64_t now) {
  std::vector<std::uint32_t> ask;
  for (std::size_t i = 0; i <= mask_; ++i) {
    NeighbourEntry& e = meta_[i];
    if (e.state == NeighbourState::kFree) continue;
    if (e.state == NeighbourState::kResolved && now - e.updated_at < timing_.reachable) continue;
    // Stale or incomplete: ask (again) every retry_interval, give up after
    // max_tries unanswered requests. A stale entry's MAC stays in use while
    // it is being re-resolved (RFC 1122 2.3.2.1 allows either).
    const bool first_ask = e.state == NeighbourState::kResolved && e.tries == 0;
    if (!first_ask && now - e.asked_at < timing_.retry_interval) continue;
    if (e.tries >= timing_.max_tries) {
      erase(i);
      continue;
    }
    ++e.tries;
    e.asked_at = now;
    ask.push_back(e.ip_be);
  }
  return ask;
}

bool NeighbourTable::remove(std::uint32_t ip_be) {
  const std::optional<std::size_t> i = find(ip_be);
  if (!i) return false;
  erase(*i);
  return true;
}

bool NeighbourTable::contains(std::uint32_t ip_be) const {
  return find(ip_be).has_value();
}

std::optional<NeighbourEntry> NeighbourTable::entry(std::uint32_t ip_be) const {
  const std::optional<std::size_t> i = find(ip_be);
  if (!i) return std::nullopt;
  return meta_[*i];
}

std::vector<NeighbourEntry> NeighbourTable::entries() const {
  std::vector<NeighbourEntry> out;
  out.reserve(live_);
  for (const NeighbourEntry& e : meta_)
    if (e.state != NeighbourState::kFree) out.push_back(e);
  return out;
}

}  // namespace wghub::dp
